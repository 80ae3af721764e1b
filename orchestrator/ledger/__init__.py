"""The ledger: one database (a SQLite file, or PostgreSQL) holding every input's state, so that a
run can be killed at any instant and the next one neither re-posts a paid task nor loses a result.

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

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from orchestrator.errors import LedgerError, MovedLedger, NoLedger
from orchestrator.ledger.attempts import LedgerAttempts
from orchestrator.ledger.bucket_folders import LedgerBucketFolders
from orchestrator.ledger.copy import Copied, copy_ledger
from orchestrator.ledger.loads import (
    InputRow,
    LedgerLoads,
    LoadRecord,
    Progress,
    Restored,
)
from orchestrator.ledger.migrations import VERSION
from orchestrator.ledger.reads import (
    DONE,
    FAILED,
    MISSED,
    PENDING,
    POSTED,
    POSTING,
    STATES,
)
from orchestrator.ledger.runs import LedgerRuns
from orchestrator.ledger.sqlite_engine import SQLiteEngine
from orchestrator.ledger.store import Engine
from orchestrator.ledger.workers import Worker

log = logging.getLogger(__name__)

MOVED_TO: Final = "moved_to"  # the meta row of a ledger copied to a server
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


def is_url(location: str | Path) -> bool:
    """A ledger on a PostgreSQL server (`postgresql://...`) rather than a SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))


def open_engine(
    location: str | Path, password: str | None, readonly: bool, workers: bool = False
) -> Engine:
    """The engine of a ledger's location: a PostgreSQL URL or a SQLite file's path. `workers`:
    opened for a run, which on a server shares the ledger with other runs (workers.py)."""
    if is_url(location):
        from orchestrator.ledger.postgres_engine import (
            PostgresEngine,  # psycopg: the [postgres] extra
        )

        return PostgresEngine(str(location), password, readonly=readonly, workers=workers)
    return SQLiteEngine(str(location), readonly=readonly)


