"""The `orchestrator` command. Only this module prints, configures logging and picks exit codes.

Exit codes: 0 done; 1 anything unexpected; 2 bad arguments or configuration (argparse also
uses 2); 130/143 after SIGINT/SIGTERM for commands that are interrupted mid-work.
"""

import argparse
import csv
import enum
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import anyio

from orchestrator import report, report_html
from orchestrator.client import ApiClient
from orchestrator.config import Config, Credentials, credentials, load_config
from orchestrator.demo import prepare, run_demo
from orchestrator.errors import AccountError, ConfigError, InputError, LockHeld, OrchestratorError
from orchestrator.export import FORMATS, ExportError, export, find_job
from orchestrator.ledger import Ledger
from orchestrator.limiter import AccountLimiter
from orchestrator.periods import PeriodError, parse_key
from orchestrator.progress import Format, Mode, Progress
from orchestrator.run import Run, RunReport
from orchestrator.schedule import plan
from orchestrator.simulator.app import serve
from orchestrator.simulator.settings import FAULT_KINDS, DelayRange, SimulatorConfig
from orchestrator.status import read_status
from orchestrator.validate import dry_run, monthly_cost
from schemas.pricing import PriceTable

log = logging.getLogger("orchestrator")


class JsonLogFormatter(logging.Formatter):
    """Log records as one JSON object a line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return json.dumps(
            {
                "ts": stamp,
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


class ExitCode(enum.IntEnum):
    """Documented process exit codes."""

    OK = 0
    ERROR = 1
    BAD_CONFIG = 2
    ACCOUNT = 3
    LOCK_HELD = 75
    SIGINT = 130
    SIGTERM = 143


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
        if kind not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})"
            )
        try:
            weights[kind] = float(value or 1)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"bad weight in {part!r}") from exc
    return weights


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a value > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text}")
    return value


def _add_simulate(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = SimulatorConfig()
    p = commands.add_parser(
        "simulate", help="serve a local simulator of the DataForSEO v3 SERP API"
    )
    p.add_argument("--host", default=d.host, help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=d.port, help="port (0 picks a free one)")
    p.add_argument("--login", default=d.login)
    p.add_argument("--password", default=d.password)
    p.add_argument("--seed", type=int, default=d.seed, help="seed of results, delays and faults")
    p.add_argument(
        "--time-scale",
        type=_positive_float,
        default=d.time_scale,
        help="simulated seconds per real second",
    )
    p.add_argument(
        "--calls-per-minute",
        type=_positive_int,
        default=d.calls_per_minute,
        help="calls admitted per rate window (strict sliding window)",
    )
    p.add_argument(
        "--rate-period-s",
        type=_positive_float,
        default=d.rate_period_s,
        help="length of the rate window in real seconds",
    )
    p.add_argument(
        "--tasks-ready-per-minute",
        type=_positive_int,
        default=d.tasks_ready_per_minute,
        help="tasks_ready calls admitted per rate window",
    )
    p.add_argument(
        "--max-concurrency",
        type=_positive_int,
        default=d.max_concurrency,
        help="simultaneous requests before 40209",
    )
    p.add_argument(
        "--fault-rate",
        type=_share,
        default=d.fault_rate,
        help="share of admitted calls that get an injected transient fault",
    )
    p.add_argument(
        "--fault-kinds",
        type=_weights,
        default=None,
        metavar="KIND=W,...",
        help=f"fault kinds and weights (default: all equal): {', '.join(FAULT_KINDS)}",
    )
    p.add_argument(
        "--slow-s",
        type=_positive_float,
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
        "--share-no-results", type=_share, default=0.0, help="share of tasks ending in 40102"
    )
    p.add_argument("--share-se-error", type=_share, default=0.0, help="share ending in 40101")
    p.add_argument("--share-failed", type=_share, default=0.0, help="share ending in 40103")
    p.add_argument(
        "--tasks-ready-lag-s",
        type=float,
        default=0.0,
        help="simulated seconds before a completed task is listed",
    )
    p.add_argument("--balance", type=float, default=d.balance_usd, help="account balance, USD")
    p.add_argument(
        "--price-base",
        type=_positive_float,
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
        tasks_ready_lag_s=args.tasks_ready_lag_s,
        balance_usd=args.balance,
        prices=PriceTable(base_usd=args.price_base),
        limit_http_status=args.limit_http_status,
        empty_tasks_ready_null=args.empty_tasks_ready_null,
        allow_external_webhooks=args.allow_external_webhooks,
    )


async def run_simulator(config: SimulatorConfig) -> int:
    """Serve until SIGINT or SIGTERM; print where, never the password."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with serve(config, port=config.port) as running:
            _say(
                f"simulator listening on {running.url} (login {config.login!r}; "
                f"{config.calls_per_minute} calls per {config.rate_period_s:g} s; "
                f"time-scale {config.time_scale:g}; fault-rate {config.fault_rate:g})",
            )
            async for signum in signals:
                log.info("simulator_stopping signal=%s", signal.Signals(signum).name)
                _say(f"stopping on {signal.Signals(signum).name}")
                return ExitCode.OK
    return ExitCode.OK


