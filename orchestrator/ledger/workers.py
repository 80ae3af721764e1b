"""Several runs of one ledger at once (a ledger on a server): each run is a worker with a lease,
its own output files, and claims on the answers it writes.

- A run holds a lease (`runs.lease_until`, in the database's clock), renewed every third of
  `lease_s`, and a lock of the server named after it, which the server lets go when the run's
  connection ends (a kill, a crash). A run is dead once it ended, its lease ran out, or its
  lock is free; one live run adopts it (`adopted_by`, one transaction, so only one does): it
  settles the dead run's open POST attempts (reconcile.py asks id_list, as after a crash),
  fetches again the answers it had claimed, and cuts its files back to what it settled. A run
  never takes over what a live run has in hand.
- Several configs (each its own jobs) may share a ledger. A run records its jobs, and a dead
  run is adopted by a run of its jobs (`adoptable`): only such a run can fetch its answers
  and cut its files. A dead run that no run of its jobs took over in ORPHAN_LEASES leases
  (its config has no run up) is adopted by any, for its attempts are the account's to
  settle; the claims of jobs not the adopter's are let go, for their config's next run.
- Each run appends to files of its own (`results-<run>.jsonl`), so two runs never write one
  file, and only the run that adopted a dead one cuts that one's files.
- An answer is written only by the run that claimed it (`inputs.fetcher`): the poller claims
  before task_get, the sink claims before it writes (a delivery), each a conditional update.
- A run that could not renew its lease in time stops writing (`lease_ok`) before another may
  adopt it, and a settle of a run already adopted is refused in its transaction (LeaseLost).

A ledger file has one run at a time (its lock): every earlier run is dead, files keep their
one name (`results.jsonl`), and claims are not needed; the columns are kept all the same, so
both engines share one schema.
"""

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import msgspec

from orchestrator.errors import LeaseLost
from orchestrator.ledger.reads import POSTED, LedgerReads
from orchestrator.ledger.store import Store

DEFAULT_LEASE_S: Final = 30.0  # [state] lease_s
RENEW_PARTS: Final = 3  # a lease is renewed this many times in its length
# A run stops writing once this share of its lease has gone by since its last renewal began:
# the rest is the margin for a clock that runs fast or a write already under way.
WRITE_SHARE: Final = 0.75
# A dead run of other jobs is adopted by any run once it has been dead this many leases.
ORPHAN_LEASES: Final = 3


@dataclass(frozen=True, slots=True)
class Worker:
    """This process's run: its id, and the length of its lease."""

    run_id: int
    lease_s: float


def adoptable(
    their_jobs: frozenset[str] | None, my_jobs: frozenset[str], dead_for_s: float, lease_s: float
) -> bool:
    """Whether this run adopts a dead run: one of its own jobs, or of jobs not recorded (a
    run of a ledger before version 9), or one no run of its jobs took over in time."""
    if their_jobs is None or their_jobs <= my_jobs:
        return True
    return dead_for_s >= ORPHAN_LEASES * lease_s


def run_lock(run_id: int) -> str:
    """The name of the lock a run holds on the server for as long as it lives."""
    return f"run:{run_id}"


