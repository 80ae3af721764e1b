"""The `orchestrator` command: `run`, `validate` and `demo` here, the reading commands in
`reports.py`, `simulate` in `simulate.py`. Only the cli modules print; only this one
configures logging and turns errors into exit codes.

Exit codes (`common.ExitCode`): 0 done; 1 anything unexpected; 2 bad arguments, configuration
or input (argparse also uses 2), or an output folder this ledger does not own; 3 account;
4 lost posts id_list could not settle (nothing re-posted; run again later); 74 the machine
failed us (a full disk, a read-only filesystem, a permission, an I/O error, a damaged ledger);
75 lock held; 130/143 after SIGINT/SIGTERM; 141 the reader of the output went away.
"""

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio

from orchestrator import version
from orchestrator.cli.common import ExitCode, add_env_file, ctrl_c_taken, positive_float, say
from orchestrator.cli.recover import add_recover, command_recover
from orchestrator.cli.reports import (
    add_export,
    add_prune,
    add_report,
    add_status,
    command_export,
    command_prune,
    command_report,
    command_status,
)
from orchestrator.cli.simulate import add_simulate, run_simulator, simulator_config
from orchestrator.cli.validate import (
    add_validate,
    command_validate,
    job_summary,
    no_valid_rows,
    validation,
)
from orchestrator.config import Config, Credentials, credentials, load_config
from orchestrator.errors import (
    AccountError,
    ConfigError,
    ForeignOutput,
    InputError,
    LockHeld,
    MachineError,
    NewerLedger,
    OrchestratorError,
    ReconcileFailed,
    machine_error,
)
from orchestrator.ledger import Ledger
from orchestrator.ledger.store import ledger_failure
from orchestrator.pipeline.inputs import check_input
from orchestrator.pipeline.outcome import RunReport
from orchestrator.pipeline.progress import Format, Mode, Progress
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan
from orchestrator.reports import report, report_html
from orchestrator.reports.export import ExportError, find_job
from orchestrator.reports.outfile import OutputPathError
from orchestrator.wire.client import ApiClient
from orchestrator.wire.limiter import AccountLimiter, CallLog

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


