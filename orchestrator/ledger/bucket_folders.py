"""Which partitions of a bucket each run wrote parts in, so that a start sweeps only those.

A run records a partition (job, period) before its first part there (`note_bucket_folders`).
A part written and never recorded (a crash between the two) can then be only in a partition
that a run no longer live noted: the start of the next run lists those partitions, not every
object of the job, so its cost does not grow with the job's history (storage/parts.py). A row
is forgotten once its partition was swept and its run surely writes no more: it ended, or its
process is gone (its lock is free). A run taken over while its process still lives (it
stalled) keeps its rows, and its partitions are listed again at the next start, in case a
part of it lands late.

Ledgers of versions before 10 have a row ('*', run 0) per job: their first sweep lists
everything once, as every sweep did before.
"""

from collections.abc import Iterable

from orchestrator.ledger.workers import LedgerWorkers, run_lock

EVERYWHERE = "*"  # the period of a row that asks for the job's whole prefix to be listed


class LedgerBucketFolders(LedgerWorkers):
    def note_bucket_folders(self, folders: Iterable[tuple[str, str]]) -> None:
        """Record that this run is about to write parts in these (job, period) partitions."""
        me = self._worker().run_id
        self._tx(
            "INSERT INTO bucket_folders (job, period, run_id) VALUES (?, ?, ?)"
            " ON CONFLICT (job, period, run_id) DO NOTHING",
            [(job, period, me) for job, period in folders],
        )

    def bucket_folders(self, job: str) -> list[tuple[str, int]]:
        """(period, run) of every partition of `job` a run noted and no sweep forgot."""
        rows = self._db.execute(
            "SELECT period, run_id FROM bucket_folders WHERE job = ? ORDER BY period, run_id",
            (job,),
        ).fetchall()
        return [(str(period), int(run_id)) for period, run_id in rows]

    def forget_bucket_folders(self, job: str, swept: Iterable[tuple[str, int]]) -> None:
        """Forget these swept (period, run) rows of `job`, of the runs that surely write no
        more; the others stay, to be swept again."""
        rows = list(swept)
        finished = self._finished({run_id for _, run_id in rows})
        self._tx(
            "DELETE FROM bucket_folders WHERE job = ? AND period = ? AND run_id = ?",
            [(job, period, run_id) for period, run_id in rows if run_id in finished],
        )

    def _finished(self, runs: set[int]) -> set[int]:
        """Of these runs (none of them live), those that write no more: beside a file, all
        (its lock is this run's); on a server, those that ended, and those whose process is
        gone (their lock is free). Run 0 stands for the runs of earlier versions."""
        if not self._db.shared:
            return runs
        ended = {
            int(row[0])
            for row in self._db.execute("SELECT id FROM runs WHERE ended_at IS NOT NULL")
        }
        finished = (runs & ended) | ({0} & runs)
        for run_id in runs - finished:
            if self._db.try_hold(run_lock(run_id)):
                self._db.let_go(run_lock(run_id))
                finished.add(run_id)
        return finished
