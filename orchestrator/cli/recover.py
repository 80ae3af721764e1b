"""`orchestrator recover`: rebuild a lost ledger (see recover.py) and say what was rebuilt."""

import argparse
from pathlib import Path

import anyio

from orchestrator.cli.common import ExitCode, add_env_file, positive_float, say
from orchestrator.config import Config, Credentials, credentials, load_config
from orchestrator.errors import ConfigError
from orchestrator.ledger import Ledger
from orchestrator.pipeline import recover
from orchestrator.wire.client import ApiClient
from orchestrator.wire.limiter import AccountLimiter, CallLog


def add_recover(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    add_env_file(p)
    p.add_argument(
        "--days",
        type=positive_float,
        default=2.0,
        help=f"how far back id_list is asked for tasks no output holds (default 2, at most "
        f"{recover.MAX_DAYS}: id_list keeps tags a month)",
    )


async def _from_id_list(
    config: Config, creds: Credentials, ledger: Ledger, days: float, held: set[str]
) -> None:
    history = CallLog.beside(config.state.path, config.api.calls_per_minute)
    try:
        limiter = AccountLimiter.for_api(config.api, history)
        async with ApiClient(config.api, creds, limiter) as client:
            await recover.from_id_list(config, ledger, client, days, held)
    finally:
        history.close()


def _remove(state: Path) -> None:
    """A ledger file and its WAL companions."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)


def command_recover(args: argparse.Namespace) -> int:
    """Refuse to touch an existing ledger; otherwise rebuild one and report it."""
    config = load_config(args.config)
    if args.days > recover.MAX_DAYS:
        raise ConfigError(args.config, "--days", f"at most {recover.MAX_DAYS}")
    if config.state.url is not None:
        raise ConfigError(
            args.config,
            "state.url",
            "recover rebuilds a ledger as a file: leave out url to rebuild into [state] path,"
            " then move it to the server with `orchestrator ledger copy`",
        )
    if config.output.url is not None:
        raise ConfigError(
            args.config,
            "output.url",
            "recover rebuilds a ledger from local folders; a bucket's parts are read by the"
            " ledger's list, and this version cannot rebuild that list from the bucket: keep"
            " the ledger on PostgreSQL ([state] url) where disks do not last",
        )
    state = Path(config.state.path)
    if state.exists():
        existing = Ledger(state)
        empty = not existing.jobs()  # made by a run that refused the folders: nothing in it
        existing.close()
        if not empty:
            raise ConfigError(
                args.config,
                "[state] path",
                f"{state} holds inputs: recover rebuilds a lost ledger; move this one away first",
            )
        _remove(state)
    creds = credentials(config.api, args.config, env_file=args.env_file)  # before any write
    lost_id = recover.lost_ledger_id(config)
    ledger = Ledger(state)
    try:
        if lost_id is not None:
            ledger.adopt_identity(lost_id)
        report = recover.Recovered()
        held = recover.from_outputs(config, ledger, report)
        anyio.run(_from_id_list, config, creds, ledger, args.days, held)
        recover.finish(config, ledger, report)
    except BaseException:
        ledger.close()
        _remove(state)  # half a ledger is worse than none
        raise
    ledger.close()
    for name, counts in report.counts.items():
        say(
            f"{name}: {counts['done']} done, {counts['failed']} failed, "
            f"{counts['posted']} posted (the next run collects them)"
        )
    if report.skipped_lines:
        say(f"{report.skipped_lines} output lines name no job of this config: left out")
    say(f"ledger {state} rebuilt (id {report.ledger_id}); `orchestrator run` goes on from here")
    return ExitCode.OK