def _add_run(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("run", help="post and collect the tasks of a config")
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
    run_id: int,
    history: CallLog,
) -> tuple[ExitCode, str, Run]:
    limiter = AccountLimiter.for_api(config.api, history)
    if limiter.inherited:
        log.info(
            "limiter_inherits calls=%d (the previous run's, still in the window)", limiter.inherited
        )
    with (
        anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
        _unwrap_errors(),
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


def _first_error(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    for exc in group.exceptions:
        if isinstance(exc, OrchestratorError | OSError | sqlite3.Error):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (inner := _first_error(exc)) is not None:
            return inner
    return None


def command_run(args: argparse.Namespace) -> int:
    """`orchestrator run`: load, check, then post and collect, recording the run's outcome."""
    config = load_config(args.config)
    if args.dry_run:
        with ctrl_c_taken():
            return validation(config, args)
    plan(config, time.time(), args.period, args.config)  # a bad --period: exit 2 before anything
    if args.follow and not any(job.every for job in config.jobs):
        raise ConfigError(args.config, "--follow", "no job has `every`: nothing would recur")
    for job in config.jobs:  # inputs stream while the run posts: refuse a bad file first
        check_input(job)
    creds = credentials(config.api, args.config, env_file=args.env_file)
    ledger = Ledger(config.state.path)
    mode: Mode = "off" if args.quiet else "live" if sys.stdout.isatty() else "log"
    fmt: Format = "json" if args.log_format == "json" else "text"
    progress = Progress(sys.stdout, mode, fmt, args.progress_interval)
    run_id = ledger.start_run()
    # The calls of the last window, this process's and the previous one's (the lock is held).
    history = CallLog.beside(config.state.path, config.api.calls_per_minute)
    code, reason, run = ExitCode.ERROR, "crashed", None
    try:
        code, reason, run = anyio.run(
            _run_async, config, creds, ledger, args, progress, run_id, history
        )
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
        history.close()
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
    if code in (ExitCode.SIGINT, ExitCode.SIGTERM):
        say("run interrupted; the ledger is consistent and the next run continues", error=True)
    return code


def command_demo(args: argparse.Namespace) -> int:
    """`orchestrator demo`: a simulated account, sample jobs, a daily job over three periods,
    a summary, and the HTML report of what moved."""
    folder = Path(args.out)
    say(f"demo: simulator started in-process; writing config, inputs and results to {folder}/")
    started = time.monotonic()
    from orchestrator.cli.demo import prepare, run_demo  # the simulator: only the demo needs it

    prepare(folder)
    with _unwrap_errors():
        reports, stats = anyio.run(run_demo, folder)
    for report_ in reports:
        period = report_.jobs["rank-tracking"].period
        say(f"period {period}:")
        job_summary(report_, dry=False)
    last = reports[-1]
    say(f"runs ended ({_reason(last)}): spent ${last.spent:.4f}, {last.outstanding} outstanding")
    say(
        f"simulator saw {stats['calls_total']} calls, {stats['tasks_created']} tasks created, "
        f"{stats['duplicate_tags']} duplicate tags, {stats['rate_limited']} rate-limit refusals, "
        f"faults injected {stats['faults_injected']}; took {time.monotonic() - started:.1f} s"
    )
    say(
        f"results: {folder}/rank-tracking/period=<day>/results.jsonl (and "
        f"{folder}/<job>/results.jsonl for the one-shot jobs); rejected rows: rejected.jsonl"
    )
    config = load_config(folder / "jobs.toml")
    job = find_job(config, "rank-tracking", str(folder / "jobs.toml"))
    found = report.build(config, job, str(folder / "jobs.toml"), "www.amazon.com")
    html = folder / "report.html"
    html.write_text(report_html.render(found), encoding="utf-8")
    say(f"what moved ({found.then} -> {found.now}): open {html.resolve()}")
    return ExitCode.OK if last.outstanding == 0 else ExitCode.ERROR


def _guarded(args: argparse.Namespace, handler: Callable[[argparse.Namespace], int]) -> int:
    """Run a command; a known failure becomes one line (JSON with --log-format json) and its
    documented exit code, never a traceback."""
    try:
        return handler(args)
    except (
        ConfigError,
        InputError,
        ExportError,
        ForeignOutput,
        OutputPathError,
        NewerLedger,
    ) as exc:
        code, text = ExitCode.BAD_CONFIG, str(exc)
    except MachineError as exc:
        code, text = ExitCode.MACHINE, str(exc)
    except BrokenPipeError:
        raise  # the reader of our output went away: `main` says so with its own code
    except OSError as exc:  # one no stage named: the file it names, if any
        code, text = ExitCode.MACHINE, str(machine_error(exc))
    except sqlite3.Error as exc:  # a ledger read outside the ledger's own wrappers
        code, text = ExitCode.MACHINE, str(ledger_failure(_state_path(args), exc))
    except ReconcileFailed as exc:
        code, text = ExitCode.RECONCILE, str(exc)
    except LockHeld as exc:
        code, text = ExitCode.LOCK_HELD, str(exc)
    except AccountError as exc:
        code, text = ExitCode.ACCOUNT, f"account problem: {exc}"
    except OrchestratorError as exc:
        code, text = ExitCode.ERROR, str(exc)
    if getattr(args, "log_format", "text") == "json":
        record = {"event": "error", "command": args.command, "message": text, "exit_code": code}
        say(json.dumps(record), error=True)
    else:
        say(f"orchestrator {args.command}: {text}", error=True)
    return code


class Terminated(BaseException):
    """SIGTERM, raised where the command is, so that what it writes is cleaned up."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def _state_path(args: argparse.Namespace) -> str:
    """The ledger a command's config names, for a message about it."""
    try:
        return load_config(args.config).state.path
    except (AttributeError, OrchestratorError):
        return "the ledger"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"orchestrator {version()}")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING, ERROR")
    commands = parser.add_subparsers(dest="command", required=True)
    add_simulate(commands)
    _add_run(commands)
    add_validate(commands)
    add_status(commands)
    add_export(commands)
    add_prune(commands)
    add_report(commands)
    add_recover(commands)
    demo = commands.add_parser("demo", help="run sample jobs against an in-process simulator")
    demo.add_argument("--out", default="demo-out", help="folder for config, inputs and results")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and `python -m orchestrator`: `_main`, quiet when
    the reader of its output goes away (`orchestrator status | head -1`), as filters are."""
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit has nowhere to fail
        return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:  # taken by a command with no signal watch (validate, export, ...)
        say("orchestrator: interrupted (SIGINT)", error=True)
        return ExitCode.SIGINT


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    if getattr(args, "log_format", "text") == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if args.command == "run":  # it takes a Ctrl-C once its run watches for signals
        return _guarded(args, command_run)
    with ctrl_c_taken():
        handlers = {
            "validate": command_validate,
            "status": command_status,
            "export": command_export,
            "prune": command_prune,
            "report": command_report,
            "recover": command_recover,
        }
        if args.command in ("export", "report"):  # they write files: SIGTERM cleans up too
            signal.signal(signal.SIGTERM, _terminated)
        if args.command in handlers:
            try:
                return _guarded(args, handlers[args.command])
            except Terminated:
                say(f"orchestrator {args.command}: stopped by SIGTERM", error=True)
                return ExitCode.SIGTERM
        if args.command == "demo":
            try:
                return command_demo(args)
            except OrchestratorError as exc:
                say(f"orchestrator demo: {exc}", error=True)
                return ExitCode.ERROR
        if args.command == "simulate":
            try:
                config = simulator_config(args)
                return anyio.run(run_simulator, config)
            except OSError as exc:
                reason = exc.strerror or exc
                say(
                    f"orchestrator simulate: cannot listen on {args.host}:{args.port}: {reason}",
                    error=True,
                )
                return ExitCode.BAD_CONFIG
    return ExitCode.ERROR
