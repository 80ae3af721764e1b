"""The ledger's embedded engine: a SQLite file in WAL mode, locked by one run at a time (the
interface it implements is `store.Engine`; PostgreSQL's is in postgres_engine.py)."""

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from orchestrator.errors import LockHeld, OrchestratorError
from orchestrator.ledger.migrations import VERSION, migrate, refuse_newer, version
from orchestrator.ledger.store import Rows, ledger_failure, opening

# The page cache while the run posts and collects, and while a load writes (KB).
RUN_CACHE_KB: Final = 4 * 1024
LOAD_CACHE_KB: Final = 32 * 1024


class SQLiteEngine:
    """A SQLite file in WAL mode; a run holds an exclusive lock on `<file>.lock`."""

    skip_locked = ""  # one writer at a time: nothing to skip
    shared = False
    now_sql = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, path: str, *, readonly: bool = False) -> None:
        self.name = path
        self.home: str | None = os.path.dirname(os.path.abspath(path))
        self.migrated_from = VERSION
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None
        with opening(self):
            if readonly:
                self._open_reader()
            else:
                self._open_writer()

    def _open_writer(self) -> None:
        Path(self.name).parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self._db = sqlite3.connect(self.name, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit (a claim, a send, a settle) is on disk when it returns, so it survives
        # a power loss as well as a kill; NORMAL lost the last commits then.
        self._db.execute("PRAGMA synchronous=FULL")
        # 4 MB of pages while the run posts and collects (a bigger cache only held its memory
        # up by the size of what it had loaded: 64 MB was 120 MB of RSS after 200k inputs)
        self._db.execute(f"PRAGMA cache_size=-{RUN_CACHE_KB}")
        self.migrated_from, _ = migrate(self._db)

    def _open_reader(self) -> None:
        """No lock (a run may be going on), no writes: WAL lets it read the last committed
        state while a run writes. A ledger of an earlier version is upgraded once first (the
        lock is taken for a moment)."""
        uri = Path(self.name).resolve().as_uri() + "?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        found = version(self._db)
        refuse_newer(found)
        if found < VERSION:
            self._db.close()
            SQLiteEngine(self.name).close()
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
        self._db.execute("SELECT COUNT(*) FROM tally").fetchone()

    def _take_lock(self) -> None:
        fd = os.open(self.name + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(
                f"{self.name}: another run holds the lock; this one touches nothing"
            ) from None
        self._lock_fd = fd

    @property
    def connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError("the ledger is closed")
        return self._db

    def execute(self, sql: str, args: Sequence[object] = ()) -> Rows:
        try:
            return self.connection.execute(sql, args)
        except sqlite3.Error as exc:
            raise ledger_failure(self.name, exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        try:
            return self.connection.executemany(sql, rows).rowcount
        except sqlite3.Error as exc:
            raise ledger_failure(self.name, exc) from exc

    @contextmanager
    def transaction(self, sent_together: bool = False) -> Iterator[None]:
        db = self.connection
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ledger_failure(self.name, exc) from exc

    def any_of(self, column: str) -> str:
        # One prepared statement whatever the number of values: an `IN (?, ?, ...)` of
        # varying length would fill the statement cache.
        return f"{column} IN (SELECT value FROM json_each(?))"

    def list_argument(self, values: Sequence[str | int]) -> object:
        return json.dumps(list(values))

    def table_of(
        self, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]
    ) -> tuple[str, list[object]]:
        picked = ", ".join(
            f"json_extract(value, '$[{at}]') AS {name}" for at, (name, _) in enumerate(columns)
        )
        return f"(SELECT {picked} FROM json_each(?)) AS j", [json.dumps(list(map(list, rows)))]

    def unindexed(self, column: str) -> str:
        return f"+{column}"

    def checked_only(self, condition: str) -> str:
        # Without it SQLite (no statistics) would walk every row of the state and scan the
        # batch for each; `likelihood` keeps the condition's partial indexes usable.
        return f"likelihood({condition}, 0.99)"

    def add_input_chunk(self, job: str, period: str, rows: str, now: float) -> int:
        # One statement, so SQLite inserts the whole chunk with the interpreter's lock released
        # once, not once a row (the event loop's thread would make each row wait for it).
        sql = (
            "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, updated_at)"
            " SELECT ?, ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
            " json_extract(value, '$[2]'), CAST(json_extract(value, '$[3]') AS BLOB),"
            " json_extract(value, '$[4]'), 'pending', ? FROM json_each(?)"
        )
        return self.execute(sql, (job, period, now, rows)).rowcount

    def copy_in(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        return self.executemany(sql, rows)

    def restart_identities(self) -> None:
        """SQLite's row ids follow the largest by themselves."""

    def require(self, query: str, refusal: OrchestratorError) -> None:
        if self.execute(query).fetchone() is None:
            raise refusal

    def try_hold(self, key: str) -> bool:
        return True  # the run's lock holds the whole file

    def let_go(self, key: str) -> None:
        """Nothing is held but the run's lock."""

    def load_mode(self, on: bool) -> None:
        # The identity index takes each chunk's random keys across most of its pages, and
        # reading them back from the OS for every chunk halved the load (1M rows: 59k rows/s
        # with 32 MB, 48k with the run's usual 4 MB).
        self.execute(f"PRAGMA cache_size=-{LOAD_CACHE_KB if on else RUN_CACHE_KB}")

    def failure(self, exc: BaseException) -> OrchestratorError | None:
        if isinstance(exc, sqlite3.Error):
            return ledger_failure(self.name, exc)
        return None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None
