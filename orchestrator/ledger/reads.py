"""The ledger's reads: what status, the progress line, the poller and the budgets ask of it.
Each is one indexed query (or the tally), so they cost the same on a ledger of 10M rows."""

from collections.abc import Sequence
from typing import Any, Final

from orchestrator.ledger.migrations import OPEN_STATES_SQL
from orchestrator.ledger.store import Engine

PENDING, POSTING, POSTED, DONE, FAILED = "pending", "posting", "posted", "done", "failed"
MISSED: Final = "missed"
SPEND_DIGITS: Final = 9  # prices have at most 6 decimals (0.0006, 0.00075 a task)
STATES: Final = (PENDING, POSTING, POSTED, DONE, FAILED, MISSED)


class LedgerReads:
    """Read-only queries over one ledger connection."""

    _db: Engine

    def committed_size(self, path: str, legacy: str | None = None) -> int | None:
        """Bytes of an output file that belong to settled tasks; None for a file this ledger
        never wrote. `path` is relative to [output] dir; a ledger before version 4 recorded
        the absolute `legacy` path instead."""
        for name in (path, legacy):
            if name is not None:
                row = self._db.execute("SELECT size FROM files WHERE path = ?", (name,))
                found = row.fetchone()
                if found is not None:
                    return int(found[0])
        return None

    def recorded_files(self, prefix: str) -> dict[str, int]:
        """Every output file (or object) this ledger recorded under `prefix` ('g/'), with its
        committed size: what readers of a bucket take as the results, never a listing."""
        rows = self._db.execute(
            "SELECT path, size FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
        )
        return {str(path): int(size) for path, size in rows.fetchall()}

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

    def fetching(self, run_id: int | None = None) -> list[tuple[str, str, str]]:
        """(task_id, job, period) of posted tasks whose task_get may have been answered: with
        several runs at once, those `run_id` claimed or adopted (workers.py)."""
        sql = (
            "SELECT task_id, job, period FROM inputs"
            f" WHERE state = '{POSTED}' AND fetch_at IS NOT NULL"
        )
        args: tuple[object, ...] = ()
        if self._db.shared:
            sql += " AND (fetcher IS NULL OR fetcher = ?)"
            args = (run_id,)
        return [(str(t), str(j), str(p)) for t, j, p in self._db.execute(sql, args)]

    def outstanding(self) -> int:
        """Inputs not yet done, failed or missed."""
        row = self._db.execute(f"SELECT COUNT(*) FROM inputs WHERE state IN {OPEN_STATES_SQL}")
        return int(row.fetchone()[0])

    def in_flight(self, jobs: Sequence[str]) -> int:
        """Inputs of `jobs` posted (or maybe posted) whose results are not yet settled."""
        rows, args = self._in_flight_of(jobs)
        return int(self._db.execute(f"SELECT COUNT(*) {rows}", args).fetchone()[0])

    def anything_in_flight(self, jobs: Sequence[str]) -> bool:
        """Whether `in_flight` is above 0: one step of the state index, however many are."""
        rows, args = self._in_flight_of(jobs)
        return self._db.execute(f"SELECT 1 {rows} LIMIT 1", args).fetchone() is not None

    def _in_flight_of(self, jobs: Sequence[str]) -> tuple[str, tuple[object]]:
        """FROM and WHERE of the inputs of `jobs` posting or posted, and its argument."""
        where = f"state IN ('{POSTING}', '{POSTED}') AND {self._db.any_of('job')}"
        return f"FROM inputs WHERE {where}", (self._db.list_argument(jobs),)

    def row_state(self, job: str, period: str, key: str) -> str | None:
        """The state of one input's row (the identity index finds it), or None."""
        row = self._db.execute(
            "SELECT state FROM inputs WHERE job = ? AND period = ? AND key = ?", (job, period, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def task_state(self, task_id: str) -> str | None:
        """The state of the row that posted `task_id`, or None if no row did."""
        row = self._db.execute("SELECT state FROM inputs WHERE task_id = ?", (task_id,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def posted_jobs(self, task_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """task id -> (job, period) for those of `task_ids` this ledger posted and has not
        settled.

        The ids go in as one argument, so this is one prepared statement whatever their
        number. The state is compared `unindexed`: on the state index SQLite's planner would
        scan every posted row for each call.
        """
        sql = (
            f"SELECT task_id, job, period FROM inputs WHERE {self._db.any_of('task_id')}"
            f" AND {self._db.unindexed('state')} = '{POSTED}'"
        )
        ids = self._db.list_argument(task_ids)
        return {str(t): (str(j), str(p)) for t, j, p in self._db.execute(sql, (ids,))}

    def posted_rows(self, task_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """task id -> (job, period, row tag) for those of `task_ids` this ledger posted and
        has not settled (as `posted_jobs`, with the tag an answer must echo)."""
        sql = (
            f"SELECT task_id, job, period, tag FROM inputs WHERE {self._db.any_of('task_id')}"
            f" AND {self._db.unindexed('state')} = '{POSTED}'"
        )
        ids = self._db.list_argument(task_ids)
        return {str(t): (str(j), str(p), str(g)) for t, j, p, g in self._db.execute(sql, (ids,))}

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

    def last_run(self) -> tuple[Any, ...] | None:
        """(started_at, ended_at, exit_code, reason, waiting, waiting_until, delivered, polled)
        of the latest run; the last two are None for a run without postbacks."""
        row = self._db.execute(
            "SELECT started_at, ended_at, exit_code, reason, waiting, waiting_until, delivered,"
            " polled FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else tuple(row)

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
        """Actual cost charged so far (task_post costs of created tasks, pruned ones too),
        to SPEND_DIGITS: the tally's per-state sums drift in the last bits as rows change
        state, and a run that spent nothing must not read as having spent -0.0000."""
        row = self._db.execute("SELECT COALESCE(SUM(cost), 0) FROM tally").fetchone()
        return round(float(row[0]), SPEND_DIGITS)

    def month_spent(self, month: str) -> float:
        """Cost charged for tasks posted in a calendar month (`2026-11`)."""
        row = self._db.execute("SELECT cost FROM months WHERE month = ?", (month,)).fetchone()
        return 0.0 if row is None else float(row[0])
