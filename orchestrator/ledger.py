"""The ledger: one SQLite file (WAL) holding every input's state, so that a run can be killed at
any instant and the next one neither re-posts a paid task nor loses a result.

    pending --claim--> posting --POST answered--> posted --result written--> done
                          |                          \\--task ended in error--> failed
                          |--answer lost (crash, drop)--> reconciled through id_list by tag
                          \\--refused before creation (40501, 40006, ...)--> failed

Write-ahead: a batch is committed as *posting* before its POST goes out. Only `reconcile`
may move *posting* rows back to *pending*, after id_list showed their tags were not created.
Methods are synchronous and short (one transaction each); callers run them off the event loop.
"""

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from orchestrator.errors import LedgerError, LockHeld

PENDING, POSTING, POSTED, DONE, FAILED = "pending", "posting", "posted", "done", "failed"
STATES: Final = (PENDING, POSTING, POSTED, DONE, FAILED)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS inputs (
    job TEXT NOT NULL,
    key TEXT NOT NULL,
    tag TEXT NOT NULL UNIQUE,
    line INTEGER NOT NULL,
    body BLOB NOT NULL,
    est_cost REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'posting', 'posted', 'done', 'failed')),
    batch_id INTEGER,
    task_id TEXT UNIQUE,
    cost REAL,
    status_code INTEGER,
    error TEXT,
    posted_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (job, key)
);
CREATE INDEX IF NOT EXISTS inputs_state ON inputs (job, state);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    exit_code INTEGER,
    reason TEXT,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    """An input claimed for a POST: what to send and how to recognise it afterwards."""

    tag: str
    body: bytes
    est_cost: float


