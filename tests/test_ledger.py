"""The ledger never loses an input and never lets one be posted twice, across crashes."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.ledger import DONE, FAILED, PENDING, POSTED, POSTING, Ledger


def rows(n: int, job: str = "j") -> list[tuple[str, str, str, int, bytes, float]]:
    return [(job, f"k{i}", f"{job}:k{i}", i + 1, b'{"keyword": "x"}', 0.0006) for i in range(n)]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "state.sqlite")
    yield opened
    opened.close()


def test_inputs_are_recorded_once_even_when_added_twice(ledger: Ledger) -> None:
    """Re-reading the same input file on the next run adds nothing."""
    assert ledger.add_inputs(rows(5)) == 5
    assert ledger.add_inputs(rows(5)) == 0
    assert ledger.counts("j")[PENDING] == 5


def test_claim_is_write_ahead_and_never_hands_out_an_input_twice(ledger: Ledger) -> None:
    """Claimed inputs are posting before the POST; a second claim gets the others."""
    ledger.add_inputs(rows(150))
    batch1, first = ledger.claim_batch("j", 100)
    batch2, second = ledger.claim_batch("j", 100)
    assert len(first) == 100 and len(second) == 50 and batch1 != batch2
    assert not {c.tag for c in first} & {c.tag for c in second}
    assert ledger.counts("j")[POSTING] == 150
    assert ledger.claim_batch("j", 100) == (0, [])


def test_full_life_and_spend(ledger: Ledger) -> None:
    """posting -> posted (with id and cost) -> done; a refused task -> failed."""
    ledger.add_inputs(rows(3))
    _, claimed = ledger.claim_batch("j", 100)
    ledger.mark_posted([(claimed[0].tag, "id-0", 0.0006), (claimed[1].tag, "id-1", 0.0012)])
    ledger.mark_failed([(claimed[2].tag, 40501, "Invalid Field: 'depth'.")])
    assert ledger.posted_jobs(["id-1", "someone-else"]) == {"id-1": "j"}
    assert ledger.mark_done(["id-0"]) == 1 and ledger.mark_done(["id-0"]) == 0
    assert ledger.counts("j") == {PENDING: 0, POSTING: 0, POSTED: 1, DONE: 1, FAILED: 1}
    assert ledger.spent() == pytest.approx(0.0018)


def test_reconcile_after_a_crash_posts_nothing_twice(tmp_path: Path) -> None:
    """After a crash between POST and commit, id_list's tags settle every posting row."""
    path = tmp_path / "state.sqlite"
    crashed = Ledger(path)
    crashed.add_inputs(rows(4))
    _, claimed = crashed.claim_batch("j", 100)
    crashed.close()  # the process died here: the POST may or may not have gone out
    reopened = Ledger(path)
    created = {claimed[0].tag: ("id-0", 0.0006), claimed[2].tag: ("id-2", 0.0006)}
    assert reopened.reconcile(created) == (2, 2)
    counts = reopened.counts("j")
    assert (counts[POSTED], counts[PENDING], counts[POSTING]) == (2, 2, 0)
    _, again = reopened.claim_batch("j", 100)
    assert {c.tag for c in again} == {claimed[1].tag, claimed[3].tag}
    reopened.close()


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


def test_a_second_process_on_the_same_state_is_refused(ledger: Ledger) -> None:
    """An overlapping cron tick cannot open a ledger another process holds."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ledger.path],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.startswith("locked:") and "another run holds the lock" in done.stdout


def test_the_lock_is_released_on_close(tmp_path: Path) -> None:
    """Once a run closes its ledger, the next one opens it."""
    Ledger(tmp_path / "s.sqlite").close()
    Ledger(tmp_path / "s.sqlite").close()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["claim", "post", "fail", "done", "crash"]), max_size=30))
def test_no_operation_sequence_loses_or_duplicates_an_input(
    tmp_path_factory: pytest.TempPathFactory, ops: list[str]
) -> None:
    """Whatever happens, every input is in exactly one state and no task id repeats."""
    path = tmp_path_factory.mktemp("l") / "s.sqlite"
    ledger = Ledger(path)
    ledger.add_inputs(rows(30))
    next_id = 0
    for op in ops:
        if op == "claim":
            ledger.claim_batch("j", 7)
        elif op == "post" and (tags := ledger.posting_tags()):
            ledger.mark_posted([(tags[0], f"id-{next_id}", 0.0006)])
            next_id += 1
        elif op == "fail" and (tags := ledger.posting_tags()):
            ledger.mark_failed([(tags[-1], 40501, "bad")])
        elif op == "done":
            ledger.mark_done([f"id-{next_id - 1}"])
        elif op == "crash":
            ledger.close()
            ledger = Ledger(path)
            ledger.reconcile({})
    assert sum(ledger.counts("j").values()) == 30
    ids = [r[0] for r in ledger._db.execute("SELECT task_id FROM inputs WHERE task_id IS NOT NULL")]
    assert len(ids) == len(set(ids)) == next_id
    ledger.close()
