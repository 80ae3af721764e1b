"""`orchestrator run`: load, check, then post and collect, recording the run's outcome."""

import argparse
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import anyio
import msgspec

from orchestrator.cli.common import ExitCode, add_env_file, ctrl_c_taken, positive_float, say
from orchestrator.cli.validate import no_valid_rows, validation
from orchestrator.cli.window import account_limiter
from orchestrator.config import (
    Config,
    Credentials,
    credentials,
    ledger_password,
    listen_address,
    load_config,
)
from orchestrator.errors import AccountError, ConfigError, OrchestratorError
from orchestrator.ledger import Ledger
from orchestrator.pipeline.inputs import check_input
from orchestrator.pipeline.outcome import RunReport
from orchestrator.pipeline.progress import Format, Mode, Progress
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan
from orchestrator.reports import rankings_table
from orchestrator.wire.client import ApiClient
from orchestrator.wire.limiter import AccountLimiter

log = logging.getLogger("orchestrator")
TABLES_EVERY_S = 300.0  # --follow: how often settled periods are given their rankings table


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument(
        "--max-runtime",
        type=positive_float,
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
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve [postback] here instead of at its `listen`: several receivers of one "
        "config on one host, behind one balancer (its address is `public_url`)",
    )
    add_env_file(p)
    p.add_argument("--quiet", action="store_true", help="no progress and no summary")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="progress, summary and log lines as text or as JSON objects",
    )
    p.add_argument(
        "--progress-interval",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between progress lines when not on a terminal (default 60)",
    )


def reason_of(report: RunReport) -> str:
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
    run_id: int,
    make_limiter: Callable[[], AccountLimiter],
    password: str | None,
) -> tuple[ExitCode, str, Run]:
    limiter = make_limiter()
    if limiter.inherited:
        log.info(
            "limiter_inherits calls=%d (the previous run's, still in the window)", limiter.inherited
        )
    with (
        anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
        unwrap_errors(),
        ctrl_c_taken(),  # a Ctrl-C held since the start is received by `watch`
    ):
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
            run.config_file = args.config
            run.run_id = run_id
            tg.start_soon(progress.watch, run.snapshot)
            if args.follow:
                tg.start_soon(keep_tables, config, password, progress)
            report = await run.execute(args.max_runtime, follow=args.follow)
            tg.cancel_scope.cancel()
        if caught:
            name = signal.Signals(caught[0]).name
            code = ExitCode.SIGINT if caught[0] == signal.SIGINT else ExitCode.SIGTERM
            return code, f"stopped by {name}", run
        return ExitCode.OK, reason_of(report), run


async def keep_tables(config: Config, password: str | None, progress: Progress) -> None:
    """`--follow`: settled periods get their rankings table while the service runs (in a
    thread; a table cut off by the service's end is written again by the next pass)."""
    while True:
        await anyio.sleep(TABLES_EVERY_S)
        await anyio.to_thread.run_sync(
            rankings_table.refresh_all, config, password, progress.note, abandon_on_cancel=True
        )


@contextmanager
def unwrap_errors() -> Iterator[None]:
    """Task groups wrap errors in groups; the CLI wants the first OrchestratorError itself."""
    try:
        yield
    except BaseExceptionGroup as group:
        found = _first_error(group)
        if found is None:
            raise
        raise found from None


def _first_error(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    for exc in group.exceptions:
        if isinstance(exc, OrchestratorError | OSError | sqlite3.Error):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (inner := _first_error(exc)) is not None:
            return inner
    return None


def with_listen(config: Config, listen: str | None, where: str) -> Config:
    """The config whose receiver serves on `--listen`, when it is given."""
    if listen is None:
        return config
    if config.postback is None:
        raise ConfigError(where, "--listen", "the config has no [postback] to serve")
    try:
        listen_address(listen)
    except ValueError as exc:
        raise ConfigError(where, "--listen", str(exc)) from None
    return msgspec.structs.replace(
        config, postback=msgspec.structs.replace(config.postback, listen=listen)
    )


def command_run(args: argparse.Namespace) -> int:
    """`orchestrator run`: load, check, then post and collect, recording the run's outcome."""
    config = with_listen(load_config(args.config), args.listen, args.config)
    if args.dry_run:
        with ctrl_c_taken():
            return validation(config, args)
    plan(config, time.time(), args.period, args.config)  # a bad --period: exit 2 before anything
    if args.follow and not any(job.every for job in config.jobs):
        raise ConfigError(args.config, "--follow", "no job has `every`: nothing would recur")
    for job in config.jobs:  # inputs stream while the run posts: refuse a bad file first
        check_input(job)
    creds = credentials(config.api, args.config, env_file=args.env_file)
    password = ledger_password(config.state, args.config, env_file=args.env_file)
    ledger = Ledger(config.state.location, password, workers=True)
    mode: Mode = "off" if args.quiet else "live" if sys.stdout.isatty() else "log"
    fmt: Format = "json" if args.log_format == "json" else "text"
    progress = Progress(sys.stdout, mode, fmt, args.progress_interval)
    run_id = ledger.start_run(config.state.lease_s, [job.name for job in config.jobs])
    # The calls of the last window: of every process on the ledger's server, or this one's
    # and the previous one's in the call log beside a file (whose lock is held).
    limits = ExitStack()
    make_limiter = limits.enter_context(account_limiter(config, password))
    code, reason, run = ExitCode.ERROR, "crashed", None
    try:
        code, reason, run = anyio.run(
            _run_async, config, creds, ledger, args, progress, run_id, make_limiter, password
        )
        if code == ExitCode.OK and run.report.budget_stopped:
            code = ExitCode.BUDGET  # so that cron sees it: posting stopped at a cap
    except AccountError as exc:
        code, reason = ExitCode.ACCOUNT, f"account problem: {exc}"
        raise
    except KeyboardInterrupt:  # a caller that did not hold Ctrl-C (main says it)
        code, reason = ExitCode.SIGINT, "stopped by SIGINT"
        raise
    except OrchestratorError as exc:
        reason = f"error: {exc}"
        raise
    finally:
        snapshot = None
        try:  # on a full disk or a damaged ledger these fail too: the first error is the one
            snapshot = run.snapshot_sync() if run is not None else None
            ledger.end_run(run_id, code, reason)
        except OrchestratorError as exc:
            log.warning("run_end_not_recorded reason=%s", exc)
        ledger.close()
        limits.close()
    if run is not None and code in (ExitCode.OK, ExitCode.BUDGET):
        rankings_table.refresh_all(config, password, progress.note)
    empty = no_valid_rows(run.report) if run is not None else []
    if code == ExitCode.OK and empty:
        code, reason = ExitCode.BAD_CONFIG, f"no valid rows in job {', '.join(empty)}"
    progress.summary(reason, code, snapshot)
    for name in empty:
        rejected = run.report.jobs[name].rejected if run is not None else 0
        say(
            f"orchestrator run: job {name}: not one of its {rejected} rows is valid; "
            "see rejected.jsonl in its output folder, or `orchestrator validate`",
            error=True,
        )
    if code == ExitCode.BUDGET and run is not None:
        say(
            f"orchestrator run: budget reached ({run.report.budget_stopped}): posting stopped;"
            " the inputs not posted wait for a higher cap, or the next period or month",
            error=True,
        )
    if code in (ExitCode.SIGINT, ExitCode.SIGTERM):
        say("run interrupted; the ledger is consistent and the next run continues", error=True)
    return code
