"""`orchestrator simulate`: its flags, mapped onto the simulator's config, and serving until a
signal."""

import argparse
import logging
import re
import signal

import anyio

from orchestrator.cli.common import ExitCode, positive_float, positive_int, say, share
from orchestrator.simulator.settings import FAULT_KINDS, DelayRange, SimulatorConfig
from schemas.pricing import PriceTable

log = logging.getLogger("orchestrator")


def _delay(text: str) -> DelayRange:
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH seconds, got {text!r}") from exc
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected 0 <= LOW <= HIGH, got {text!r}")
    return DelayRange(low, high)


def _weights(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in filter(None, text.split(",")):
        kind, _, value = part.partition("=")
        if kind.rpartition(":")[2] not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})"
            )
        try:
            weights[kind] = float(value or 1)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"bad weight in {part!r}") from exc
    return weights


def own_domains(text: str) -> tuple[str, ...]:
    """`a.com,b.co.uk` as the simulator shows sites: `www.a.com`, `www.b.co.uk`."""
    found = []
    for part in text.split(","):
        name = part.strip().lower().removeprefix("https://").removeprefix("http://")
        name = name.split("/")[0].removeprefix("www.")
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", name):
            raise argparse.ArgumentTypeError(f"not a domain: {part.strip()!r} (a.com,b.co.uk)")
        found.append(f"www.{name}")
    return tuple(dict.fromkeys(found))


def add_simulate(p: argparse.ArgumentParser) -> None:
    d = SimulatorConfig()
    p.add_argument(
        "--domains",
        type=own_domains,
        default=d.domains,
        metavar="A,B",
        help="your own domains, put among the results of every market (a client's domain, "
        "to try `report --domain` offline)",
    )
    p.add_argument(
        "--extras-beyond-depth",
        action="store_true",
        help="maps and Bing/Yahoo/Baidu/Seznam organic: ads and other extras come on top of "
        "`depth` items (UNCERTAIN; by default an answer holds at most `depth` items)",
    )
    p.add_argument("--host", default=d.host, help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=d.port, help="port (0 picks a free one)")
    p.add_argument("--login", default=d.login)
    p.add_argument("--password", default=d.password)
    p.add_argument("--seed", type=int, default=d.seed, help="seed of results, delays and faults")
    p.add_argument(
        "--time-scale",
        type=positive_float,
        default=d.time_scale,
        help="simulated seconds per real second",
    )
    p.add_argument(
        "--calls-per-minute",
        type=positive_int,
        default=d.calls_per_minute,
        help="calls admitted per rate window (strict sliding window)",
    )
    p.add_argument(
        "--rate-period-s",
        type=positive_float,
        default=d.rate_period_s,
        help="length of the rate window in real seconds",
    )
    p.add_argument(
        "--tasks-ready-per-minute",
        type=positive_int,
        default=d.tasks_ready_per_minute,
        help="tasks_ready calls admitted per rate window",
    )
    p.add_argument(
        "--max-concurrency",
        type=positive_int,
        default=d.max_concurrency,
        help="simultaneous requests before 40209",
    )
    p.add_argument(
        "--fault-rate",
        type=share,
        default=d.fault_rate,
        help="share of admitted calls that get an injected transient fault",
    )
    p.add_argument(
        "--fault-kinds",
        type=_weights,
        default=None,
        metavar="KIND=W,...",
        help=f"fault kinds and weights (default: all equal): {', '.join(FAULT_KINDS)}; "
        "FUNCTION:KIND=W limits a kind to one function (task_post, id_list, ...)",
    )
    p.add_argument(
        "--slow-s",
        type=positive_float,
        default=d.slow_real_s,
        help="real seconds a 'slow' fault delays the answer",
    )
    p.add_argument(
        "--delay-normal-s",
        type=_delay,
        default=d.delay_normal,
        metavar="LOW:HIGH",
        help="completion delay of priority 1 tasks, simulated seconds",
    )
    p.add_argument(
        "--delay-high-s",
        type=_delay,
        default=d.delay_high,
        metavar="LOW:HIGH",
        help="completion delay of priority 2 tasks, simulated seconds",
    )
    p.add_argument(
        "--share-no-results", type=share, default=0.0, help="share of tasks ending in 40102"
    )
    p.add_argument("--share-se-error", type=share, default=0.0, help="share ending in 40101")
    p.add_argument("--share-failed", type=share, default=0.0, help="share ending in 40103")
    p.add_argument(
        "--share-fixed",
        type=share,
        default=0.0,
        help="share of completed tasks re-parsed later and listed by tasks_fixed",
    )
    p.add_argument(
        "--tasks-ready-lag-s",
        type=float,
        default=0.0,
        help="simulated seconds before a completed task is listed",
    )
    p.add_argument("--balance", type=float, default=d.balance_usd, help="account balance, USD")
    p.add_argument(
        "--price-base",
        type=positive_float,
        default=d.prices.base_usd,
        help="USD per standard task, first page, normal priority",
    )
    p.add_argument(
        "--limit-http-status",
        type=int,
        default=d.limit_http_status,
        help="HTTP status sent with 40202/40209 (UNCERTAIN in the docs; default 200)",
    )
    p.add_argument(
        "--empty-tasks-ready-null",
        action="store_true",
        help="answer an empty tasks_ready with result null instead of []",
    )
    p.add_argument(
        "--webhook-fail-rate",
        type=share,
        default=d.webhook_fail_rate,
        help="share of pingback/postback deliveries that fail as if the receiver were down",
    )
    p.add_argument(
        "--hold-webhooks",
        action="store_true",
        help='keep deliveries until POST /_sim/webhooks {"held": false} (benchmarks)',
    )
    p.add_argument(
        "--webhook-timeout-s",
        type=float,
        default=d.webhook_timeout_real_s,
        help="a delivery not answered within this many real seconds fails (the API: 10)",
    )
    p.add_argument(
        "--webhook-retries",
        type=int,
        default=d.webhook_retries,
        help="deliver a failed webhook again this many times (the API's behaviour is unclear)",
    )
    p.add_argument(
        "--webhook-retry-after-s",
        type=float,
        default=d.webhook_retry_after_s,
        help="simulated seconds between those deliveries",
    )
    p.add_argument(
        "--allow-external-webhooks",
        action="store_true",
        help="deliver pingbacks/postbacks to non-loopback hosts too",
    )


