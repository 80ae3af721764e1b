"""Every error the orchestrator raises, and the one table that classifies API status codes.

    OrchestratorError
    ├── ConfigError        config file: path, key, message
    ├── InputError         input file: path, line, message
    ├── ApiError           status_code, status_message, endpoint
    │   ├── TransientApiError   retried with backoff (5xx, 50000/50301/50401, 40202, 40209, network)
    │   ├── RequestRejected     never retried blindly (40501, 40006, 4050x, ...)
    │   └── AccountError        stops the run (40100, 40200, 40201, 40204, 40207)
    ├── LedgerError        the ledger (SQLite or PostgreSQL) failed
    │   ├── NewerLedger    written by a newer version: never read or written here
    │   ├── MovedLedger    copied to a PostgreSQL server: the copy is the ledger now
    │   └── NoLedger       there is none yet (nothing has run)
    ├── MachineError       the machine failed us: a full disk, a read-only filesystem, a
    │                      permission, an I/O error, a damaged ledger
    ├── ExportError        an export cannot be written as asked
    ├── OutputPathError    an --out or --html path that cannot be written
    ├── ForeignOutput      an output folder holds files this ledger did not write
    ├── ReconcileFailed    id_list could not tell whether lost posts created tasks
    ├── LoadFailed         the load worker stopped without saying why
    └── LockHeld           another run holds the state lock

Facts are attributes; `str()` is the one-line message the CLI prints. No credential is ever an
attribute or part of a message.
"""

import difflib
import enum
import errno
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final


class OrchestratorError(Exception):
    """Root of every error the CLI turns into a one-line message and an exit code."""


