"""The ledger never loses an input and never lets one be posted twice, across crashes."""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import LedgerError
from orchestrator.ledger import DONE, FAILED, MISSED, PENDING, POSTED, POSTING, InputRow, Ledger
from tests import pg_server
from tests.conftest import LedgerAt, ledger_at

MONTH = "2026-11"


def rows(n: int, job: str = "j", period: str = "") -> list[InputRow]:
    tag = f"{job}:{period}:" if period else f"{job}:"
    return [
        (job, period, f"k{i}", f"{tag}k{i}", i + 1, b'{"keyword": "x"}', 0.0006) for i in range(n)
    ]


@pytest.fixture
def ledger(where: LedgerAt) -> Iterator[Ledger]:
    opened = where.open()
    yield opened
    opened.close()


def test_claim_is_write_ahead_and_never_hands_out_an_input_twice(ledger: Ledger) -> None:
    """Claimed inputs are posting before the POST; a second claim gets the others."""
    ledger.add_inputs(rows(150))
    batch1, first = ledger.claim_batch("j", "", 100)
    batch2, second = ledger.claim_batch("j", "", 100)
    assert len(first) == 100 and len(second) == 50 and batch1 != batch2
    assert not {c.tag for c in first} & {c.tag for c in second}
    assert ledger.counts("j")[POSTING] == 150
    assert ledger.claim_batch("j", "", 100) == (0, [])


def test_full_life_and_spend(ledger: Ledger) -> None:
    """posting -> posted (with id and cost) -> done; a refused task -> failed."""
    ledger.add_inputs(rows(3))
    _, claimed = ledger.claim_batch("j", "", 100)
    ledger.mark_posted([(claimed[0].tag, "id-0", 0.0006), (claimed[1].tag, "id-1", 0.0012)], MONTH)
    ledger.settle("failed.jsonl", 10, [], [], [(claimed[2].tag, 40501, "Invalid Field: 'depth'.")])
    assert ledger.posted_jobs(["id-1", "someone-else"]) == {"id-1": ("j", "")}
    ledger.settle("results.jsonl", 10, ["id-0"], [])
    ledger.settle("results.jsonl", 20, ["id-0"], [])  # settling twice changes nothing
    assert ledger.counts("j") == {
        PENDING: 0,
        POSTING: 0,
        POSTED: 1,
        DONE: 1,
        FAILED: 1,
        MISSED: 0,
    }
    assert ledger.spent() == pytest.approx(0.0018)
    assert ledger.month_spent(MONTH) == pytest.approx(0.0018)


def test_spend_does_not_drift_as_tasks_are_settled(ledger: Ledger) -> None:
    """700 tasks at $0.0006 posted, then settled: the spend reads the same before and after
    (a run that posted nothing spent exactly 0, not -0.0000)."""
    ledger.add_inputs(rows(700))
    created = []
    for _ in range(7):
        _, claimed = ledger.claim_batch("j", "", 100)
        created += [(c.tag, f"id-{c.tag}", 0.0006) for c in claimed]
    ledger.mark_posted(created, MONTH)
    before = ledger.spent()
    for start in range(0, 700, 37):  # settled in uneven batches, as the sink does
        ids = [task_id for _, task_id, _ in created[start : start + 37]]
        ledger.settle("results.jsonl", start, ids, [])
    assert ledger.counts("j")[DONE] == 700
    assert ledger.spent() - before == 0.0 and before == 0.42


def test_a_crash_leaves_a_record_of_each_attempt_that_says_what_may_be_posted_again(
    where: LedgerAt,
) -> None:
    """After a crash between claims, sends and answers, the ledger says which attempts went on
    the wire (in the server's clock) and which did not; the live run's own attempt is not
    offered to reconciliation; found tags become posted and the rest stay posting."""
    crashed = where.open()
    crashed.add_inputs(rows(6))
    batch, claimed = crashed.claim_batch("j", "", 4, run_id=1)
    other, _ = crashed.claim_batch("j", "", 2, run_id=1)
    crashed.note_sent(batch, 1000.0, server_clock=True)
    assert [a.batch for a, _ in crashed.open_attempts(live_run=1)] == []  # in flight here
    crashed.close()  # the process died here: the first POST may or may not have gone out
    reopened = where.open()
    attempts = {a.batch: (a, tags) for a, tags in reopened.open_attempts(live_run=2)}
    assert sorted(attempts) == [batch, other]
    sent, tags = attempts[batch]
    assert (sent.sent, sent.server_clock, sent.outcome) == (1000.0, True, None)
    assert sorted(tags) == sorted(c.tag for c in claimed)
    assert attempts[other][0].sent is None  # never on the wire: repost.py releases it
    created = [(claimed[0].tag, "id-0", 0.0006), (claimed[2].tag, "id-2", 0.0006)]
    assert reopened.mark_posted(created, MONTH) == 2
    reopened.note_checks([replace(sent, absent_checks=1, absent_at=1200.0)])
    again = {a.batch: (a, tags) for a, tags in reopened.open_attempts(live_run=2)}
    assert sorted(again[batch][1]) == sorted([claimed[1].tag, claimed[3].tag])
    assert (again[batch][0].absent_checks, again[batch][0].absent_at) == (1, 1200.0)
    assert reopened.spend_facts("j", "", MONTH, except_batch=other).held == pytest.approx(
        2 * 0.0006
    )
    counts = reopened.counts("j")
    assert (counts[POSTED], counts[PENDING], counts[POSTING]) == (2, 0, 4)
    reopened.close()


