"""The `orchestrator` command: the grammar in `parser.py`, each command in its own module
(`run.py`, `validate.py`, `status.py`, `reports.py`, `recover.py`, `simulate.py`, `demo.py`),
imported only when named. Only the cli modules print; only this one configures logging and
turns errors into exit codes.

Exit codes (`common.ExitCode`): 0 done; 1 anything unexpected; 2 bad arguments, configuration
or input (argparse also uses 2), or an output folder this ledger does not own; 3 account;
4 lost posts id_list could not settle (nothing re-posted; run again later); 5 a budget cap
stopped posting; 74 the machine failed us (a full disk, a read-only filesystem, a permission,
an I/O error, a damaged ledger); 75 lock held; 130/143 after SIGINT/SIGTERM; 141 the reader
of the output went away.
"""

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from orchestrator import version
from orchestrator.cli.common import ExitCode, ctrl_c_taken, say
from orchestrator.cli.parser import build_parser, handler_of
from orchestrator.errors import (
    AccountError,
    ConfigError,
    ExportError,
    ForeignOutput,
    InputError,
    LockHeld,
    MachineError,
    MovedLedger,
    NewerLedger,
    OrchestratorError,
    OutputPathError,
    ReconcileFailed,
    machine_error,
)

log = logging.getLogger("orchestrator")
DESCRIPTION = (
    "Run large batches of DataForSEO SERP tasks from a TOML config: within the account's "
    "limits, resumable, never paying twice."
)


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
        MovedLedger,
    ) as exc:
        code, text = ExitCode.BAD_CONFIG, str(exc)
    except MachineError as exc:
        code, text = ExitCode.MACHINE, str(exc)
    except BrokenPipeError:
        raise  # the reader of our output went away: `main` says so with its own code
    except OSError as exc:  # one no stage named: the file it names, if any
        code, text = ExitCode.MACHINE, str(machine_error(exc))
    except sqlite3.Error as exc:  # a ledger read outside the ledger's own wrappers
        code, text = ExitCode.MACHINE, str(_ledger_failure(args, exc))
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


def _ledger_failure(args: argparse.Namespace, exc: sqlite3.Error) -> OrchestratorError:
    """A SQLite error no ledger call named, as the error naming the config's ledger. Imported
    here: the ledger's modules cost every other command's start."""
    from orchestrator.config import load_config
    from orchestrator.ledger.store import ledger_failure

    try:
        path = load_config(args.config).state.path
    except (AttributeError, OrchestratorError):
        path = "the ledger"
    return ledger_failure(path, exc)


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
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words, DESCRIPTION, version()).parse_args(words)
    handler = logging.StreamHandler(sys.stderr)
    if getattr(args, "log_format", "text") == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if args.command == "run":  # it takes a Ctrl-C once its run watches for signals
        return _guarded(args, handler_of("run"))
    with ctrl_c_taken():
        command = handler_of(args.command)
        if args.command == "demo":
            try:
                return command(args)
            except OrchestratorError as exc:
                say(f"orchestrator demo: {exc}", error=True)
                return ExitCode.ERROR
        if args.command == "simulate":
            return command(args)
        if args.command in ("export", "report"):  # they write files: SIGTERM cleans up too
            signal.signal(signal.SIGTERM, _terminated)
        try:
            return _guarded(args, command)
        except Terminated:
            say(f"orchestrator {args.command}: stopped by SIGTERM", error=True)
            return ExitCode.SIGTERM
