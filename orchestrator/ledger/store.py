"""What every part of the ledger stands on: its one connection, its path for messages, and one
transaction of many rows."""

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final

from orchestrator.errors import LedgerError, MachineError, OrchestratorError

_DAMAGED: Final = (
    "move it aside and rebuild it from the output files with `orchestrator recover`, or "
    "restore it from a backup"
)
# SQLite's primary result codes for a failure of the machine, and what to do about each.
_MACHINE_FAILURES: Final = {
    sqlite3.SQLITE_FULL: "free space on that disk, then run again: what was settled is kept",
    sqlite3.SQLITE_IOERR: "the disk reports I/O errors: check it (dmesg), then run again",
    sqlite3.SQLITE_READONLY: "the file or its folder is not writable: mount it read-write "
    "or give this user write access to it and to its folder",
    sqlite3.SQLITE_CANTOPEN: "check that its folder exists and is writable",
    sqlite3.SQLITE_PERM: "give this user access to it",
    sqlite3.SQLITE_CORRUPT: _DAMAGED,
    sqlite3.SQLITE_NOTADB: _DAMAGED,
}


def ledger_failure(path: str, exc: sqlite3.Error) -> OrchestratorError:
    """A SQLite error as the error the CLI reports: the machine's (a full disk, a damaged file,
    exit 74) or the ledger's own (exit 1)."""
    code = getattr(exc, "sqlite_errorcode", None)
    hint = _MACHINE_FAILURES.get(code & 0xFF) if code is not None else None
    if hint is not None:
        return MachineError(path, f"ledger: {exc}", hint)
    return LedgerError(f"{path}: {exc}")


class Store:
    """The connection the Ledger opens, shared by its parts (reads, loads, attempts, runs)."""

    _db: sqlite3.Connection
    path: str

    def _tx(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run `sql` for each row in one transaction; returns rows changed."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                cursor = self._db.executemany(sql, rows)
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise ledger_failure(self.path, exc) from exc