class Ledger(LedgerAttempts, LedgerBucketFolders, LedgerLoads, LedgerRuns):
    """The state database of one config; opening it for a run takes the run's lock. Reads are
    in reads.py, new rows in loads.py, the record of POST attempts in attempts.py, runs and
    the jobs' homes in runs.py, several runs at once in workers.py; the database under them
    is an `Engine` (store.py)."""

    def __init__(
        self, location: str | Path, password: str | None = None, workers: bool = False
    ) -> None:
        self.readonly, self._password = False, password
        self._db = open_engine(location, password, readonly=False, workers=workers)
        self.path = self._db.name
        found, now = self._db.migrated_from, VERSION
        if 0 <= found < now:
            log.warning(
                "ledger_migrated path=%s from_version=%d to_version=%d", self.path, found, now
            )
        self.id, self.first_tagged_batch = self._identity()

    @classmethod
    def reader(cls, location: str | Path, password: str | None = None) -> "Ledger":
        """A read-only view for `status`, `export` and `report`: no lock (a run may be going
        on), no writes; it reads the last committed state while a run writes."""
        if not is_url(location) and not Path(location).exists():
            raise NoLedger(f"{location}: no ledger yet (nothing has run with this config)")
        ledger = cls.__new__(cls)
        ledger.readonly, ledger._password = True, password
        ledger._db = open_engine(location, password, readonly=True)
        ledger.path = ledger._db.name
        ledger.id, ledger.first_tagged_batch = ledger._identity()
        return ledger

    def where(self) -> tuple[str, str | None]:
        """(location, password) to open a reader of this ledger in another process."""
        return self.path, self._password

    def _identity(self) -> tuple[str, int]:
        """(ledger id, first batch whose tasks carry tagged attempts). A ledger copied to a
        server is refused: the copy carries on its work, and two would each post the other's."""
        meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        if MOVED_TO in meta:
            self.close()
            raise MovedLedger(
                f"{self.path}: this ledger was copied to {meta[MOVED_TO]} (`orchestrator ledger"
                " copy`), which carries on its work: set [state] url to it; this file is kept"
                " only as a record"
            )
        return str(meta["ledger_id"]), int(meta["first_tagged_batch"])

    def copy_to(self, target: "Ledger", config_home: str) -> Copied:
        """Copy this SQLite ledger, history and identity, into the empty ledger `target` on a
        server, then mark this one as moved (copy.py)."""
        if self._db.home is None or target._db.home is not None:
            raise LedgerError(f"{self.path}: only a SQLite ledger is copied, to a server")
        copied = copy_ledger(self._db, target._db, self._db.home, config_home)
        self.mark_moved(target.path)
        return copied

    def mark_moved(self, url: str) -> None:
        """This ledger's work goes on in the copy at `url`: it is never opened again."""
        self._tx("INSERT INTO meta (name, value) VALUES (?, ?)", [(MOVED_TO, url)])

    def adopt_identity(self, ledger_id: str) -> None:
        """Take the id of a lost ledger (`recover`): its tasks' tags and its folders' markers
        name that id, and this ledger is to carry on its work."""
        self._tx("UPDATE meta SET value = ? WHERE name = 'ledger_id'", [(ledger_id,)])
        self.id = ledger_id

    def webhook_secret(self) -> str:
        """The secret in this ledger's postback and pingback URLs, made on first use and kept,
        so that a delivery for a task posted by an earlier run is still recognised."""
        import secrets  # 10 ms of every command's start, for what postbacks alone use

        with self._db.transaction():
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES ('webhook_secret', ?)"
                " ON CONFLICT DO NOTHING",
                (secrets.token_urlsafe(24),),
            )
            row = self._db.execute("SELECT value FROM meta WHERE name = 'webhook_secret'")
            return str(row.fetchone()[0])

    def close(self) -> None:
        """Close the database and release the run's lock."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def claim_batch(
        self, job: str, period: str, limit: int, run_id: int | None = None
    ) -> tuple[int, list[Claimed]]:
        """Move up to `limit` pending inputs of one job and period to posting under a new
        batch id (write-ahead), recorded as an attempt of `run_id` not yet sent. A run
        already adopted claims nothing (LeaseLost): its adopter has its work."""
        with self.fenced():
            rows = self._db.execute(
                "SELECT id, tag, body, est_cost FROM inputs"
                f" WHERE state = '{PENDING}' AND job = ? AND period = ? ORDER BY line LIMIT ?"
                + self._db.skip_locked,
                (job, period, limit),
            ).fetchall()
            if not rows:
                return 0, []
            now = time.time()
            batch = self._db.execute(
                "INSERT INTO batches (job, created_at, run_id) VALUES (?, ?, ?) RETURNING id",
                (job, now, run_id),
            ).fetchone()[0]
            self._db.execute(
                f"UPDATE inputs SET state = '{POSTING}', batch_id = ?, updated_at = ?"
                f" WHERE {self._db.any_of('id')}",
                (batch, now, self._db.list_argument([row_id for row_id, *_ in rows])),
            )
        return int(batch), [Claimed(tag, body, cost) for _, tag, body, cost in rows]

    def mark_missed(self, job: str, keep: Iterable[str]) -> int:
        """pending -> missed for the job's periods other than `keep`: their time has passed,
        and a SERP of the past cannot be fetched now. One-shot rows (period '') never miss."""
        with self._db.transaction():
            return self._db.execute(
                f"UPDATE inputs SET state = '{MISSED}', updated_at = ?"
                f" WHERE state = '{PENDING}' AND job = ? AND period != ''"
                f" AND NOT {self._db.any_of('period')}",
                (time.time(), job, self._db.list_argument(sorted(keep))),
            ).rowcount

    def mark_posted(self, created: Sequence[tuple[str, str, float]], month: str) -> int:
        """(tag, task_id, cost) of tasks the API created: posting -> posted; their cost is
        added to the spend of `month` (the monthly budget's calendar) in the same transaction.
        One statement for the batch: on a server, one round trip, not two a task. Refused
        (LeaseLost) for a run already adopted: its adopter settles those attempts from
        id_list's evidence, and may have posted the rows again under their tags."""
        now = time.time()
        table, args = self._db.table_of(
            (("tag", "text"), ("task_id", "text"), ("cost", "float8")), created
        )
        posting = self._db.checked_only(f"inputs.state = '{POSTING}'")
        with self.fenced():
            costs = self._db.execute(
                f"UPDATE inputs SET state = '{POSTED}', task_id = j.task_id, cost = j.cost,"
                f" posted_at = ?, updated_at = ? FROM {table}"
                f" WHERE inputs.tag = j.tag AND {posting} RETURNING inputs.cost",
                (now, now, *args),
            ).fetchall()
            if costs:
                self._db.execute(
                    "INSERT INTO months (month, cost) VALUES (?, ?) ON CONFLICT (month)"
                    " DO UPDATE SET cost = months.cost + excluded.cost",
                    (month, sum(cost for (cost,) in costs)),
                )
            return len(costs)

    def release(self, tags: Iterable[str]) -> int:
        """posting -> pending for tasks known not to be created (the API refused the call).
        Refused (LeaseLost) for a run already adopted, as `mark_posted`: a late release
        would put back rows its adopter has posted again, to be paid for twice."""
        now = time.time()
        sql = f"UPDATE inputs SET state = ?, batch_id = NULL, updated_at = ? WHERE {POSTING_TAG}"
        with self.fenced():
            return self._db.executemany(sql, ((PENDING, now, tag) for tag in tags))

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
        posted = f"{self._db.unindexed('inputs.state')} = '{POSTED}'"  # the ids drive
        with self.fenced(sent_together=True):
            if done:
                table, args = self._db.table_of((("task_id", "text"),), [(t,) for t in done])
                self._db.execute(
                    f"UPDATE inputs SET state = '{DONE}', status_code = 20000, updated_at = ?"
                    f" FROM {table} WHERE inputs.task_id = j.task_id AND {posted}",
                    (now, *args),
                )
            if failed:
                columns = (("task_id", "text"), ("code", "int8"), ("message", "text"))
                table, args = self._db.table_of(columns, failed)
                self._db.execute(
                    f"UPDATE inputs SET state = '{FAILED}', status_code = j.code,"
                    f" error = j.message, updated_at = ? FROM {table}"
                    f" WHERE inputs.task_id = j.task_id AND {posted}",
                    (now, *args),
                )
            if refused:
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

    def rename_file(self, old: str, new: str) -> None:
        """An output file's record moves to its path relative to [output] dir."""
        self._tx("UPDATE files SET path = ? WHERE path = ?", [(new, old)])

    def own_file(self, path: str) -> None:
        """Record an empty output file as this ledger's, before anything is appended to it."""
        self._tx("INSERT INTO files (path, size) VALUES (?, 0) ON CONFLICT DO NOTHING", [(path,)])

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
    "Worker",
]