class ConfigError(OrchestratorError):
    """The config file cannot be used; names the file and the key."""

    def __init__(self, path: str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")
        self.path, self.key, self.message = path, key, message


class InputError(OrchestratorError):
    """An input file cannot be read at all; names the file (and line when known)."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.message = path, line, message


class LoadFailed(OrchestratorError):
    """The load worker process stopped without saying why (it crashed, or was killed)."""


class ApiError(OrchestratorError):
    """The API (or the network to it) answered with an error."""

    def __init__(self, status_code: int, status_message: str, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {status_code} {status_message}")
        self.status_code, self.status_message, self.endpoint = status_code, status_message, endpoint


class TransientApiError(ApiError):
    """Worth retrying after a pause."""


class RequestRejected(ApiError):
    """The request itself is wrong; retrying it unchanged would fail again."""


class AccountError(ApiError):
    """Credentials, balance, block or access: nothing will work until a person acts."""


class LedgerError(OrchestratorError):
    """The state database failed."""


class NewerLedger(LedgerError):
    """The ledger was written by a newer orchestrator: this one would misread it."""


class MovedLedger(LedgerError):
    """The ledger was copied to a server (`orchestrator ledger copy`): two ledgers of the same
    work would each post what the other holds, so the file is never used again."""


class NoLedger(LedgerError):
    """Nothing has run with this config yet: there is no ledger to read."""


class MachineError(OrchestratorError):
    """The machine failed us, not the config nor the input: a full disk, a read-only
    filesystem, a permission, an I/O error, a damaged ledger. What was settled stays settled
    (appends are cut back to the ledger's committed sizes), so the next run goes on."""

    def __init__(self, path: str, what: str, hint: str) -> None:
        super().__init__(f"{path}: {what} ({hint})")
        self.path, self.what, self.hint = path, what, hint


_DISK_HINTS: Final = {
    errno.ENOSPC: "free space on that disk, then run again: what was settled is kept",
    errno.EDQUOT: "raise the quota or free space, then run again: what was settled is kept",
    errno.EROFS: "the filesystem is mounted read-only: remount it read-write, or point the "
    "config at a writable place",
    errno.EACCES: "give the user running the orchestrator write access to it",
    errno.EPERM: "give the user running the orchestrator write access to it",
    errno.EIO: "the disk reports I/O errors: check it (dmesg), then run again",
}


def machine_error(exc: OSError, path: str | None = None) -> MachineError:
    """An OSError as the one line a person can act on: what failed, where, what to do."""
    where = path or (str(exc.filename) if exc.filename else "the disk")
    hint = _DISK_HINTS.get(exc.errno or 0, "check the disk and its permissions, then run again")
    return MachineError(where, exc.strerror or str(exc), hint)


@contextmanager
def on_disk(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError met in the block into the MachineError naming `path`."""
    try:
        yield
    except OSError as exc:
        raise machine_error(exc, os.fspath(path)) from exc


class ExportError(OrchestratorError):
    """The export cannot be written as asked (a format --out cannot take, a missing extra)."""


class OutputPathError(OrchestratorError):
    """The output path given cannot be written: its folder is missing, it is a folder."""


class ForeignOutput(OrchestratorError):
    """An output folder is not this ledger's to write: nothing is posted, nothing is cut."""

    def __init__(self, folder: str, message: str) -> None:
        super().__init__(f"{folder}: {message}")
        self.folder, self.message = folder, message


class ReconcileFailed(OrchestratorError):
    """Tasks whose task_post answer was lost could not be looked up: they stay *posting* (never
    re-posted blindly) until a later run's id_list answers cleanly."""


class LockHeld(OrchestratorError):
    """Another run holds the lock on the same state file."""


class LeaseLost(LockHeld):
    """This run could not renew its lease in time, and another run took over its work."""


class Disposition(enum.Enum):
    """What a status code means for the caller."""

    SUCCESS = "success"
    PENDING = "pending"  # task not finished: poll again later
    TRANSIENT = "transient"  # retry the same call after a pause
    REJECTED = "rejected"  # fix the request; never retry blindly
    ACCOUNT = "account"  # stop the run
    TASK_FAILED = "task_failed"  # the task ended without results: record it, move on


# The one table (reference section 6). Codes not listed fall back by range in `classify`.
DISPOSITIONS: Final[dict[int, Disposition]] = {
    20000: Disposition.SUCCESS,
    20100: Disposition.SUCCESS,
    40601: Disposition.PENDING,
    40602: Disposition.PENDING,
    40202: Disposition.TRANSIENT,
    40209: Disposition.TRANSIENT,
    50000: Disposition.TRANSIENT,
    50001: Disposition.TRANSIENT,
    50301: Disposition.TRANSIENT,
    50303: Disposition.TRANSIENT,
    50304: Disposition.TRANSIENT,
    50401: Disposition.TRANSIENT,
    40100: Disposition.ACCOUNT,
    40200: Disposition.ACCOUNT,
    40201: Disposition.ACCOUNT,
    40203: Disposition.ACCOUNT,
    40204: Disposition.ACCOUNT,
    40207: Disposition.ACCOUNT,
    40210: Disposition.ACCOUNT,
    40101: Disposition.TASK_FAILED,
    40102: Disposition.TASK_FAILED,
    40103: Disposition.TASK_FAILED,
    40401: Disposition.TASK_FAILED,
    40403: Disposition.TASK_FAILED,
    40404: Disposition.TASK_FAILED,
}


def classify(code: int) -> Disposition:
    """Disposition of a status code: the table first, then by range (5xxxx transient)."""
    known = DISPOSITIONS.get(code)
    if known is not None:
        return known
    if 20000 <= code < 30000:
        return Disposition.SUCCESS
    if code >= 50000:
        return Disposition.TRANSIENT
    return Disposition.REJECTED


def error_for(code: int, message: str, endpoint: str) -> ApiError:
    """The exception class a top-level error code maps to."""
    disposition = classify(code)
    if disposition is Disposition.ACCOUNT:
        return AccountError(code, message, endpoint)
    if disposition is Disposition.TRANSIENT:
        return TransientApiError(code, message, endpoint)
    return RequestRejected(code, message, endpoint)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean 'keyword'?)` for a misspelt or miscapitalised name, else ''."""
    known = list(known)
    lowered = {k.lower(): k for k in known}
    close = lowered.get(name.lower().replace(" ", "_")) or next(
        iter(difflib.get_close_matches(name.lower(), known, n=1)), None
    )
    return f" (did you mean {close!r}?)" if close else ""