def _say(text: str, *, error: bool = False) -> None:
    """The CLI's own output (the one place that prints)."""
    print(text, file=sys.stderr if error else sys.stdout, flush=True)


def _add_run(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("run", help="post and collect the tasks of a config")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument(
        "--max-runtime",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop cleanly after this long (the next run continues)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate config and inputs, print counts and estimated cost, post nothing",
    )
    p.add_argument(
        "--period",
        metavar="KEY",
        help="post this period's batch of the recurring jobs instead of the current one "
        "(2026-11-23T14, 2026-11-23, 2026-W48 or 2026-11, as the jobs' `every`)",
    )
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep running: post each period's batch when it begins, collect in between",
    )
    p.add_argument("--quiet", action="store_true", help="no progress and no summary")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="progress, summary and log lines as text or as JSON objects",
    )
    p.add_argument(
        "--progress-interval",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between progress lines when not on a terminal (default 60)",
    )


def _add_validate(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("validate", help="check config and inputs, estimate the cost")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument("--strict", action="store_true", help="exit 2 if any row is rejected")


def _add_status(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("status", help="what the ledger says (no API calls, no lock)")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")


def _add_export(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("export", help="a flat rankings table of a job's results")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--job", required=True, help="the job to export")
    p.add_argument("--format", choices=FORMATS, default="csv")
    p.add_argument("--out", required=True, help="file to write; - for standard output")
    p.add_argument("--types", help="only these item types, comma-separated (organic,paid)")
    p.add_argument("--period", metavar="KEY", help="only this period of a recurring job")
    p.add_argument("--since", metavar="KEY", help="only this period and later ones")


def _add_report(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("report", help="what moved between two periods of a recurring job")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--job", required=True, help="a recurring job")
    p.add_argument("--domain", help="the domain to follow (example.com; www. is ignored)")
    p.add_argument("--from", dest="then", metavar="KEY", help="the earlier period")
    p.add_argument("--to", dest="now", metavar="KEY", help="the later period")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=_positive_int, default=20, help="keyword rows in the table")
    p.add_argument("--html", metavar="PATH", help="also write a self-contained HTML report")


def _add_prune(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser(
        "prune", help="remove settled ledger rows of old periods (outputs are never touched)"
    )
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--before", required=True, metavar="KEY", help="periods before this one")
    p.add_argument("--job", help="only this job (default: every job whose `every` fits KEY)")


def _summary(report: RunReport, dry: bool) -> None:
    for name, job in report.jobs.items():
        if dry:
            cost = f"estimated cost ${job.estimated_cost:.4f}"
            if job.periods_per_month is not None:
                month = job.estimated_cost * job.periods_per_month
                cost += f" per period, ${month:.4f} per month ({job.periods_per_month} periods)"
            _say(f"{name}: {job.valid} valid, {job.rejected} rejected, {cost}")
        else:
            c = job.counts
            _say(
                f"{name}: {c.get('done', 0)} done, {c.get('failed', 0)} failed, "
                f"{c.get('pending', 0) + c.get('posting', 0) + c.get('posted', 0)} outstanding, "
                f"{job.rejected} rejected"
            )


def _validation(config: Config, args: argparse.Namespace) -> int:
    """`validate` and `run --dry-run`: counts, cost and the first rejected rows of each job."""
    report = dry_run(config)
    rejected = sum(job.rejected for job in report.jobs.values())
    code = ExitCode.BAD_CONFIG if rejected and getattr(args, "strict", False) else ExitCode.OK
    if getattr(args, "json", False):
        jobs = {
            name: {
                "valid": job.valid,
                "rejected": job.rejected,
                "estimated_cost_usd": round(job.estimated_cost, 6),
                "periods_per_month": job.periods_per_month,
                "first_rejected": [{"line": ln, "reason": r} for ln, r in job.examples],
            }
            for name, job in report.jobs.items()
        }
        total = round(sum(job.estimated_cost for job in report.jobs.values()), 6)
        record = {
            "jobs": jobs,
            "estimated_cost_usd": total,
            "estimated_cost_usd_per_month": round(monthly_cost(report), 6),
            "exit_code": int(code),
        }
        _say(json.dumps(record))
        return code
    _summary(report, dry=True)
    for name, job in report.jobs.items():
        for line, reason in job.examples:
            _say(f"  {name} line {line}: {reason}")
    total = sum(job.estimated_cost for job in report.jobs.values())
    valid = sum(job.valid for job in report.jobs.values())
    _say(f"total: {valid} tasks, {rejected} rejected rows, estimated cost ${total:.4f}")
    if any(job.periods_per_month is not None for job in report.jobs.values()):
        month = monthly_cost(report)
        text = f"recurring jobs: estimated ${month:.4f} this month"
        cap = config.budget.max_cost_usd_per_month
        if cap is not None and month > cap:
            text += f", over max_cost_usd_per_month ${cap:.4f}: posting stops at the cap"
        _say(text)
    return code


def _reason(report: RunReport) -> str:
    if report.timed_out:
        return "time up"
    if report.budget_stopped:
        return f"budget reached: {report.budget_stopped}"
    return "done"


async def _run_async(
    config: Config,
    creds: Credentials,
    ledger: Ledger,
    args: argparse.Namespace,
    progress: Progress,
) -> tuple[ExitCode, str, Run]:
    limiter = AccountLimiter.for_api(config.api)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals, _unwrap_errors():
        async with (
            anyio.create_task_group() as tg,
            ApiClient(config.api, creds, limiter) as client,
        ):
            caught: list[int] = []

            async def watch() -> None:
                async for signum in signals:
                    caught.append(signum)
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(watch)
            run = Run(config, ledger, client, plan(config, time.time(), args.period, args.config))
            run.load_inputs()
            tg.start_soon(progress.watch, run.snapshot)
            report = await run.execute(args.max_runtime, follow=args.follow)
            tg.cancel_scope.cancel()
        if caught:
            name = signal.Signals(caught[0]).name
            code = ExitCode.SIGINT if caught[0] == signal.SIGINT else ExitCode.SIGTERM
            return code, f"stopped by {name}", run
        return ExitCode.OK, _reason(report), run


@contextmanager
def _unwrap_errors() -> Iterator[None]:
    """Task groups wrap errors in groups; the CLI wants the first OrchestratorError itself."""
    try:
        yield
    except BaseExceptionGroup as group:
        found = _first_error(group)
        if found is None:
            raise
        raise found from None


def _first_error(group: BaseExceptionGroup[BaseException]) -> OrchestratorError | None:
    for exc in group.exceptions:
        if isinstance(exc, OrchestratorError):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (inner := _first_error(exc)) is not None:
            return inner
    return None


def command_run(args: argparse.Namespace) -> int:
    """`orchestrator run`: load, check, then post and collect, recording the run's outcome."""
    config = load_config(args.config)
    if args.dry_run:
        return _validation(config, args)
    plan(config, time.time(), args.period, args.config)  # a bad --period: exit 2 before anything
    if args.follow and not any(job.every for job in config.jobs):
        raise ConfigError(args.config, "--follow", "no job has `every`: nothing would recur")
    creds = credentials(config.api, args.config)
    ledger = Ledger(config.state.path)
    mode: Mode = "off" if args.quiet else "live" if sys.stdout.isatty() else "log"
    fmt: Format = "json" if args.log_format == "json" else "text"
    progress = Progress(sys.stdout, mode, fmt, args.progress_interval)
    run_id = ledger.start_run()
    code, reason, run = ExitCode.ERROR, "crashed", None
    try:
        code, reason, run = anyio.run(_run_async, config, creds, ledger, args, progress)
    except AccountError as exc:
        code, reason = ExitCode.ACCOUNT, f"account problem: {exc}"
        raise
    except OrchestratorError as exc:
        reason = f"error: {exc}"
        raise
    finally:
        ledger.end_run(run_id, code, reason)
        snapshot = run.snapshot_sync() if run is not None else None
        ledger.close()
    progress.summary(reason, code, snapshot)
    if code in (ExitCode.SIGINT, ExitCode.SIGTERM):
        _say("run interrupted; the ledger is consistent and the next run continues", error=True)
    return code


def command_validate(args: argparse.Namespace) -> int:
    """`orchestrator validate`: the same checks as `run --dry-run`."""
    return _validation(load_config(args.config), args)


def command_status(args: argparse.Namespace) -> int:
    """`orchestrator status`: from the ledger alone."""
    config = load_config(args.config)
    if not Path(config.state.path).exists():
        if args.json:
            _say(json.dumps({"ledger": config.state.path, "jobs": {}, "last_run": None}))
        else:
            _say(f"no ledger at {config.state.path}: nothing has run with this config yet")
        return ExitCode.OK
    status = read_status(config)
    if args.json:
        _say(json.dumps(asdict(status)))
        return ExitCode.OK
    for name, job in status.jobs.items():
        c = job.counts
        line = (
            f"{name}: {c['done']} done, {c['failed']} failed, {c['posted']} posted, "
            f"{c['posting']} posting, {c['pending']} pending"
            + (f", {c['missed']} missed" if c["missed"] else "")
            + f"; spent ${job.spent_usd:.4f}"
        )
        if job.oldest_outstanding_id is not None:
            age = job.oldest_outstanding_age_s or 0.0
            line += f"; oldest outstanding {job.oldest_outstanding_id} ({age:.0f} s)"
        _say(line)
        if job.every is not None:
            _say(f"  every {job.every}; current period {job.current_period}")
        for period in job.periods:
            pc = period.counts
            text = (
                f"  {period.period}: {pc['done']} done, {pc['failed']} failed, "
                f"{pc['missed']} missed, {period.outstanding} outstanding; "
                f"spent ${period.spent_usd:.4f}"
            )
            if period.pruned:
                text += f"; {period.pruned} settled rows pruned"
            if period.period == job.current_period and not sum(pc.values()):
                text += " (not started)"
            _say(text)
    _say(f"total spent ${status.spent_usd:.4f} (ledger {status.ledger})")
    last = status.last_run
    if last is None:
        _say("last run: none recorded")
    else:
        started = _when(last.started_at)
        if last.ended_at is None:
            _say(f"last run: started {started}, no end recorded (still running, or killed)")
        else:
            _say(
                f"last run: started {started}, ended {_when(last.ended_at)}, "
                f"exit {last.exit_code} ({last.reason})"
            )
    return ExitCode.OK


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def command_export(args: argparse.Namespace) -> int:
    """`orchestrator export`: stream a job's results into a rankings table."""
    config = load_config(args.config)
    job = find_job(config, args.job, args.config)
    types = frozenset(filter(None, args.types.split(","))) if args.types else None
    for flag, key in (("--period", args.period), ("--since", args.since)):
        if key is not None:
            if job.every is None:
                raise ConfigError(args.config, flag, f"job {job.name!r} has no `every`")
            try:
                parse_key(job.every, job.zone(config), key)
            except PeriodError as exc:
                raise ConfigError(args.config, flag, str(exc)) from None
    count = export(config, job, args.format, args.out, types, args.period, args.since)
    if args.out != "-":
        _say(f"{count} rows written to {args.out}")
    return ExitCode.OK


def command_report(args: argparse.Namespace) -> int:
    """`orchestrator report`: keywords and domains that moved between two periods."""
    config = load_config(args.config)
    job = find_job(config, args.job, args.config)
    if job.every is not None:
        for flag, key in (("--from", args.then), ("--to", args.now)):
            if key is not None:
                try:
                    parse_key(job.every, job.zone(config), key)
                except PeriodError as exc:
                    raise ConfigError(args.config, flag, str(exc)) from None
    found = report.build(config, job, args.config, args.domain, args.then, args.now)
    if args.html:
        try:
            Path(args.html).write_text(report_html.render(found), encoding="utf-8")
        except OSError as exc:
            raise ExportError(f"{args.html}: {exc.strerror or exc}") from exc
    if args.format == "json":
        _say(
            json.dumps(
                asdict(found)
                | {
                    "winners": [asdict(m) | {"change": m.change} for m in found.winners],
                    "losers": [asdict(m) | {"change": m.change} for m in found.losers],
                }
            )
        )
    elif args.format == "csv":
        rows = list(report.keyword_rows(found)) or [
            {
                "domain": m.domain,
                "visibility_then": m.visibility_then,
                "visibility_now": m.visibility_now,
                "change": m.change,
            }
            for m in found.winners + found.losers
        ]
        if rows:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    else:
        _report_table(found, args.limit)
    if args.html:
        _say(f"HTML report written to {args.html}", error=args.format != "table")
    return ExitCode.OK


def _report_table(found: "report.Report", limit: int) -> None:
    _say(f"{found.job}: {found.then} -> {found.now}")
    if found.domain:
        last = {period: (vis, avg) for period, vis, avg in found.history}
        (v0, a0), (v1, a1) = last.get(found.then, ({}, None)), last.get(found.now, ({}, None))

        def avg(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        _say(
            f"{found.domain}: visibility (top 10) {v0.get(found.domain, 0) * 100:.1f}% -> "
            f"{v1.get(found.domain, 0) * 100:.1f}%; average rank {avg(a0)} -> {avg(a1)}"
        )
        width = max([len(m.keyword) for m in found.keywords[:limit]] + [7])
        _say(f"{'keyword':<{width}}  {'then':>5}  {'now':>5}  {'change':>6}  movement")
        for m in found.keywords[:limit]:
            change = "" if m.change is None else f"{m.change:+d}"
            then = "-" if m.then is None else str(m.then)
            now = "-" if m.now is None else str(m.now)
            _say(f"{m.keyword:<{width}}  {then:>5}  {now:>5}  {change:>6}  {m.movement}")
        if len(found.keywords) > limit:
            _say(f"({len(found.keywords) - limit} more keywords: --limit, or --format csv)")
    for title, moves in (("biggest winners", found.winners), ("biggest losers", found.losers)):
        _say(f"{title} (visibility, top 10):")
        for d in moves:
            _say(
                f"  {d.domain:<28} {d.visibility_then * 100:5.1f}% -> "
                f"{d.visibility_now * 100:5.1f}%  {d.change * 100:+.1f} pts"
            )


def command_prune(args: argparse.Namespace) -> int:
    """`orchestrator prune`: delete the settled rows of periods before a key, per job."""
    config = load_config(args.config)
    jobs = [job for job in config.jobs if job.every is not None]
    if args.job is not None:
        jobs = [find_job(config, args.job, args.config)]
        if jobs[0].every is None:
            raise ConfigError(args.config, "--job", f"job {args.job!r} has no `every`")
    fitting, errors = [], []
    for job in jobs:
        assert job.every is not None
        try:
            fitting.append((job, parse_key(job.every, job.zone(config), args.before)))
        except PeriodError as exc:
            errors.append(f"{job.name}: {exc}")
    if not fitting:
        reason = "; ".join(errors) or "no job has `every`"
        raise ConfigError(args.config, "--before", reason)
    ledger = Ledger(config.state.path)
    try:
        for job, period in fitting:
            removed = ledger.prune(job.name, before=period.key)
            _say(f"{job.name}: {removed} settled rows of periods before {period.key} removed")
    finally:
        ledger.close()
    return ExitCode.OK


def command_demo(args: argparse.Namespace) -> int:
    """`orchestrator demo`: a simulated account, sample jobs, a daily job over three periods,
    a summary, and the HTML report of what moved."""
    folder = Path(args.out)
    _say(f"demo: simulator started in-process; writing config, inputs and results to {folder}/")
    started = time.monotonic()
    prepare(folder)
    with _unwrap_errors():
        reports, stats = anyio.run(run_demo, folder)
    for report_ in reports:
        period = report_.jobs["rank-tracking"].period
        _say(f"period {period}:")
        _summary(report_, dry=False)
    last = reports[-1]
    _say(f"runs ended ({_reason(last)}): spent ${last.spent:.4f}, {last.outstanding} outstanding")
    _say(
        f"simulator saw {stats['calls_total']} calls, {stats['tasks_created']} tasks created, "
        f"{stats['duplicate_tags']} duplicate tags, {stats['rate_limited']} rate-limit refusals, "
        f"faults injected {stats['faults_injected']}; took {time.monotonic() - started:.1f} s"
    )
    _say(
        f"results: {folder}/rank-tracking/period=<day>/results.jsonl (and "
        f"{folder}/<job>/results.jsonl for the one-shot jobs); rejected rows: rejected.jsonl"
    )
    config = load_config(folder / "jobs.toml")
    job = find_job(config, "rank-tracking", str(folder / "jobs.toml"))
    found = report.build(config, job, str(folder / "jobs.toml"), "www.amazon.com")
    html = folder / "report.html"
    html.write_text(report_html.render(found), encoding="utf-8")
    _say(f"what moved ({found.then} -> {found.now}): open {html.resolve()}")
    return ExitCode.OK if last.outstanding == 0 else ExitCode.ERROR


def _guarded(args: argparse.Namespace, handler: Callable[[argparse.Namespace], int]) -> int:
    """Run a command; a known failure becomes one line (JSON with --log-format json) and its
    documented exit code, never a traceback."""
    try:
        return handler(args)
    except (ConfigError, InputError, ExportError) as exc:
        code, text = ExitCode.BAD_CONFIG, str(exc)
    except LockHeld as exc:
        code, text = ExitCode.LOCK_HELD, str(exc)
    except AccountError as exc:
        code, text = ExitCode.ACCOUNT, f"account problem: {exc}"
    except OrchestratorError as exc:
        code, text = ExitCode.ERROR, str(exc)
    if getattr(args, "log_format", "text") == "json":
        record = {"event": "error", "command": args.command, "message": text, "exit_code": code}
        _say(json.dumps(record), error=True)
    else:
        _say(f"orchestrator {args.command}: {text}", error=True)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING, ERROR")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_simulate(commands)
    _add_run(commands)
    _add_validate(commands)
    _add_status(commands)
    _add_export(commands)
    _add_prune(commands)
    _add_report(commands)
    demo = commands.add_parser("demo", help="run sample jobs against an in-process simulator")
    demo.add_argument("--out", default="demo-out", help="folder for config, inputs and results")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and `python -m orchestrator`."""
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    if getattr(args, "log_format", "text") == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    handlers = {
        "run": command_run,
        "validate": command_validate,
        "status": command_status,
        "export": command_export,
        "prune": command_prune,
        "report": command_report,
    }
    if args.command in handlers:
        return _guarded(args, handlers[args.command])
    if args.command == "demo":
        try:
            return command_demo(args)
        except OrchestratorError as exc:
            _say(f"orchestrator demo: {exc}", error=True)
            return ExitCode.ERROR
    if args.command == "simulate":
        try:
            config = simulator_config(args)
            return anyio.run(run_simulator, config)
        except OSError as exc:
            reason = exc.strerror or exc
            _say(
                f"orchestrator simulate: cannot listen on {args.host}:{args.port}: {reason}",
                error=True,
            )
            return ExitCode.BAD_CONFIG
    return ExitCode.ERROR