class Ledger:
    """The state database of one config; `open` takes an exclusive lock on it."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock_fd: int | None = None
        self.readonly = False
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self.close()
            raise LedgerError(f"{self.path}: {exc}") from exc
        except OSError as exc:
            self.close()
            raise LedgerError(f"{self.path}: {exc.strerror or exc}") from exc

    @classmethod
    def reader(cls, path: str | Path) -> "Ledger":
        """A read-only view for `status`: no lock (a run may be going on), no writes. WAL lets
        it read the last committed state while a run writes."""
        ledger = cls.__new__(cls)
        ledger.path, ledger._lock_fd, ledger.readonly = str(path), None, True
        if not Path(ledger.path).exists():
            raise LedgerError(f"{ledger.path}: no ledger yet (nothing has run with this config)")
        try:
            uri = Path(ledger.path).resolve().as_uri() + "?mode=ro"
            ledger._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            ledger._db.execute("SELECT COUNT(*) FROM inputs").fetchone()
        except sqlite3.Error as exc:
            ledger.close()
            raise LedgerError(f"{ledger.path}: {exc}") from exc
        return ledger

    def _take_lock(self) -> None:
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(
                f"{self.path}: another run holds the lock; this one touches nothing"
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        """Close the database and release the lock."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _tx(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run `sql` for each row in one transaction; returns rows changed."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                cursor = self._db.executemany(sql, rows)
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def add_inputs(self, rows: Iterable[tuple[str, str, str, int, bytes, float]]) -> int:
        """Record (job, key, tag, line, body, est_cost) as pending; known keys stay as they are."""
        now = time.time()
        sql = (
            "INSERT OR IGNORE INTO inputs (job, key, tag, line, body, est_cost, state, updated_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, '{PENDING}', ?)"
        )
        return self._tx(sql, ((*row, now) for row in rows))

    def claim_batch(self, job: str, limit: int) -> tuple[int, list[Claimed]]:
        """Move up to `limit` pending inputs to posting under a new batch id (write-ahead)."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                rows = self._db.execute(
                    "SELECT tag, body, est_cost FROM inputs WHERE job = ? AND state = ?"
                    " ORDER BY line LIMIT ?",
                    (job, PENDING, limit),
                ).fetchall()
                if not rows:
                    return 0, []
                now = time.time()
                batch = self._db.execute(
                    "INSERT INTO batches (job, created_at) VALUES (?, ?)", (job, now)
                ).lastrowid
                self._db.executemany(
                    "UPDATE inputs SET state = ?, batch_id = ?, updated_at = ? WHERE tag = ?",
                    ((POSTING, batch, now, tag) for tag, _, _ in rows),
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc
        return int(batch or 0), [Claimed(tag, body, cost) for tag, body, cost in rows]

    def mark_posted(self, created: Iterable[tuple[str, str, float]]) -> int:
        """(tag, task_id, cost) of tasks the API created: posting -> posted."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, task_id = ?, cost = ?, posted_at = ?, updated_at = ?"
            " WHERE tag = ? AND state = ?"
        )
        rows = ((POSTED, tid, cost, now, now, tag, POSTING) for tag, tid, cost in created)
        return self._tx(sql, rows)

    def release(self, tags: Iterable[str]) -> int:
        """posting -> pending for tasks known not to be created (the API refused the call)."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, batch_id = NULL, updated_at = ?"
            " WHERE tag = ? AND state = ?"
        )
        return self._tx(sql, ((PENDING, now, tag, POSTING) for tag in tags))

    def mark_failed(self, failures: Iterable[tuple[str, int, str]]) -> int:
        """(tag, status_code, message): the task will not produce a result."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, status_code = ?, error = ?, updated_at = ?"
            " WHERE tag = ? AND state IN (?, ?)"
        )
        rows = ((FAILED, code, msg, now, tag, POSTING, POSTED) for tag, code, msg in failures)
        return self._tx(sql, rows)

    def mark_done(self, task_ids: Iterable[str]) -> int:
        """posted -> done once the task's result is safely written."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, status_code = 20000, updated_at = ?"
            " WHERE task_id = ? AND state = ?"
        )
        return self._tx(sql, ((DONE, now, tid, POSTED) for tid in task_ids))

    def settle(
        self,
        path: str,
        size: int,
        done: Sequence[str],
        failed: Sequence[tuple[str, int, str]],
        refused: Sequence[tuple[str, int, str]] = (),
    ) -> None:
        """Record tasks as done/failed together with the output file's new committed size.

        `done` and `failed` name posted tasks by task id; `refused` names by tag the inputs
        task_post refused (still *posting*). One transaction: after a crash, the file is cut
        back to the size recorded here, so a line is in the output exactly when its input is
        settled in the ledger.
        """
        now = time.time()
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "UPDATE inputs SET state = ?, status_code = 20000, updated_at = ?"
                    " WHERE task_id = ? AND state = ?",
                    ((DONE, now, tid, POSTED) for tid in done),
                )
                self._db.executemany(
                    "UPDATE inputs SET state = ?, status_code = ?, error = ?, updated_at = ?"
                    " WHERE task_id = ? AND state = ?",
                    ((FAILED, code, msg, now, tid, POSTED) for tid, code, msg in failed),
                )
                self._db.executemany(
                    "UPDATE inputs SET state = ?, status_code = ?, error = ?, updated_at = ?"
                    " WHERE tag = ? AND state = ?",
                    ((FAILED, code, msg, now, tag, POSTING) for tag, code, msg in refused),
                )
                self._db.execute(
                    "INSERT INTO files (path, size) VALUES (?, ?)"
                    " ON CONFLICT (path) DO UPDATE SET size = excluded.size",
                    (path, size),
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def committed_size(self, path: str) -> int:
        """Bytes of an output file that belong to settled tasks (0 if never written)."""
        row = self._db.execute("SELECT size FROM files WHERE path = ?", (path,)).fetchone()
        return 0 if row is None else int(row[0])

    def posted(self, older_than: float | None = None) -> list[tuple[str, str]]:
        """(task_id, job) of posted tasks, optionally only those posted before a time."""
        sql = "SELECT task_id, job FROM inputs WHERE state = ?"
        args: tuple[object, ...] = (POSTED,)
        if older_than is not None:
            sql += " AND posted_at < ?"
            args += (older_than,)
        return [(str(t), str(j)) for t, j in self._db.execute(sql, args)]

    def outstanding(self) -> int:
        """Inputs not yet done or failed."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM inputs WHERE state IN (?, ?, ?)", (PENDING, POSTING, POSTED)
        ).fetchone()
        return int(row[0])

    def in_flight(self, jobs: Sequence[str]) -> int:
        """Inputs of `jobs` posted (or maybe posted) whose results are not yet settled."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM inputs WHERE state IN (?, ?)"
            " AND job IN (SELECT value FROM json_each(?))",
            (POSTING, POSTED, json.dumps(list(jobs))),
        ).fetchone()
        return int(row[0])

    def posting_tags(self) -> list[str]:
        """Tags whose POST may or may not have created a task (a crash or a lost answer)."""
        return [
            r[0] for r in self._db.execute("SELECT tag FROM inputs WHERE state = ?", (POSTING,))
        ]

    def reconcile(self, created: dict[str, tuple[str, float]]) -> tuple[int, int]:
        """Settle every posting row: tags id_list knows become posted, the rest pending again.

        Returns (found, released). Call only with id_list's complete answer for the period
        the posting batches could have been created in.
        """
        tags = self.posting_tags()
        found = [(tag, *created[tag]) for tag in tags if tag in created]
        missing = [tag for tag in tags if tag not in created]
        return self.mark_posted(found), self.release(missing)

    def posted_jobs(self, task_ids: Sequence[str]) -> dict[str, str]:
        """task id -> job for those of `task_ids` this ledger posted and has not settled.

        The ids go in as one JSON array, so this is one prepared statement whatever their
        number (an `IN (?, ?, ...)` of varying length would fill the statement cache).
        """
        sql = (
            "SELECT task_id, job FROM inputs"
            " WHERE state = ? AND task_id IN (SELECT value FROM json_each(?))"
        )
        ids = json.dumps(list(task_ids))
        return {str(t): str(j) for t, j in self._db.execute(sql, (POSTED, ids))}

    def counts(self, job: str) -> dict[str, int]:
        """Inputs of `job` by state."""
        found = dict.fromkeys(STATES, 0)
        for state, count in self._db.execute(
            "SELECT state, COUNT(*) FROM inputs WHERE job = ? GROUP BY state", (job,)
        ):
            found[state] = count
        return found

    def start_run(self) -> int:
        """Record that a run began; `end_run` records how it ended (a killed run never does)."""
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO runs (started_at, pid) VALUES (?, ?)", (time.time(), os.getpid())
            )
        return int(cursor.lastrowid or 0)

    def end_run(self, run_id: int, exit_code: int, reason: str) -> None:
        with self._db:
            self._db.execute(
                "UPDATE runs SET ended_at = ?, exit_code = ?, reason = ? WHERE id = ?",
                (time.time(), exit_code, reason, run_id),
            )

    def last_run(self) -> tuple[float, float | None, int | None, str | None] | None:
        """(started_at, ended_at, exit_code, reason) of the latest run, if any."""
        try:
            row = self._db.execute(
                "SELECT started_at, ended_at, exit_code, reason FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # a ledger from before runs were recorded
            return None
        return None if row is None else (row[0], row[1], row[2], row[3])

    def jobs(self) -> list[str]:
        """Every job with inputs in this ledger."""
        return [str(r[0]) for r in self._db.execute("SELECT DISTINCT job FROM inputs ORDER BY job")]

    def job_spent(self, job: str) -> float:
        """Cost charged for the tasks of one job."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(cost), 0) FROM inputs WHERE job = ? AND task_id IS NOT NULL",
            (job,),
        ).fetchone()
        return float(row[0])

    def oldest_posted(self, job: str) -> tuple[str, float] | None:
        """(task_id, posted_at) of the job's longest-waiting posted task."""
        row = self._db.execute(
            "SELECT task_id, posted_at FROM inputs WHERE job = ? AND state = ?"
            " ORDER BY posted_at LIMIT 1",
            (job, POSTED),
        ).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def spent(self) -> float:
        """Actual cost charged so far (task_post costs of created tasks)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(cost), 0) FROM inputs WHERE task_id IS NOT NULL"
        ).fetchone()
        return float(row[0])