class LedgerWorkers(LedgerReads, Store):
    """Runs as workers: leases, adoption and the claims on answers."""

    worker: Worker | None = None
    _renewed_at: float = 0.0  # monotonic: when the last successful renewal began

    def start_worker(self, lease_s: float, jobs: Iterable[str] = ()) -> Worker:
        """Record a run that began, with its jobs and its lease (and, on a server, its lock)."""
        db = self._db
        begun = time.monotonic()
        with db.transaction():
            row = db.execute(
                "INSERT INTO runs (started_at, pid, lease_until, jobs)"
                f" VALUES (?, ?, {db.now_sql} + ?, ?) RETURNING id",
                (time.time(), os.getpid(), lease_s, msgspec.json.encode(sorted(jobs)).decode()),
            ).fetchone()
            if db.shared:  # taken before the row is seen: a run is never found without it
                db.try_hold(run_lock(int(row[0])))
        self.worker = Worker(int(row[0]), lease_s)
        self._renewed_at = begun
        return self.worker

    def start_run(self, lease_s: float = DEFAULT_LEASE_S, jobs: Iterable[str] = ()) -> int:
        """Record a run that began (`end_run` records how it ended; a killed run never does)."""
        return self.start_worker(lease_s, jobs).run_id

    def renew(self) -> bool:
        """Move this run's lease on; False if it was adopted meanwhile (it must stop)."""
        worker = self._worker()
        begun = time.monotonic()
        db = self._db
        changed = self._tx(
            f"UPDATE runs SET lease_until = {db.now_sql} + ? WHERE id = ? AND adopted_by IS NULL",
            [(worker.lease_s, worker.run_id)],
        )
        if changed:
            self._renewed_at = begun
        return bool(changed)

    @property
    def shared(self) -> bool:
        """Whether other runs may use this ledger at the same time."""
        return self._db.shared

    def try_hold(self, key: str) -> bool:
        """Hold `key` (a job's period being loaded) against the other runs, until `let_go`."""
        return self._db.try_hold(key)

    def let_go(self, key: str) -> None:
        self._db.let_go(key)

    def lease_ok(self) -> bool:
        """Whether this run may still write: its lease is surely not yet out."""
        if self.worker is None or not self._db.shared:
            return True
        return time.monotonic() - self._renewed_at < WRITE_SHARE * self.worker.lease_s

    def adopt_dead(self, jobs: Iterable[str] = ()) -> list[int]:
        """Take on the runs that are dead and that no one adopted, with the runs they had
        adopted: their open attempts are this run's to settle, their claimed answers of
        `jobs` (this run's) this run's to fetch. Returns the runs taken on now, those
        they had adopted included: a run that died after adopting, before it cut the files
        of the runs it adopted, leaves them to be cut by its own adopter."""
        worker = self._worker()
        me = worker.run_id
        db = self._db
        if not db.shared:  # the file's lock: every other run has ended, one way or another
            return self._adopt_all_ended(me)
        gone = ", ".join(str(r) for r in self._gone())  # run ids: numbers of our own
        dead = f"COALESCE(lease_until, 0) <= {db.now_sql}" + (f" OR id IN ({gone})" if gone else "")
        mine = frozenset(jobs)
        with db.transaction():
            # FOR UPDATE: a run adopting at the same time waits, then finds these adopted
            rows = db.execute(
                f"SELECT id, jobs, {db.now_sql} - COALESCE(lease_until, 0) FROM runs"
                f" WHERE id != ? AND adopted_by IS NULL AND (ended_at IS NOT NULL OR {dead})"
                " FOR UPDATE",
                (me,),
            ).fetchall()
            chosen = [
                int(run_id)
                for run_id, their, dead_for_s in rows
                if adoptable(_jobs(their), mine, max(0.0, float(dead_for_s)), worker.lease_s)
            ]
            if chosen:
                adopted = ", ".join(map(str, chosen))
                db.execute(f"UPDATE runs SET adopted_by = ? WHERE id IN ({adopted})", (me,))
                chained = db.execute(
                    f"UPDATE runs SET adopted_by = ? WHERE adopted_by IN ({adopted}) RETURNING id",
                    (me,),
                ).fetchall()
                chosen += sorted(int(row[0]) for row in chained)
                db.execute(
                    f"UPDATE inputs SET fetcher = CASE WHEN {db.any_of('job')} THEN ? END"
                    f" WHERE state = '{POSTED}' AND fetcher IN ({adopted})",
                    (db.list_argument(sorted(mine)), me),
                )
        return chosen

    def _adopt_all_ended(self, me: int) -> list[int]:
        with self._db.transaction():
            rows = self._db.execute(
                "UPDATE runs SET adopted_by = ? WHERE id != ? AND adopted_by IS NULL RETURNING id",
                (me, me),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def taken_over(self) -> list[int]:
        """Every run another took over: none of them writes or settles again."""
        return [
            int(r[0]) for r in self._db.execute("SELECT id FROM runs WHERE adopted_by IS NOT NULL")
        ]

    def _gone(self) -> list[int]:
        """Runs whose lease still runs but whose lock is free: their process has ended."""
        if not self._db.shared:
            return []
        me = self._worker().run_id
        rows = self._db.execute(
            "SELECT id FROM runs WHERE id != ? AND adopted_by IS NULL AND ended_at IS NULL"
            f" AND lease_until > {self._db.now_sql}",
            (me,),
        ).fetchall()
        gone = []
        for (run_id,) in rows:
            if self._db.try_hold(run_lock(int(run_id))):
                self._db.let_go(run_lock(int(run_id)))
                gone.append(int(run_id))
        return gone

    def live_runs(self) -> set[int]:
        """The runs that may still be writing: this one and, on a server, those whose lease
        runs, whose lock is held, and that no one adopted (what is not theirs may be swept)."""
        me = self._worker().run_id
        if not self._db.shared:
            return {me}
        rows = self._db.execute(
            "SELECT id FROM runs WHERE ended_at IS NULL AND adopted_by IS NULL"
            f" AND lease_until > {self._db.now_sql}"
        ).fetchall()
        return ({int(r[0]) for r in rows} - set(self._gone())) | {me}

    def claim_fetches(self, task_ids: Sequence[str]) -> list[str]:
        """Write-ahead for task_get, as a claim: of these posted tasks, those no other live run
        is fetching are marked as this run's, about to be asked for. Returns those."""
        db = self._db
        now = time.time()
        if not db.shared:
            sql = (
                f"UPDATE inputs SET fetch_at = ? WHERE {db.any_of('task_id')}"
                f" AND {db.unindexed('state')} = '{POSTED}'"
            )
            self._tx(sql, [(now, db.list_argument(task_ids))])
            return list(task_ids)
        me = self._worker().run_id
        rows = db.execute(  # one statement, atomic on its own (autocommit)
            "UPDATE inputs SET fetch_at = ?, fetcher = ?"
            f" WHERE {db.any_of('task_id')} AND state = '{POSTED}'"
            " AND (fetcher IS NULL OR fetcher = ?) RETURNING task_id",
            (now, me, db.list_argument(task_ids), me),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def claim_answers(self, task_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """Of these task ids, the posted tasks this run may write the answer of, claimed:
        task id -> (job, period, row tag). Another live run's claim is left alone."""
        db = self._db
        if not db.shared:
            return self.posted_rows(task_ids)
        me = self._worker().run_id
        # One statement, atomic on its own: no BEGIN and COMMIT round trips around it
        rows = db.execute(
            "UPDATE inputs SET fetcher = ?, fetch_at = COALESCE(fetch_at, ?)"
            f" WHERE {db.any_of('task_id')} AND {db.unindexed('state')} = '{POSTED}'"
            " AND (fetcher IS NULL OR fetcher = ?) RETURNING task_id, job, period, tag",
            (me, time.time(), db.list_argument(task_ids), me),
        ).fetchall()
        return {str(t): (str(j), str(p), str(g)) for t, j, p, g in rows}

    def fetching_elsewhere(self, task_id: str) -> bool:
        """Whether another run has claimed this posted task (it fetches or writes it, or its
        adopter will): a delivery of it here has nothing to write, and nothing is lost."""
        if self.worker is None or not self._db.shared:
            return False
        row = self._db.execute(
            f"SELECT 1 FROM inputs WHERE task_id = ? AND state = '{POSTED}'"
            " AND fetcher IS NOT NULL AND fetcher <> ?",
            (task_id, self.worker.run_id),
        ).fetchone()
        return row is not None

    @contextmanager
    def fenced(self, sent_together: bool = False) -> Iterator[None]:
        """A transaction of this run's writes that can cost money or place a result (claim,
        send, created, released, settled): refused (LeaseLost) once another run adopted it."""
        with self._db.transaction(sent_together):
            self._fence()
            yield

    def _fence(self) -> None:
        """In a write's transaction: refuse it if another run adopted this one (its lease
        ran out while it was stalled), so that nothing of a run taken over is recorded.

        The run's row is read FOR SHARE: an adoption under way (its UPDATE of the row not yet
        committed) makes the settle wait for it and then see it, and a settle under way makes
        the adoption wait, so the adopter reads the files' sizes this settle committed. A
        plain read saw no adoption until it committed, and the adopter could cut the file
        back to a size read before the settle recorded its lines as done."""
        if self.worker is None or not self._db.shared:
            return
        run_id = int(self.worker.run_id)
        self._db.require(  # sent with the write's statements: no round trip of its own
            f"SELECT 1 FROM runs WHERE id = {run_id} AND adopted_by IS NULL FOR SHARE",
            LeaseLost(
                f"{self.path}: run {run_id} could not renew its lease in time and another run"
                " took over its work; it stops here, nothing of it is lost"
            ),
        )

    def open_attempt_owners(self) -> str:
        """SQL over `b` (batches) and `r` (runs) for the attempts this run settles: its own,
        those of the runs it adopted, and those of no run known."""
        if not self._db.shared or self.worker is None:
            return "1 = 1"  # one run at a time, or no run: every attempt
        me = self.worker.run_id
        return f"(b.run_id IS NULL OR r.id IS NULL OR b.run_id = {me} OR r.adopted_by = {me})"

    def _worker(self) -> Worker:
        if self.worker is None:
            raise LeaseLost(f"{self.path}: no run is recorded for this process")
        return self.worker


def _jobs(recorded: str | None) -> frozenset[str] | None:
    """A run's jobs as recorded (a JSON list); None for a run that recorded none."""
    return None if recorded is None else frozenset(msgspec.json.decode(recorded, type=list[str]))
