"""What every part of the ledger stands on: the interface of its database (`Engine`), one
transaction of many rows, and what a SQLite failure means to a person.

The ledger's SQL is written once, in what both engines understand: `?` placeholders (the
PostgreSQL engine turns them into its own), `ON CONFLICT ... DO UPDATE` with the table's
columns qualified, `RETURNING id`, `CASE`. What differs is asked of the engine: a column
compared with a list of values (`any_of`), a column the planner must not pick an index for
(`unindexed`), a write transaction, a chunk of new inputs, the lock of a run, and how each
failure of its driver reads to a person (`failure`). The engines: sqlite_engine.py (a file,
the embedded default) and postgres_engine.py (a server, for several workers).
"""

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Protocol

from orchestrator.errors import (
    LedgerError,
    MachineError,
    NewerLedger,
    OrchestratorError,
    machine_error,
)

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


class Rows(Protocol):
    """What a statement gives back: the cursor of either driver."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Engine(Protocol):
    """One connection to the ledger's database, used by one thread at a time."""

    skip_locked: str  # appended to a claim's SELECT: rows another worker claims are skipped
    shared: bool  # other runs may use the ledger at the same time (a server, `workers=True`)
    now_sql: str  # the database's clock in epoch seconds: leases are judged by one clock
    name: str  # what messages call the ledger: its file, or its URL without a password
    home: str | None  # the folder paths in the ledger are relative to (None: the config's)
    migrated_from: int  # the schema version found on opening (-1: a new ledger)

    def execute(self, sql: str, args: Sequence[object] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> int: ...

    def transaction(self, sent_together: bool = False) -> Any:
        """A context manager: one write transaction, taken at once (so two writers queue
        instead of failing), its failure raised as the error a person can act on.
        `sent_together`: on a server, statements go out together until a result is read (a
        statement's rowcount is then not known before the end)."""
        ...

    def require(self, query: str, refusal: OrchestratorError) -> None:
        """In a transaction: it goes on only if `query` (a SELECT, its values written in it)
        finds a row; else it is rolled back and `refusal` raised. On a server, without a
        round trip of its own: the refusal comes with the next result read, or the commit."""
        ...

    def any_of(self, column: str) -> str:
        """`column` compared with the list given as one argument (`list_argument`)."""
        ...

    def list_argument(self, values: Sequence[str | int]) -> object: ...

    def table_of(
        self, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]
    ) -> tuple[str, list[object]]:
        """`rows` as a FROM item named `j` with these (name, SQL type) columns, and the
        arguments its placeholders take: a batch changed by one statement, not one a row
        (on a server, a round trip each)."""
        ...

    def unindexed(self, column: str) -> str:
        """A text column, for the planner to compare on the rows found, never to search by:
        a batch of task ids then drives the search through their index."""
        ...

    def checked_only(self, condition: str) -> str:
        """`condition`, for the planner to check on the rows found, not to search by (true of
        nearly all of them): the batch of a `table_of` then drives the search."""
        ...

    def add_input_chunk(self, job: str, period: str, rows: str, now: float) -> int:
        """Insert a chunk of new pending inputs given as a JSON array of [key, tag, line,
        body text, cost] (load_worker.py), in the caller's transaction; returns rows added."""
        ...

    def copy_in(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
        """Insert many rows as they are (ids included), in the caller's transaction."""
        ...

    def restart_identities(self) -> None:
        """After rows came in with their ids: new ids follow the largest."""
        ...

    def try_hold(self, key: str) -> bool:
        """Hold `key` for this connection until `let_go` (or its end): False if another
        process holds it. One run at a time needs none and always gets it."""
        ...

    def let_go(self, key: str) -> None: ...

    def load_mode(self, on: bool) -> None:
        """Give a load's writes more memory while it runs, and take it back after."""
        ...

    def failure(self, exc: BaseException) -> OrchestratorError | None:
        """The driver's error as the one a person can act on; None if not the driver's."""
        ...

    def close(self) -> None: ...


def opening_failure(
    name: str, exc: BaseException, mapped: OrchestratorError | None
) -> BaseException:
    """What opening a ledger met, as the error that names it: the driver's (`mapped`), the
    disk's, a newer schema; anything else as it was."""
    if mapped is not None:
        return mapped
    if isinstance(exc, OSError):
        return machine_error(exc, name)
    if isinstance(exc, NewerLedger):
        return NewerLedger(f"{name}: {exc}")
    return exc


@contextmanager
def opening(engine: Engine) -> Iterator[None]:
    """An engine's opening: what it meets is raised as the error that names the ledger, and
    an engine half opened is closed (its lock released)."""
    try:
        yield
    except BaseException as exc:
        engine.close()
        mapped = opening_failure(engine.name, exc, engine.failure(exc))
        if mapped is exc:
            raise
        raise mapped from exc


class Store:
    """The engine the Ledger opens, shared by its parts (reads, loads, attempts, runs)."""

    _db: Engine
    path: str

    def _tx(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run `sql` for each row in one transaction; returns rows changed."""
        with self._db.transaction():
            return self._db.executemany(sql, rows)
