"""What every `orchestrator` command shares: the documented exit codes, the one function that
prints, and the argument types. Only the cli modules print."""

import argparse
import enum
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class ExitCode(enum.IntEnum):
    """Documented process exit codes."""

    OK = 0
    ERROR = 1
    BAD_CONFIG = 2
    ACCOUNT = 3
    RECONCILE = 4
    BUDGET = 5  # a budget cap stopped posting (what was posted is collected)
    MACHINE = 74  # the machine failed us (disk full, read-only, permissions, damaged ledger)
    LOCK_HELD = 75
    SIGINT = 130
    SIGTERM = 143
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a filter whose reader went away


@contextmanager
def ctrl_c_taken() -> Iterator[None]:
    """Let Ctrl-C through inside this block; the thread's mask is as it was after. The command
    holds it from its first line (orchestrator/__main__.py) to where it can be taken cleanly:
    a KeyboardInterrupt cut imports and the event loop's set-up short (a segfault, a TypeError
    out of `_ssl`, a half-made loop's error at exit). One that came meanwhile arrives on entry,
    raised here or received by a signal watch set up before."""
    previous = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def say(text: str, *, error: bool = False) -> None:
    """The CLI's own output (the one place that prints)."""
    print(text, file=sys.stderr if error else sys.stdout, flush=True)


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a value > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text}")
    return value


def add_env_file(parser: argparse.ArgumentParser) -> None:
    """`--env-file`: credentials from a file only its owner can read (not the crontab)."""
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="read the credential variables (login_env, password_env) from this NAME=value "
        "file first; it must not be readable by others (chmod 600)",
    )
