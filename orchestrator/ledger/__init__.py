"""The ledger: one SQLite file (WAL) holding every input's state, so that a run can be killed at
any instant and the next one neither re-posts a paid task nor loses a result.

    pending --claim--> posting --POST answered--> posted --result written--> done
       |                  |                          \\--task ended in error--> failed
       |                  |--answer lost (crash, drop)--> reconciled through id_list by tag
       |                  \\--refused before creation (40501, 40006, ...)--> failed
       \\--its period ended before it was posted--> missed (a past SERP cannot be had)

Each row belongs to a job and a period ('' for one-shot jobs): the same input is a new row,
with its own tag, in each period of a recurring job. The schema is in `migrations.py`.

Write-ahead: a batch is committed as *posting* before its POST goes out, and the moment it goes
on the wire is recorded before it does (attempts.py). *posting* rows go back to *pending* only
when the API said it created nothing, or when `repost.py` decides so from that record.
Methods are synchronous and short (one transaction each); callers run them off the event loop.
"""

import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from orchestrator.errors import (
    LedgerError,
    LockHeld,
    NewerLedger,
    NoLedger,
    machine_error,
)
from orchestrator.ledger.attempts import LedgerAttempts
from orchestrator.ledger.loads import (
    RUN_CACHE_KB,
    InputRow,
    LedgerLoads,
    LoadRecord,
    Progress,
    Restored,
)
from orchestrator.ledger.migrations import VERSION, migrate, refuse_newer, version
from orchestrator.ledger.reads import (
    DONE,
    FAILED,
    MISSED,
    PENDING,
    POSTED,
    POSTING,
    STATES,
    LedgerReads,
)
from orchestrator.ledger.runs import LedgerRuns
from orchestrator.ledger.store import ledger_failure

log = logging.getLogger(__name__)

# A posting row, by its row tag: `inputs_posting` indexes the few rows in flight.
POSTING_TAG: Final = f"tag = ? AND state = '{POSTING}'"


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