def simulator_config(args: argparse.Namespace) -> SimulatorConfig:
    """Map `simulate` flags onto the simulator's config struct."""
    d = SimulatorConfig()
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        login=args.login,
        password=args.password,
        seed=args.seed,
        time_scale=args.time_scale,
        calls_per_minute=args.calls_per_minute,
        rate_period_s=args.rate_period_s,
        tasks_ready_per_minute=args.tasks_ready_per_minute,
        max_concurrency=args.max_concurrency,
        fault_rate=args.fault_rate,
        fault_weights=args.fault_kinds if args.fault_kinds is not None else d.fault_weights,
        slow_real_s=args.slow_s,
        delay_normal=args.delay_normal_s,
        delay_high=args.delay_high_s,
        share_no_results=args.share_no_results,
        share_se_error=args.share_se_error,
        share_failed=args.share_failed,
        share_fixed=args.share_fixed,
        tasks_ready_lag_s=args.tasks_ready_lag_s,
        balance_usd=args.balance,
        prices=PriceTable(base_usd=args.price_base),
        limit_http_status=args.limit_http_status,
        empty_tasks_ready_null=args.empty_tasks_ready_null,
        allow_external_webhooks=args.allow_external_webhooks,
        webhook_fail_rate=args.webhook_fail_rate,
        hold_webhooks=args.hold_webhooks,
        webhook_timeout_real_s=args.webhook_timeout_s,
        webhook_retries=max(0, args.webhook_retries),
        webhook_retry_after_s=args.webhook_retry_after_s,
        domains=args.domains,
        extras_beyond_depth=args.extras_beyond_depth,
    )


async def run_simulator(config: SimulatorConfig) -> int:
    """Serve until SIGINT or SIGTERM; print where, never the password."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        from orchestrator.simulator.app import serve  # here: `run` needs none of it

        async with serve(config, port=config.port) as running:
            say(
                f"simulator listening on {running.url} (login {config.login!r}; "
                f"{config.calls_per_minute} calls per {config.rate_period_s:g} s; "
                f"time-scale {config.time_scale:g}; fault-rate {config.fault_rate:g})",
            )
            async for signum in signals:
                log.info("simulator_stopping signal=%s", signal.Signals(signum).name)
                say(f"stopping on {signal.Signals(signum).name}")
                return ExitCode.OK
    return ExitCode.OK


def command_simulate(args: argparse.Namespace) -> int:
    """`orchestrator simulate`: serve until stopped; a port that cannot be had is one line."""
    try:
        return anyio.run(run_simulator, simulator_config(args))
    except OSError as exc:
        reason = exc.strerror or exc
        say(
            f"orchestrator simulate: cannot listen on {args.host}:{args.port}: {reason}", error=True
        )
        return ExitCode.BAD_CONFIG
