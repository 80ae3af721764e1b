"""The ledger on a PostgreSQL server (`[state] url`), through psycopg 3 (the `[postgres]` extra).

Same schema version, same states, same tally and the same SQL as on SQLite (store.py says how
the SQL is shared). Runs (`workers=True`) hold a shared session-level advisory lock of the
database, so several run at once and share the work (workers.py says how); every other command
that writes holds it alone, and is refused (exit 75) while a run is up, as a second run of a
file is. A lock goes with its connection when the process dies, however it dies.

The password is never in the URL (config.py refuses one there): it comes from `password`
(the config's `password_env`), or from libpq's own PGPASSWORD and ~/.pgpass. Messages name the
ledger by its URL, which holds none, and any text from the server is scrubbed of it anyway.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, Final

import msgspec
import psycopg
from psycopg import errors as pg_errors

from orchestrator.errors import (
    LedgerError,
    LockHeld,
    MachineError,
    NoLedger,
    OrchestratorError,
)
from orchestrator.ledger.first_versions import new_ledger_id
from orchestrator.ledger.migrations import VERSION, refuse_newer
from orchestrator.ledger.postgres_schema import IDENTITY_TABLES, SCHEMA, SCHEMA_LOCK, STEPS
from orchestrator.ledger.store import Rows, opening

# The key of the advisory lock a run holds ('orch' and 'run ').
RUN_LOCK: Final = 0x6F726368_72756E20
_REFUSED: Final = "orchestrator: a required row is missing"  # raised by `require`'s block
_UNREACHABLE: Final = (
    "check that the server is up and reachable, and the URL's user and database, and the"
    " password (password_env, PGPASSWORD or ~/.pgpass)"
)
# A run's lock lives as long as its connection. A pod killed cleanly closes it at once; a host
# that vanishes (a lost node) sends nothing more, and the server would hold the lock until its
# TCP gives up, two hours by default. These make the server probe an idle connection after 30 s
# and drop it about a minute after the client stopped answering, which frees the lock.
_NOTICE_A_LOST_HOST: Final = (
    "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;"
    " SET tcp_keepalives_count = 3; SET tcp_user_timeout = 60000"
)
_CHUNK_COLUMNS: Final = "job, period, key, tag, line, body, est_cost, state, updated_at"
_ChunkRow = tuple[str, str, int, str, float]


class PostgresEngine:
    """One connection to the ledger's database, in autocommit mode outside `transaction`."""

    skip_locked = " FOR UPDATE SKIP LOCKED"
    home: str | None = None  # paths are relative to the config's folder: hosts differ
    now_sql = "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"

    def __init__(
        self, url: str, password: str | None, *, readonly: bool = False, workers: bool = False
    ) -> None:
        self.name = url
        self.shared = workers
        self._password = password
        self._sql: dict[str, str] = {}
        self._conn: psycopg.Connection[Any] | None = None
        self._refusal: OrchestratorError | None = None  # what `require` raises, if it fails
        self.migrated_from = VERSION
        with opening(self):
            self._conn = psycopg.connect(url, password=password, autocommit=True)
            if readonly:
                self._conn.execute("SET default_transaction_read_only = on")
                found = self._version()
                if found == -1:
                    raise NoLedger(f"{url}: no ledger yet (nothing has run with this config)")
                refuse_newer(found)
                if found < VERSION:  # made by an earlier version: upgraded once, then read
                    PostgresEngine(url, password).close()
            else:
                self._conn.execute(_NOTICE_A_LOST_HOST)
                self._take_lock()
                self.migrated_from = self._migrate()

    @property
    def connection(self) -> "psycopg.Connection[Any]":
        if self._conn is None:
            raise LedgerError(f"{self.name}: the ledger is closed")
        return self._conn

    def _take_lock(self) -> None:
        how = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        row = self.connection.execute(f"SELECT {how}(%s)", (RUN_LOCK,)).fetchone()
        if row is None or not row[0]:
            holder = "a command that needs the ledger alone" if self.shared else "another run"
            raise LockHeld(f"{self.name}: {holder} holds the lock; this one touches nothing")

    def _version(self) -> int:
        """The schema version of the database; -1 when it holds no ledger yet."""
        row = self.connection.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            return -1
        found = self.connection.execute(
            "SELECT value FROM meta WHERE name = 'schema_version'"
        ).fetchone()
        return -1 if found is None else int(found[0])

    def _migrate(self) -> int:
        """Create the schema in an empty database, or bring an earlier version's up, in one
        transaction; returns the version found (-1: new)."""
        with self.connection.transaction():
            self.connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            found = self._version()
            refuse_newer(found)
            if found == -1:
                self.connection.execute(SCHEMA.encode())
                self.connection.cursor().executemany(
                    "INSERT INTO meta (name, value) VALUES (%s, %s)",
                    [
                        ("ledger_id", new_ledger_id()),
                        ("first_tagged_batch", "1"),
                        ("schema_version", str(VERSION)),
                    ],
                )
                return found
            for step in range(found + 1, VERSION + 1):
                for statement in STEPS[step]:
                    self.connection.execute(statement.encode())
            self.connection.execute(
                "UPDATE meta SET value = %s WHERE name = 'schema_version'", (str(VERSION),)
            )
        return found

    def _translated(self, sql: str) -> str:
        """The ledger's `?` placeholders as psycopg's (a literal % doubled)."""
        found = self._sql.get(sql)
        if found is None:
            found = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return found

    def execute(self, sql: str, args: Sequence[object] = ()) -> Rows:
        try:
            if not args:
                return self.connection.execute(sql.encode())
            return self.connection.execute(self._translated(sql), args)
        except psycopg.Error as exc:
            raise self._failure(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        try:
            cursor = self.connection.cursor()
            cursor.executemany(self._translated(sql), rows)
            return max(cursor.rowcount, 0)
        except psycopg.Error as exc:
            raise self._failure(exc) from exc

    @contextmanager
    def transaction(self, sent_together: bool = False) -> Iterator[None]:
        together = self.connection.pipeline() if sent_together else nullcontext()
        try:
            with together, self.connection.transaction():
                yield
        except psycopg.Error as exc:
            raise self._failure(exc) from exc
        finally:
            self._refusal = None

    def require(self, query: str, refusal: OrchestratorError) -> None:
        # A block the server runs in turn with the statements sent with it: it raises, and so
        # ends the transaction, when the query finds nothing
        self._refusal = refusal
        self.execute(
            f"DO $$BEGIN IF NOT EXISTS ({query}) THEN RAISE EXCEPTION '{_REFUSED}'; END IF; END$$"
        )

    def any_of(self, column: str) -> str:
        return f"{column} = ANY(?)"

    def list_argument(self, values: Sequence[str | int]) -> object:
        return list(values)

    def table_of(
        self, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]
    ) -> tuple[str, list[object]]:
        arrays = ", ".join(f"?::{kind}[]" for _, kind in columns)
        names = ", ".join(name for name, _ in columns)
        values: list[object] = [list(column) for column in zip(*rows, strict=True)]
        values = values or [[] for _ in columns]
        return f"unnest({arrays}) AS j ({names})", values

    def unindexed(self, column: str) -> str:
        # A text column as an expression no index matches. Early in a ledger's life (no
        # statistics yet) the planner takes a few rows for each state, and walked every
        # posted row through the state's index for each settle of 20 answers.
        return f"({column} || '')"

    def checked_only(self, condition: str) -> str:
        return condition

    def add_input_chunk(self, job: str, period: str, rows: str, now: float) -> int:
        """COPY: the fastest way into PostgreSQL, one round trip for the chunk."""
        chunk = msgspec.json.decode(rows, type=list[_ChunkRow])
        try:
            with self.connection.cursor().copy(
                f"COPY inputs ({_CHUNK_COLUMNS}) FROM STDIN"
            ) as copy:
                for key, tag, line, body, cost in chunk:
                    copy.write_row(
                        (job, period, key, tag, line, body.encode(), cost, "pending", now)
                    )
        except psycopg.Error as exc:
            raise self._failure(exc) from exc
        return len(chunk)

    def copy_in(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
        count = 0
        try:
            with self.connection.cursor().copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        except psycopg.Error as exc:
            raise self._failure(exc) from exc
        return count

    def restart_identities(self) -> None:
        for table in IDENTITY_TABLES:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )

    def try_hold(self, key: str) -> bool:
        row = self.execute("SELECT pg_try_advisory_lock(hashtextextended(?, 0))", (key,))
        return bool(row.fetchone()[0])

    def let_go(self, key: str) -> None:
        self.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", (key,))

    def load_mode(self, on: bool) -> None:
        """The server's memory is the server's to give: nothing to change."""

    def failure(self, exc: BaseException) -> OrchestratorError | None:
        if isinstance(exc, psycopg.Error):
            return self._failure(exc)
        return None

    def _failure(self, exc: psycopg.Error) -> OrchestratorError:
        """What the server said, on one line without the password: the machine's failure (exit
        74) when it cannot be reached, is out of disk or refuses this user; else the ledger's."""
        if isinstance(exc, pg_errors.RaiseException) and _REFUSED in str(exc) and self._refusal:
            return self._refusal  # what `require` found missing
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "***")
        if isinstance(exc, pg_errors.DiskFull):
            return MachineError(self.name, f"ledger: {text}", "free space on the server's disk")
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return MachineError(self.name, f"ledger: {text}", "grant this user the ledger's tables")
        if isinstance(exc, psycopg.OperationalError):
            return MachineError(self.name, f"ledger: {text}", _UNREACHABLE)
        return LedgerError(f"{self.name}: {text}")

    def close(self) -> None:
        """Release this session's locks (the run's among them), then close the connection.
        The server frees a closed session's locks only once its process has ended, after
        `close` returned: a command started at once could find the lock still held (exit 75).
        A session already lost has no locks left to release."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                conn.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            pass  # the connection broke: the server ends the session, and its locks with it
        finally:
            conn.close()
