"""The ledger: one SQLite file (WAL) holding every input's state, so that a run can be killed at
any instant and the next one neither re-posts a paid task nor loses a result.

    pending --claim--> posting --POST answered--> posted --result written--> done
       |                  |                          \\--task ended in error--> failed
       |                  |--answer lost (crash, drop)--> reconciled through id_list by tag
       |                  \\--refused before creation (40501, 40006, ...)--> failed
       \\--its period ended before it was posted--> missed (a past SERP cannot be had)

Each row belongs to a job and a period ('' for one-shot jobs): the same input is a new row,
with its own tag, in each period of a recurring job. The schema is in `migrations.py`.

Write-ahead: a batch is committed as *posting* before its POST goes out. Only `reconcile`
may move *posting* rows back to *pending*, after id_list showed their tags were not created.
Methods are synchronous and short (one transaction each); callers run them off the event loop.
"""

import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from orchestrator.errors import LedgerError, LockHeld, OrchestratorError
from orchestrator.migrations import OPEN_STATES_SQL, VERSION, migrate, version

log = logging.getLogger(__name__)

PENDING, POSTING, POSTED, DONE, FAILED = "pending", "posting", "posted", "done", "failed"
MISSED: Final = "missed"
STATES: Final = (PENDING, POSTING, POSTED, DONE, FAILED, MISSED)
InputRow = tuple[str, str, str, str, int, bytes, float]  # job, period, key, tag, line, body, cost


BY_TAG: Final = "job = ? AND period = ? AND key = ?"  # the primary key a tag spells