def test_the_store_refuses_a_second_row_of_one_job_period_and_key(ledger: Ledger) -> None:
    """One row per (job, period, key) is the ledger's own constraint, whatever the caller."""
    ledger.add_inputs(rows(3))
    with pytest.raises(LedgerError, match=r"(?i)unique"):
        ledger.add_inputs(rows(1))
    assert sum(ledger.counts("j").values()) == 3


PROBE = """
import sys
from orchestrator.errors import LockHeld
from orchestrator.ledger import Ledger
try:
    Ledger(sys.argv[1]).close()
    print("opened")
except LockHeld as exc:
    print(f"locked: {exc}")
"""


def test_a_second_process_on_the_same_state_is_refused(ledger: Ledger, where: LedgerAt) -> None:
    """An overlapping cron tick cannot open a ledger another process holds."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", PROBE, where.location],
        cwd=root,
        env={**os.environ, "PGPASSWORD": where.password or ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.startswith("locked:") and "another run holds the lock" in done.stdout


def test_the_lock_is_released_on_close(where: LedgerAt) -> None:
    """Once a run closes its ledger, the next one opens it."""
    where.open().close()
    where.open().close()


def test_a_server_ledgers_lock_is_free_when_close_returns(pg: pg_server.Server) -> None:
    """On a server, the run's lock is gone once `close` returns, not once the server has
    ended the closed session: before, pg_locks still listed it after 2 of 200 closes, and a
    test reopening at once was refused once on CI (exit 75 for a command). 300 closes, and
    after each no advisory lock is left."""
    url = pg.url()
    watch = psycopg.connect(url, password=pg_server.PASSWORD, autocommit=True)
    try:
        for _ in range(300):
            Ledger(url, pg_server.PASSWORD).close()
            row = watch.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            assert row.fetchone() == (0,)
    finally:
        watch.close()


def posting_tags(ledger: Ledger) -> list[str]:
    return [tag for _, tags in ledger.open_attempts(live_run=None) for tag in tags]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.sampled_from(["claim", "post", "fail", "done", "crash", "miss", "prune", "period"]),
        max_size=30,
    )
)
def test_no_operation_sequence_loses_or_duplicates_an_input(
    engine: str, request: pytest.FixtureRequest, ops: list[str]
) -> None:
    """Whatever happens, every input is in exactly one state and no task id repeats."""
    folder = request.getfixturevalue("tmp_path_factory").mktemp("l")
    where = ledger_at(engine, request, folder)
    ledger = where.open()
    ledger.add_inputs(rows(30))
    periods = [""]
    next_id = 0
    for op in ops:
        if op == "period":  # the next day's batch of the same inputs
            periods.append(f"2026-11-{len(periods):02d}")
            ledger.add_inputs(rows(30, period=periods[-1]))
        elif op == "claim":
            ledger.claim_batch("j", periods[-1], 7)
        elif op == "post" and (tags := posting_tags(ledger)):
            ledger.mark_posted([(tags[0], f"id-{next_id}", 0.0006)], MONTH)
            next_id += 1
        elif op == "fail" and (tags := posting_tags(ledger)):
            ledger.settle("failed.jsonl", 0, [], [], [(tags[-1], 40501, "bad")])
        elif op == "done":
            ledger.settle("results.jsonl", 0, [f"id-{next_id - 1}"], [])
        elif op == "miss":
            ledger.mark_missed("j", keep=[])
        elif op == "prune":
            ledger.prune("j", keep=1)
        elif op == "crash":
            ledger.close()
            ledger = where.open()
            ledger.release(posting_tags(ledger))
    db = ledger._db
    ids = [r[0] for r in db.execute("SELECT task_id FROM inputs WHERE task_id IS NOT NULL")]
    assert len(ids) == len(set(ids))
    # The tally the triggers keep is exactly what counting the rows gives, pruned rows aside.
    for period in periods:
        rows_now = dict.fromkeys(ledger.counts("j"), 0)
        for state, n in db.execute(
            "SELECT state, COUNT(*) FROM inputs WHERE period = ? GROUP BY state", (period,)
        ):
            rows_now[state] = n
        counts, _, pruned = ledger.period_summary("j", period)
        assert counts == rows_now
        assert sum(counts.values()) + pruned == 30  # every input once: kept, or pruned settled
    assert ledger.spent() == pytest.approx(0.0006 * next_id)  # pruning never forgets spend
    ledger.close()


def test_each_period_of_an_input_is_its_own_row_claimed_on_its_own(ledger: Ledger) -> None:
    """The same keywords in two periods are two batches; claiming one leaves the other."""
    ledger.add_inputs(rows(3, period="2026-11-22"))
    ledger.add_inputs(rows(3, period="2026-11-23"))
    assert sorted(ledger.keys_of("j", "2026-11-23")) == ["k0", "k1", "k2"]
    _, claimed = ledger.claim_batch("j", "2026-11-23", 100)
    assert [c.tag for c in claimed] == ["j:2026-11-23:k0", "j:2026-11-23:k1", "j:2026-11-23:k2"]
    assert ledger.counts("j", "2026-11-22")[PENDING] == 3
    assert ledger.periods("j") == ["2026-11-23", "2026-11-22"]


def test_pending_inputs_of_a_period_that_is_over_are_missed_not_posted(ledger: Ledger) -> None:
    """Yesterday's unposted inputs become missed; today's and one-shot rows stay pending."""
    ledger.add_inputs(rows(2, period="2026-11-22") + rows(2, period="2026-11-23") + rows(2))
    assert ledger.mark_missed("j", keep={"2026-11-23"}) == 2
    assert ledger.counts("j", "2026-11-22")[MISSED] == 2
    assert ledger.counts("j", "2026-11-23")[PENDING] == 2
    assert ledger.counts("j", "")[PENDING] == 2
    assert ledger.claim_batch("j", "2026-11-22", 100) == (0, [])


def test_prune_removes_only_settled_rows_of_old_periods_and_keeps_their_spend(
    ledger: Ledger,
) -> None:
    """Old periods' done rows go; an old period's outstanding task and every cost stay."""
    for day in ("2026-11-21", "2026-11-22", "2026-11-23"):
        ledger.add_inputs(rows(2, period=day))
        _, claimed = ledger.claim_batch("j", day, 100)
        ledger.mark_posted([(c.tag, f"{day}-{i}", 0.0006) for i, c in enumerate(claimed)], MONTH)
        ledger.settle("r", 0, [f"{day}-0"], [])  # one done, one still outstanding
    assert ledger.prune("j", before="2026-11-23") == 2
    counts, spent, pruned = ledger.period_summary("j", "2026-11-21")
    assert (counts[DONE], counts[POSTED], pruned) == (0, 1, 1)
    assert spent == pytest.approx(0.0012)
    assert ledger.spent() == pytest.approx(0.0036)
    assert ledger.posted_jobs(["2026-11-21-1"]) == {"2026-11-21-1": ("j", "2026-11-21")}
    assert ledger.prune("j", keep=1) == 0  # what is left of old periods is outstanding
    assert ledger.counts("j", "2026-11-23")[DONE] == 1


def test_a_batch_is_posted_and_settled_by_looking_up_its_own_rows(tmp_path: Path) -> None:
    """SQLite keeps no statistics: unguided, it drove a batch's UPDATE by walking every row
    of a state (hundreds of thousands posted at once in a big run) and scanning the batch for
    each. Each batch statement must look its rows up by tag or task id instead."""
    ledger = Ledger(tmp_path / "state.sqlite")
    ledger.add_inputs(rows(10))
    _, claimed = ledger.claim_batch("j", "", 10)
    ids = [f"id-{c.tag}" for c in claimed]
    connection = ledger._db.connection
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    ledger.mark_posted(
        [(c.tag, task_id, 0.0006) for c, task_id in zip(claimed, ids, strict=True)], MONTH
    )
    ledger.settle("results.jsonl", 10, ids[:5], [])
    ledger.settle("failed.jsonl", 10, [], [(task_id, 40501, "Invalid") for task_id in ids[5:]])
    connection.set_trace_callback(None)
    updates = list(dict.fromkeys(sql for sql in statements if sql.startswith("UPDATE inputs")))
    assert len(updates) == 3, updates
    for sql in updates:
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert plan[0].startswith("SCAN json_each"), plan
        assert plan[1].startswith("SEARCH inputs USING INDEX inputs_"), plan
        assert "inputs_by_state" not in plan[1], plan
    assert ledger.counts("j")[DONE] == 5 and ledger.counts("j")[FAILED] == 5
    ledger.close()
