"""The ledger's record of POST attempts (`batches`): when each went on the wire, how it ended,
and what id_list said since. `repost.py` decides from these facts alone whether an attempt's
rows may be posted again; `reconcile.py` asks the questions and records the answers here.
And what a budget judges the next batch by (`spend_facts`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.ledger.reads import POSTING, SPEND_DIGITS
from orchestrator.ledger.repost import Attempt, Outcome
from orchestrator.ledger.workers import LedgerWorkers


@dataclass(frozen=True, slots=True)
class Spend:
    """What has been charged, and what may yet be, at one instant."""

    total: float  # charged over the ledger's life (pruned rows too)
    period: float  # charged for the job's period
    month: float  # charged in the month of the monthly budget
    held: float  # estimates of the rows still posting in other batches: until id_list
    # settles them, a budget counts them as spent


class LedgerAttempts(LedgerWorkers):
    """Writes and reads of the attempt record; each write is one short transaction."""

    def note_sent(self, batch: int, at: float, server_clock: bool) -> None:
        """The batch's POST is going on the wire now (`at`, in the server's clock if known).
        Committed before the request leaves: a batch without it was never sent. Refused
        (LeaseLost) for a run already adopted: the POST is then not sent, and the adopter
        releases the batch at once."""
        with self.fenced():
            self._db.execute(
                "UPDATE batches SET sent_at = ?, server_clock = ? WHERE id = ?",
                (at, int(server_clock), batch),
            )

    def note_outcome(self, batch: int, outcome: Outcome, ended: float, error: str = "") -> None:
        """How the batch's attempt ended (`ended` in the clock its send was recorded in)."""
        self._tx(
            "UPDATE batches SET outcome = ?, ended_at = ?, error = ? WHERE id = ?",
            [(outcome.value, ended, error or None, batch)],
        )

    def note_checks(self, attempts: Sequence[Attempt]) -> None:
        """Keep what id_list said about these attempts (`repost.after_answer`)."""
        self._tx(
            "UPDATE batches SET absent_checks = ?, absent_at = ? WHERE id = ?",
            ((a.absent_checks, a.absent_at, a.batch) for a in attempts),
        )

    def open_attempts(self, live_run: int | None) -> list[tuple[Attempt, list[str]]]:
        """The attempts with rows still *posting*, with those rows' tags, but not one that
        `live_run` (this process's run) has in flight: it has no outcome yet and will record
        one. A batch of another run without an outcome was cut short by a crash. With several
        runs at once, only this run's attempts and those of the runs it adopted (workers.py):
        a batch of a live run is in its hands."""
        # A posting row without a batch record (none is known to exist) counts as sent when
        # it was last changed, in the local clock.
        sql = (
            "SELECT COALESCE(i.batch_id, 0),"
            " CASE WHEN b.id IS NULL THEN i.updated_at ELSE b.sent_at END,"
            " COALESCE(b.server_clock, 0), b.ended_at, b.outcome, COALESCE(b.absent_checks, 0),"
            " b.absent_at, b.run_id, i.tag FROM inputs i LEFT JOIN batches b ON b.id = i.batch_id"
            " LEFT JOIN runs r ON r.id = b.run_id"
            f" WHERE i.state = '{POSTING}' AND {self.open_attempt_owners()} ORDER BY i.batch_id"
        )
        found: dict[int, tuple[Attempt, list[str]]] = {}
        rows = self._db.execute(sql).fetchall()
        for batch, sent, clock, ended, outcome, checks, absent_at, run_id, tag in rows:
            if outcome is None and live_run is not None and run_id == live_run:
                continue
            entry = found.get(batch)
            if entry is None:
                attempt = Attempt(
                    int(batch),
                    sent,
                    ended,
                    None if outcome is None else Outcome(outcome),
                    bool(clock),
                    int(checks),
                    absent_at,
                )
                entry = found[batch] = (attempt, [])
            entry[1].append(str(tag))
        return list(found.values())

    def spend_facts(self, job: str, period: str, month: str, except_batch: int) -> Spend:
        """What a budget judges a claimed batch by, in one statement: one snapshot. Read one
        at a time, a batch of another worker going from posting to posted between two reads
        was in neither its estimate nor its cost, and the budget saw room that was not."""
        row = self._db.execute(
            "SELECT (SELECT COALESCE(SUM(cost), 0) FROM tally),"
            " (SELECT COALESCE(SUM(cost), 0) FROM tally WHERE job = ? AND period = ?),"
            " COALESCE((SELECT cost FROM months WHERE month = ?), 0),"
            " (SELECT COALESCE(SUM(est_cost), 0) FROM inputs"
            f"  WHERE state = '{POSTING}' AND COALESCE(batch_id, 0) != ?)",
            (job, period, month, except_batch),
        ).fetchone()
        total, in_period, in_month, held = (float(v) for v in row)
        return Spend(round(total, SPEND_DIGITS), in_period, in_month, held)