class Ledger(LedgerReads, LedgerLoads, LedgerAttempts, LedgerRuns):
    """The state database of one config; `open` takes an exclusive lock on it. Reads are in
    reads.py, new rows in loads.py, the record of POST attempts in
    attempts.py, runs and the jobs' homes in runs.py."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock_fd: int | None = None
        self.readonly = False
        with self._opening():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit (a claim, a send, a settle) is on disk when it returns, so it
            # survives a power loss as well as a kill; NORMAL lost the last commits then.
            self._db.execute("PRAGMA synchronous=FULL")
            # 4 MB of pages while the run posts and collects (a bigger cache only held its
            # memory up by the size of what it had loaded: 64 MB was 120 MB of RSS after 200k
            # inputs); a load raises it while it writes (ledger/loads.py)
            self._db.execute(f"PRAGMA cache_size=-{RUN_CACHE_KB}")
            found, now = migrate(self._db)
            if 0 <= found < now:
                log.warning(
                    "ledger_migrated path=%s from_version=%d to_version=%d", path, found, now
                )
            self.id, self.first_tagged_batch = self._identity()

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """What opening the ledger meets, as the error that names it (a SQLite error, the
        disk's, a newer schema); a ledger half opened is closed."""
        try:
            yield
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.Error):
                raise ledger_failure(self.path, exc) from exc
            if isinstance(exc, OSError):
                raise machine_error(exc, self.path) from exc
            if isinstance(exc, NewerLedger):
                raise NewerLedger(f"{self.path}: {exc}") from None
            raise

    @classmethod
    def reader(cls, path: str | Path) -> "Ledger":
        """A read-only view for `status`: no lock (a run may be going on), no writes. WAL lets
        it read the last committed state while a run writes."""
        ledger = cls.__new__(cls)
        ledger.path, ledger._lock_fd, ledger.readonly = str(path), None, True
        if not Path(ledger.path).exists():
            raise NoLedger(f"{ledger.path}: no ledger yet (nothing has run with this config)")
        with ledger._opening():
            uri = Path(ledger.path).resolve().as_uri() + "?mode=ro"
            ledger._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            found = version(ledger._db)
            refuse_newer(found)  # status and export too
            if found < VERSION:
                # Made by an earlier version and not yet opened by a run: upgrade it once
                # (this takes the lock for a moment), then read.
                ledger._db.close()
                cls(ledger.path).close()
                ledger._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            ledger._db.execute("SELECT COUNT(*) FROM tally").fetchone()
            ledger.id, ledger.first_tagged_batch = ledger._identity()
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

    def webhook_secret(self) -> str:
        """The secret in this ledger's postback and pingback URLs, made on first use and kept,
        so that a delivery for a task posted by an earlier run is still recognised."""
        import secrets  # 10 ms of every command's start, for what postbacks alone use

        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('webhook_secret', ?)",
                (secrets.token_urlsafe(24),),
            )
            row = self._db.execute("SELECT value FROM meta WHERE name = 'webhook_secret'")
            return str(row.fetchone()[0])

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

    def claim_batch(
        self, job: str, period: str, limit: int, run_id: int | None = None
    ) -> tuple[int, list[Claimed]]:
        """Move up to `limit` pending inputs of one job and period to posting under a new
        batch id (write-ahead), recorded as an attempt of `run_id` not yet sent."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                rows = self._db.execute(
                    "SELECT id, tag, body, est_cost FROM inputs"
                    f" WHERE state = '{PENDING}' AND job = ? AND period = ? ORDER BY line LIMIT ?",
                    (job, period, limit),
                ).fetchall()
                if not rows:
                    return 0, []
                now = time.time()
                batch = self._db.execute(
                    "INSERT INTO batches (job, created_at, run_id) VALUES (?, ?, ?)",
                    (job, now, run_id),
                ).lastrowid
                self._db.executemany(
                    "UPDATE inputs SET state = ?, batch_id = ?, updated_at = ? WHERE id = ?",
                    ((POSTING, batch, now, row_id) for row_id, *_ in rows),
                )
        except sqlite3.Error as exc:
            raise ledger_failure(self.path, exc) from exc
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
            raise ledger_failure(self.path, exc) from exc

    def mark_posted(self, created: Sequence[tuple[str, str, float]], month: str) -> int:
        """(tag, task_id, cost) of tasks the API created: posting -> posted; their cost is
        added to the spend of `month` (the monthly budget's calendar) in the same transaction."""
        now = time.time()
        sql = (
            "UPDATE inputs SET state = ?, task_id = ?, cost = ?, posted_at = ?, updated_at = ?"
            f" WHERE {POSTING_TAG}"
        )
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                changed = 0
                for tag, tid, cost in created:
                    cursor = self._db.execute(sql, (POSTED, tid, cost, now, now, tag))
                    if cursor.rowcount:
                        changed += 1
                        self._db.execute(
                            "INSERT INTO months (month, cost) VALUES (?, ?)"
                            " ON CONFLICT (month) DO UPDATE SET cost = cost + excluded.cost",
                            (month, cost),
                        )
                return changed
        except sqlite3.Error as exc:
            raise ledger_failure(self.path, exc) from exc

    def release(self, tags: Iterable[str]) -> int:
        """posting -> pending for tasks known not to be created (the API refused the call)."""
        now = time.time()
        sql = f"UPDATE inputs SET state = ?, batch_id = NULL, updated_at = ? WHERE {POSTING_TAG}"
        return self._tx(sql, ((PENDING, now, tag) for tag in tags))

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
                    f" WHERE {POSTING_TAG}",
                    ((FAILED, code, msg, now, tag) for tag, code, msg in refused),
                )
                self._db.execute(
                    "INSERT INTO files (path, size) VALUES (?, ?)"
                    " ON CONFLICT (path) DO UPDATE SET size = excluded.size",
                    (path, size),
                )
        except sqlite3.Error as exc:
            raise ledger_failure(self.path, exc) from exc

    def rename_file(self, old: str, new: str) -> None:
        """An output file's record moves to its path relative to [output] dir."""
        self._tx("UPDATE files SET path = ? WHERE path = ?", [(new, old)])

    def own_file(self, path: str) -> None:
        """Record an empty output file as this ledger's, before anything is appended to it."""
        self._tx("INSERT OR IGNORE INTO files (path, size) VALUES (?, 0)", [(path,)])

    def mark_fetching(self, task_ids: Sequence[str]) -> None:
        """Write-ahead for task_get: these tasks' answers are about to be asked for. task_get
        takes a task off tasks_ready, so a task whose answer a crash lost is then found only
        here, and fetched by id at the next start. One transaction for many tasks."""
        now = time.time()
        sql = f"UPDATE inputs SET fetch_at = ? WHERE task_id = ? AND state = '{POSTED}'"
        self._tx(sql, ((now, tid) for tid in task_ids))

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


__all__ = [
    "DONE",
    "FAILED",
    "MISSED",
    "PENDING",
    "POSTED",
    "POSTING",
    "STATES",
    "InputRow",
    "Ledger",
    "LoadRecord",
    "Progress",
    "Restored",
]