def row_of(tag: str) -> tuple[str, str, str]:
    """(job, period, key) of a row tag: `job:key` (one-shot) or `job:period:key`. Job names and
    period keys hold no colon."""
    parts = tag.split(":")
    if len(parts) == 2:
        return parts[0], "", parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise LedgerError(f"not a tag of this ledger: {tag!r}")


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
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MB: the key index of a big ledger
            found, now = migrate(self._db)
            if 0 <= found < now:
                log.warning(
                    "ledger_migrated path=%s from_version=%d to_version=%d", path, found, now
                )
            self.id, self.first_tagged_batch = self._identity()
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
            if version(ledger._db) < VERSION:
                # Made by an earlier version and not yet opened by a run: upgrade it once
                # (this takes the lock for a moment), then read.
                ledger._db.close()
                cls(ledger.path).close()
                ledger._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            ledger._db.execute("SELECT COUNT(*) FROM tally").fetchone()
            ledger.id, ledger.first_tagged_batch = ledger._identity()
        except sqlite3.Error as exc:
            ledger.close()
            raise LedgerError(f"{ledger.path}: {exc}") from exc
        except OrchestratorError:
            ledger.close()
            raise
        return ledger

    def _identity(self) -> tuple[str, int]:
        """(ledger id, first batch whose tasks carry tagged attempts)."""
        meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        return str(meta["ledger_id"]), int(meta["first_tagged_batch"])

    def adopt_identity(self, ledger_id: str) -> None:
        """Take the id of a lost ledger (`recover`): its tasks' tags and its folders' markers
        name that id, and this ledger is to carry on its work."""
        with self._db:
            self._db.execute("UPDATE meta SET value = ? WHERE name = 'ledger_id'", (ledger_id,))
        self.id = ledger_id

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

    def add_inputs(self, rows: Sequence[InputRow]) -> int:
        """Record (job, period, key, tag, line, body, est_cost) as pending; rows already known
        for that job and period stay as they are. One transaction, the tally included."""
        now = time.time()
        sql = (
            "INSERT OR IGNORE INTO inputs"
            " (job, period, key, tag, line, body, est_cost, state, updated_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, '{PENDING}', ?)"
        )
        groups: dict[tuple[str, str], list[InputRow]] = {}
        for row in rows:
            groups.setdefault((row[0], row[1]), []).append(row)
        added = 0
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for (job, period), group in groups.items():
                    new = self._db.executemany(sql, ((*row, now) for row in group)).rowcount
                    self._db.execute(
                        "INSERT INTO tally (job, period, state, n) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (job, period, state) DO UPDATE SET n = n + excluded.n",
                        (job, period, PENDING, new),
                    )
                    added += new
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc
        return added

    def claim_batch(self, job: str, period: str, limit: int) -> tuple[int, list[Claimed]]:
        """Move up to `limit` pending inputs of one job and period to posting under a new
        batch id (write-ahead)."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                rows = self._db.execute(
                    "SELECT rowid, tag, body, est_cost FROM inputs"
                    f" WHERE state = '{PENDING}' AND job = ? AND period = ? ORDER BY line LIMIT ?",
                    (job, period, limit),
                ).fetchall()
                if not rows:
                    return 0, []
                now = time.time()
                batch = self._db.execute(
                    "INSERT INTO batches (job, created_at) VALUES (?, ?)", (job, now)
                ).lastrowid
                self._db.executemany(
                    "UPDATE inputs SET state = ?, batch_id = ?, updated_at = ? WHERE rowid = ?",
                    ((POSTING, batch, now, rowid) for rowid, *_ in rows),
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc
        return int(batch or 0), [Claimed(tag, body, cost) for _, tag, body, cost in rows]

    def mark_missed(self, job: str, keep: Iterable[str]) -> int:
        """pending -> missed for the job's periods other than `keep`: their time has passed,
        and a SERP of the past cannot be fetched now. One-shot rows (period '') never miss."""
        now = time.time()
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                cursor = self._db.execute(
                    f"UPDATE inputs SET state = '{MISSED}', updated_at = ?"
                    f" WHERE state = '{PENDING}' AND job = ? AND period != ''"
                    " AND period NOT IN (SELECT value FROM json_each(?))",
                    (now, job, json.dumps(sorted(keep))),
                )
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def mark_posted(self, created: Sequence[tuple[str, str, float]], month: str) -> int:
        """(tag, task_id, cost) of tasks the API created: posting -> posted; their cost is
        added to the spend of `month` (the monthly budget's calendar) in the same transaction."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, task_id = ?, cost = ?, posted_at = ?, updated_at = ?"
            f" WHERE {BY_TAG} AND state = ?"
        )
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                changed = 0
                for tag, tid, cost in created:
                    cursor = self._db.execute(
                        sql, (POSTED, tid, cost, now, now, *row_of(tag), POSTING)
                    )
                    if cursor.rowcount:
                        changed += 1
                        self._db.execute(
                            "INSERT INTO months (month, cost) VALUES (?, ?)"
                            " ON CONFLICT (month) DO UPDATE SET cost = cost + excluded.cost",
                            (month, cost),
                        )
                return changed
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def release(self, tags: Iterable[str]) -> int:
        """posting -> pending for tasks known not to be created (the API refused the call)."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, batch_id = NULL, updated_at = ?"
            f" WHERE {BY_TAG} AND state = ?"
        )
        return self._tx(sql, ((PENDING, now, *row_of(tag), POSTING) for tag in tags))

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
                    f" WHERE {BY_TAG} AND state = ?",
                    ((FAILED, code, msg, now, *row_of(tag), POSTING) for tag, code, msg in refused),
                )
                self._db.execute(
                    "INSERT INTO files (path, size) VALUES (?, ?)"
                    " ON CONFLICT (path) DO UPDATE SET size = excluded.size",
                    (path, size),
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def committed_size(self, path: str) -> int | None:
        """Bytes of an output file that belong to settled tasks; None for a file this ledger
        never wrote."""
        row = self._db.execute("SELECT size FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else int(row[0])

    def own_file(self, path: str) -> None:
        """Record an empty output file as this ledger's, before anything is appended to it."""
        self._tx("INSERT OR IGNORE INTO files (path, size) VALUES (?, 0)", [(path,)])

    def posted(
        self, older_than: float | None = None, limit: int | None = None
    ) -> list[tuple[str, str, str]]:
        """(task_id, job, period) of posted tasks, optionally only those posted before a time,
        oldest first."""
        sql = f"SELECT task_id, job, period FROM inputs WHERE state = '{POSTED}'"
        args: tuple[object, ...] = ()
        if older_than is not None:
            sql += " AND posted_at < ?"
            args += (older_than,)
        if limit is not None:
            sql += " ORDER BY posted_at LIMIT ?"
            args += (limit,)
        return [(str(t), str(j), str(p)) for t, j, p in self._db.execute(sql, args)]

    def mark_fetching(self, task_ids: Sequence[str]) -> None:
        """Write-ahead for task_get: these tasks' answers are about to be asked for. task_get
        takes a task off tasks_ready, so a task whose answer a crash lost is then found only
        here, and fetched by id at the next start. One transaction for many tasks."""
        now = time.time()
        sql = f"UPDATE inputs SET fetch_at = ? WHERE task_id = ? AND state = '{POSTED}'"
        self._tx(sql, ((now, tid) for tid in task_ids))

    def fetching(self) -> list[tuple[str, str, str]]:
        """(task_id, job, period) of posted tasks whose task_get may have been answered."""
        sql = (
            "SELECT task_id, job, period FROM inputs"
            f" WHERE state = '{POSTED}' AND fetch_at IS NOT NULL"
        )
        return [(str(t), str(j), str(p)) for t, j, p in self._db.execute(sql)]

    def outstanding(self) -> int:
        """Inputs not yet done, failed or missed."""
        row = self._db.execute(f"SELECT COUNT(*) FROM inputs WHERE state IN {OPEN_STATES_SQL}")
        return int(row.fetchone()[0])

    def in_flight(self, jobs: Sequence[str]) -> int:
        """Inputs of `jobs` posted (or maybe posted) whose results are not yet settled."""
        row = self._db.execute(
            f"SELECT COUNT(*) FROM inputs WHERE state IN ('{POSTING}', '{POSTED}')"
            " AND job IN (SELECT value FROM json_each(?))",
            (json.dumps(list(jobs)),),
        ).fetchone()
        return int(row[0])

    def posting_batches(self) -> dict[int, tuple[float, list[str]]]:
        """batch id -> (when it was claimed, its tags) for the rows whose POST may or may not
        have created a task (a crash or a lost answer)."""
        found: dict[int, tuple[float, list[str]]] = {}
        sql = (
            "SELECT i.batch_id, COALESCE(b.created_at, i.updated_at), i.tag FROM inputs i"
            f" LEFT JOIN batches b ON b.id = i.batch_id WHERE i.state = '{POSTING}'"
        )
        for batch, claimed_at, tag in self._db.execute(sql):
            found.setdefault(int(batch or 0), (float(claimed_at), []))[1].append(str(tag))
        return found

    def reconcile(
        self, created: Sequence[tuple[str, str, float]], batches: Iterable[int], month: str
    ) -> tuple[int, int]:
        """Settle the posting rows of `batches`, which id_list answered for completely: the
        tags in `created` (tag, task id, cost) become posted, the rest pending again.

        Returns (found, released). Rows of other batches are left as they are.
        """
        found = self.mark_posted(created, month)
        now = time.time()
        released = self._tx(
            "UPDATE inputs SET state = ?, batch_id = NULL, updated_at = ?"
            " WHERE batch_id = ? AND state = ?",
            ((PENDING, now, batch, POSTING) for batch in batches),
        )
        return found, released

    def posted_jobs(self, task_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """task id -> (job, period) for those of `task_ids` this ledger posted and has not
        settled.

        The ids go in as one JSON array, so this is one prepared statement whatever their
        number (an `IN (?, ?, ...)` of varying length would fill the statement cache).
        """
        sql = (
            "SELECT task_id, job, period FROM inputs"
            f" WHERE task_id IN (SELECT value FROM json_each(?)) AND state = '{POSTED}'"
        )
        ids = json.dumps(list(task_ids))
        return {str(t): (str(j), str(p)) for t, j, p in self._db.execute(sql, (ids,))}

    def counts(self, job: str, period: str | None = None) -> dict[str, int]:
        """Inputs of `job` by state, over all its periods or in one (pruned rows left out)."""
        found = dict.fromkeys(STATES, 0)
        sql = "SELECT state, SUM(n) FROM tally WHERE job = ?"
        args: tuple[str, ...] = (job,)
        if period is not None:
            sql += " AND period = ?"
            args += (period,)
        for state, count in self._db.execute(sql + " GROUP BY state", args):
            found[state] = int(count)
        return found

    def periods(self, job: str, limit: int | None = None) -> list[str]:
        """The job's periods, newest first ('' for its one-shot inputs)."""
        sql = "SELECT DISTINCT period FROM tally WHERE job = ? ORDER BY period DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [str(r[0]) for r in self._db.execute(sql, (job,))]

    def period_summary(self, job: str, period: str) -> tuple[dict[str, int], float, int]:
        """(counts by state, spend, pruned rows) of one period of a job."""
        counts = dict.fromkeys(STATES, 0)
        spent, pruned = 0.0, 0
        for state, n, cost, gone in self._db.execute(
            "SELECT state, n, cost, pruned FROM tally WHERE job = ? AND period = ?", (job, period)
        ):
            counts[state] = int(n)
            spent += float(cost)
            pruned += int(gone)
        return counts, spent, pruned

    def prune(self, job: str, before: str | None = None, keep: int | None = None) -> int:
        """Delete the settled rows (done, failed, missed) of the job's periods older than
        `before`, or of all but its `keep` newest periods. Outstanding rows stay, and so does
        what every row cost (in `tally`). Returns the rows deleted."""
        periods = [p for p in self.periods(job) if p]
        if keep is not None:
            doomed = periods[keep:]
        else:
            doomed = [p for p in periods if before is not None and p < before]
        sql = (
            "DELETE FROM inputs WHERE job = ? AND period = ?"
            f" AND state IN ('{DONE}', '{FAILED}', '{MISSED}')"
        )
        return self._tx(sql, ((job, p) for p in doomed))

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
                "UPDATE runs SET ended_at = ?, exit_code = ?, reason = ?, waiting = NULL"
                " WHERE id = ?",
                (time.time(), exit_code, reason, run_id),
            )

    def note_waiting(self, run_id: int, what: str | None, until: float | None) -> None:
        """What a run is waiting on now (None: nothing), for `status` to tell."""
        with self._db:
            self._db.execute(
                "UPDATE runs SET waiting = ?, waiting_until = ? WHERE id = ?", (what, until, run_id)
            )

    def last_run(
        self,
    ) -> tuple[float, float | None, int | None, str | None, str | None, float | None] | None:
        """(started_at, ended_at, exit_code, reason, waiting, waiting_until) of the latest run."""
        row = self._db.execute(
            "SELECT started_at, ended_at, exit_code, reason, waiting, waiting_until FROM runs"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4], row[5])

    def jobs(self) -> list[str]:
        """Every job with inputs in this ledger."""
        return [str(r[0]) for r in self._db.execute("SELECT DISTINCT job FROM tally ORDER BY job")]

    def job_spent(self, job: str, period: str | None = None) -> float:
        """Cost charged for the tasks of one job, over all its periods or in one."""
        sql = "SELECT COALESCE(SUM(cost), 0) FROM tally WHERE job = ?"
        args: tuple[str, ...] = (job,)
        if period is not None:
            sql += " AND period = ?"
            args += (period,)
        return float(self._db.execute(sql, args).fetchone()[0])

    def oldest_posted(self, job: str) -> tuple[str, float] | None:
        """(task_id, posted_at) of the job's longest-waiting posted task."""
        row = self._db.execute(
            f"SELECT task_id, posted_at FROM inputs WHERE state = '{POSTED}' AND job = ?"
            " ORDER BY posted_at LIMIT 1",
            (job,),
        ).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def spent(self) -> float:
        """Actual cost charged so far (task_post costs of created tasks, pruned ones too)."""
        return float(self._db.execute("SELECT COALESCE(SUM(cost), 0) FROM tally").fetchone()[0])

    def month_spent(self, month: str) -> float:
        """Cost charged for tasks posted in a calendar month (`2026-11`)."""
        row = self._db.execute("SELECT cost FROM months WHERE month = ?", (month,)).fetchone()
        return 0.0 if row is None else float(row[0])
