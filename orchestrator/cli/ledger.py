"""`orchestrator ledger copy`: move a config's SQLite ledger to a PostgreSQL server, with its
history (ledger/copy.py), and say what to change in the config."""

import argparse
import os
import time

import msgspec

from orchestrator.cli.common import ExitCode, add_env_file, say
from orchestrator.config import (
    Config,
    StateConfig,
    check_state_url,
    ledger_password,
    load_config,
)
from orchestrator.errors import NoLedger
from orchestrator.ledger import Ledger
from orchestrator.pipeline.sink import cut_back_runs
from orchestrator.wire.limiter import CallLog


def add_ledger(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    copy = actions.add_parser(
        "copy", help="copy the config's SQLite ledger, with its history, to a PostgreSQL server"
    )
    copy.add_argument("--config", required=True, help="the TOML config ([state] path is copied)")
    copy.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user@host:5432/db (no password)"
    )
    copy.add_argument(
        "--password-env",
        metavar="NAME",
        help="the variable holding the server's password (default: [state] password_env; "
        "else PGPASSWORD or ~/.pgpass)",
    )
    add_env_file(copy)


def command_ledger(args: argparse.Namespace) -> int:
    """Copy, check, mark the file as moved, and tell the one line to change in the config."""
    config = load_config(args.config)
    check_state_url(args.config, args.to)
    if not os.path.exists(config.state.path):
        raise NoLedger(f"{config.state.path}: no ledger to copy (nothing has run with this config)")
    target_state = msgspec.structs.replace(
        config.state, url=args.to, password_env=args.password_env or config.state.password_env
    )
    password = ledger_password(target_state, args.config, env_file=args.env_file)
    source = Ledger(config.state.path)
    try:
        # A line written but not settled before a crash (its task is still posted): the next
        # run on the file would cut it; none will now, and the server's runs fetch it again.
        cut_back_runs(config.output.dir, source, [None])
        target = Ledger(args.to, password)
        try:
            copied = source.copy_to(target, os.path.dirname(os.path.abspath(args.config)))
            target.hold_window_until(_window_clear_at(config))
        finally:
            target.close()
    finally:
        source.close()
    counts = ", ".join(f"{n} {table}" for table, n in copied.rows.items() if table != "meta")
    again = " (it was there already: this finishes a copy cut short)" if copied.already else ""
    say(f"copied {config.state.path} to {args.to}{again}: {counts}; spend ${copied.spent:.4f}")
    say(_next_step(args.to, target_state))
    return ExitCode.OK


def _window_clear_at(config: Config) -> float:
    """When the file's last calls have all left the account's window (0: long ago): the
    server's schedule starts no earlier, so the first run there cannot crowd them."""
    window = config.api.rate_period_s + config.api.rate_jitter_s
    history = CallLog.beside(config.state.path, config.api.calls_per_minute)
    try:
        calls = history.since(time.time() - window)
    finally:
        history.close()
    return calls[-1][0] + window if calls else 0.0


def _next_step(url: str, state: StateConfig) -> str:
    password = f'\npassword_env = "{state.password_env}"' if state.password_env else ""
    return (
        f"{state.path} is kept as a record and refused from now on. Put this in the config:\n"
        f'[state]\nurl = "{url}"{password}'
    )
