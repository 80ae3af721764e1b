"""Several workers of one config on a PostgreSQL ledger (ledger/workers.py), as users deploy
them: three `orchestrator run` processes against the simulator at a limit they must share,
and one of them killed (SIGKILL, as a lost pod) while it holds posted tasks and claims. The
others take its work over; every input is one line across the runs' files, paid once, and
no call was refused by the account's window."""

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from orchestrator.errors import LeaseLost
from orchestrator.ledger import Ledger
from orchestrator.ledger.workers import ORPHAN_LEASES, adoptable
from orchestrator.pipeline.sink import cut_back_runs, own_name
from tests import pg_server
from tests.test_e2e_postgres import on_postgres, start_run
from tests.test_e2e_run import running_simulator, stats, wait_for, write_job_files

CALLS_PER_MINUTE = 1200  # 200 calls in any 10 s: task_get alone needs 350 of them here
LIMIT_FLAGS = ("--calls-per-minute", str(CALLS_PER_MINUTE), "--delay-normal-s", "3:6")


def ledger_rows(pg: pg_server.Server, url: str, sql: str) -> list[list[str]]:
    """Rows of a query on the ledger's database, read as its owner would with psql."""
    text = pg.psql(sql, database=url.rsplit("/", 1)[1])
    return [line.split("|") for line in text.splitlines()]


def worker_lines(out: Path) -> dict[str, int]:
    """How many result lines each input id has, across every run's files."""
    seen: dict[str, int] = {}
    for path in sorted(out.glob("*/results*.jsonl")):
        for line in path.read_text().splitlines():
            key = json.loads(line)["id"]
            seen[key] = seen.get(key, 0) + 1
    return seen


def test_three_workers_share_the_limit_and_take_over_a_killed_ones_tasks(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """With the product's lease (30 s): three workers, one killed once it holds tasks. The
    two others adopt its run (its lock is free once its connection is gone), fetch what it
    had posted, and end; every input is one line across their files, 350 tasks posted for
    350 inputs, 0 calls refused, and no window of the simulator ever held more than the
    limit."""
    with running_simulator(*LIMIT_FLAGS) as simulator:
        url = pg.url()
        config = write_job_files(tmp_path, simulator, 200)
        text = config.read_text().replace("calls_per_minute = 3000", "calls_per_minute = 1200")
        config.write_text(text)
        on_postgres(config, url)
        workers = [start_run(config) for _ in range(3)]
        wait_for(simulator, lambda now: now["tasks_created"] >= 100, workers[0])
        holding = (
            "SELECT r.pid FROM inputs i JOIN runs r ON i.fetcher = r.id"
            " WHERE i.state = 'posted' AND r.ended_at IS NULL GROUP BY r.pid"
        )
        deadline = time.monotonic() + 120
        while not (holders := ledger_rows(pg, url, holding)):  # one holds claimed tasks
            assert all(w.poll() is None for w in workers) and time.monotonic() < deadline
            time.sleep(0.05)
        victim = next(w for w in workers if w.pid == int(holders[0][0]))
        workers = [victim] + [w for w in workers if w is not victim]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
        killed_at = time.monotonic()
        for worker in workers[1:]:
            _, errors = worker.communicate(timeout=240)
            assert worker.returncode == 0, errors.decode()
        ended_after_s = time.monotonic() - killed_at
        numbers = stats(simulator)
    runs = ledger_rows(pg, url, "SELECT id, pid, adopted_by, ended_at IS NULL FROM runs")
    by_pid = {int(pid): (int(run_id), adopted, running) for run_id, pid, adopted, running in runs}
    ended = {run_id for run_id, _, running in by_pid.values() if running == "f"}
    _, adopter, never_ended = by_pid[victim.pid]
    assert never_ended == "t" and adopter and int(adopter) in ended, runs
    writers = {
        path.stem.removeprefix("results-")
        for path in (tmp_path / "out").glob("*/results-*.jsonl")
        if path.stat().st_size
    }
    # The adopter wrote results, and every task ends done (below), the victim's claimed ones
    # included. The work is shared by construction (the victim was picked as a run holding
    # claimed tasks); who posts is a race (one worker posted all four batches once in 12
    # runs), as is who fetches (the first to read tasks_ready claims every task it lists).
    posters = {row[0] for row in ledger_rows(pg, url, "SELECT DISTINCT run_id FROM batches")}
    assert adopter in writers, (writers, posters)
    lines = worker_lines(tmp_path / "out")
    assert len(lines) == 200 + 100 + 50 and set(lines.values()) == {1}
    assert numbers["tasks_created"] == 350 and numbers["duplicate_tags"] == 0
    assert numbers["rate_limited"] == 0
    states = ledger_rows(pg, url, "SELECT state, count(*) FROM inputs GROUP BY state")
    assert dict((s, int(n)) for s, n in states) == {"done": 350}
    assert ended_after_s < 120


def test_a_task_one_worker_fetches_is_written_by_it_alone_and_known_to_the_others(
    pg: pg_server.Server,
) -> None:
    """The poller of one worker claims a task before its task_get: the other's sink may not
    claim its answer (a delivery of it there writes nothing), and its receiver learns that
    the task is in another's hands (it answers 200: nothing is lost)."""
    url = pg.url()
    first, second = (Ledger(url, pg_server.PASSWORD, workers=True) for _ in range(2))
    try:
        first.start_run()
        second.start_run()
        first.add_inputs([("j", "", "k", "j:k", 0, b"{}", 0.0006)])
        _, claimed = first.claim_batch("j", "", 100)
        first.mark_posted([(claimed[0].tag, "id-1", 0.0006)], "2026-12")
        assert first.claim_fetches(["id-1"]) == ["id-1"]
        assert second.claim_answers(["id-1"]) == {}
        assert second.fetching_elsewhere("id-1") and not first.fetching_elsewhere("id-1")
        assert not second.fetching_elsewhere("id-unknown")
    finally:
        first.close()
        second.close()


def test_a_settle_racing_its_runs_adoption_waits_for_it_and_records_nothing(
    pg: pg_server.Server,
) -> None:
    """A run stalled past its lease settles at the moment another run adopts it: the settle
    waits for the adoption's transaction and is refused (LeaseLost). Had it read the run's
    row before the adoption committed and gone on, the adopter could cut the file back to a
    size read before the settle recorded its line as done: a result lost."""
    url = pg.url()
    stalled = Ledger(url, pg_server.PASSWORD, workers=True)
    adopter = Ledger(url, pg_server.PASSWORD, workers=True)
    adoption = psycopg.connect(url, password=pg_server.PASSWORD)  # its transaction, held open
    try:
        run_id = stalled.start_run()
        adopter_id = adopter.start_run()
        stalled.add_inputs([("j", "", "k", "j:k", 0, b"{}", 0.0006)])
        _, claimed = stalled.claim_batch("j", "", 100, run_id)
        stalled.mark_posted([(claimed[0].tag, "id-1", 0.0006)], "2026-12")
        assert stalled.claim_fetches(["id-1"]) == ["id-1"]
        adoption.execute("UPDATE runs SET adopted_by = %s WHERE id = %s", (adopter_id, run_id))

        refused: list[BaseException] = []

        def settle() -> None:
            try:
                stalled.settle("j/results-1.jsonl", 120, ["id-1"], [])
            except LeaseLost as exc:
                refused.append(exc)

        settling = threading.Thread(target=settle)
        settling.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        while settling.is_alive() and ledger_rows(pg, url, waiting) == [["0"]]:
            settling.join(0.05)  # until the settle waits on the adoption, or is over
        adoption.commit()
        settling.join()
        assert len(refused) == 1, "the settle went on as if its run were not adopted"
        state = ledger_rows(pg, url, "SELECT state FROM inputs")
        files = ledger_rows(pg, url, "SELECT count(*) FROM files")
        assert state == [["posted"]] and files == [["0"]]
    finally:
        adoption.close()
        stalled.close()
        adopter.close()


@dataclass(frozen=True)
class AdoptedRun:
    url: str
    stalled: Ledger
    adopter: Ledger
    run_id: int
    batch: int  # the batch it claimed before it stalled
    tag: str  # of that batch's one input


@contextmanager
def adopted_after_claiming(pg: pg_server.Server, keys: str) -> Iterator[AdoptedRun]:
    """A run that claimed a batch of one input of `keys` (one per letter) and stalled, then
    was adopted by a second run of the same ledger."""
    url = pg.url()
    stalled = Ledger(url, pg_server.PASSWORD, workers=True)
    adopter = Ledger(url, pg_server.PASSWORD, workers=True)
    try:
        run_id = stalled.start_run()
        adopter_id = adopter.start_run()
        stalled.add_inputs([("j", "", k, f"j:{k}", n, b"{}", 0.0006) for n, k in enumerate(keys)])
        batch, claimed = stalled.claim_batch("j", "", 1, run_id)
        ledger_rows(pg, url, f"UPDATE runs SET adopted_by = {adopter_id} WHERE id = {run_id}")
        yield AdoptedRun(url, stalled, adopter, run_id, batch, claimed[0].tag)
    finally:
        stalled.close()
        adopter.close()


def test_a_run_adopted_while_posting_records_neither_its_tasks_nor_a_release(
    pg: pg_server.Server,
) -> None:
    """A run stalled between its task_post and recording the answer wakes up adopted: the
    adopter settles that attempt from id_list's evidence, and may have posted its rows again
    under their tags. The stalled run's late record of its created tasks, or its release of
    rows it thinks were not created, is refused (LeaseLost): had it gone on, it would write
    its task id over the adopter's attempt, or put the rows back to be paid for a third time.
    The adopter records the same tasks, and their cost is counted once."""
    with adopted_after_claiming(pg, "k") as run:
        with pytest.raises(LeaseLost):
            run.stalled.mark_posted([(run.tag, "id-late", 0.0006)], "2026-12")
        with pytest.raises(LeaseLost):
            run.stalled.release([run.tag])
        rows = "SELECT state, task_id FROM inputs"
        assert ledger_rows(pg, run.url, rows) == [["posting", ""]]
        assert run.adopter.mark_posted([(run.tag, "id-1", 0.0006)], "2026-12") == 1
        assert ledger_rows(pg, run.url, rows) == [["posted", "id-1"]]
        assert ledger_rows(pg, run.url, "SELECT cost FROM months") == [["0.0006"]]


def test_a_run_adopted_before_it_posts_claims_nothing_and_sends_nothing(
    pg: pg_server.Server,
) -> None:
    """A run that wakes up adopted may not claim a new batch, nor record a claimed one as
    sent (the record that lets its POST go on the wire): both raise LeaseLost, so it pays
    for nothing more, and the batch it claimed stays unsent for its adopter to release."""
    with adopted_after_claiming(pg, "ab") as run:
        with pytest.raises(LeaseLost):
            run.stalled.note_sent(run.batch, time.time(), False)
        with pytest.raises(LeaseLost):
            run.stalled.claim_batch("j", "", 1, run.run_id)
        sent = "SELECT count(*) FROM batches WHERE sent_at IS NOT NULL"
        states = "SELECT state FROM inputs ORDER BY line"
        assert ledger_rows(pg, run.url, sent) == [["0"]]
        assert ledger_rows(pg, run.url, states) == [["posting"], ["pending"]]


def claimed_task(ledger: Ledger, job: str, task_id: str) -> None:
    """One input of `job` posted as `task_id`, its answer claimed by this ledger's run."""
    ledger.add_inputs([(job, "", task_id, f"{job}:{task_id}", 0, b"{}", 0.0006)])
    _, claimed = ledger.claim_batch(job, "", 100)
    ledger.mark_posted([(claimed[0].tag, task_id, 0.0006)], "2026-12")
    assert ledger.claim_fetches([task_id]) == [task_id]


def test_a_dead_run_is_taken_over_by_a_run_of_its_own_jobs_not_by_another_configs(
    pg: pg_server.Server,
) -> None:
    """Two configs (jobs `a` and `b`) share a ledger. A run of `a` dies with an answer
    claimed: the live run of `b` leaves it alone (it could never fetch that answer, and
    while it lived no one else could), and the next run of `a` takes it over. A run of `a`
    that no run of `a` takes over in ORPHAN_LEASES leases is adopted by `b` all the same
    (its attempts are the account's to settle), and its claim is let go for `a`."""
    url = pg.url()
    open_ = [Ledger(url, pg_server.PASSWORD, workers=True) for _ in range(5)]
    dead, other, orphaned, heir, late = open_
    try:
        dead_id = dead.start_run(30.0, ["a"])
        claimed_task(dead, "a", "id-1")
        dead.close()  # its connection gone, its lock is free: the run is dead
        other.start_run(0.2, ["b"])
        assert other.adopt_dead(["b"]) == []
        heir_id = heir.start_run(30.0, ["a"])
        assert heir.adopt_dead(["a"]) == [dead_id]
        assert heir.fetching(heir_id) == [("id-1", "a", "")]

        orphaned_id = orphaned.start_run(0.2, ["a"])
        claimed_task(orphaned, "a", "id-2")
        orphaned.close()
        deadline = time.monotonic() + 30
        while not (taken := other.adopt_dead(["b"])) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the server's clock is ORPHAN_LEASES leases past its end
        assert taken == [orphaned_id]
        late.start_run(30.0, ["a"])
        assert late.claim_fetches(["id-2"]) == ["id-2"]  # let go by `b`, taken by `a`
    finally:
        for ledger in open_:
            ledger.close()


def test_a_run_that_dies_after_adopting_hands_its_adopted_runs_files_on_to_be_cut(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """Run A dies with a line written but not settled. B adopts it and dies before it cuts
    A's file; C adopts B. C is handed A too, and cuts A's file back to what A settled, as a
    run does with what it adopts: else the unsettled line stayed until a run's next start."""
    url = pg.url()
    first, second, third = (Ledger(url, pg_server.PASSWORD, workers=True) for _ in range(3))
    try:
        first_id = first.start_run(30.0, ["j"])
        claimed_task(first, "j", "id-1")
        settled = b'{"id": "j:id-1"}\n'
        path = tmp_path / "j" / own_name("results", first_id, False)
        path.parent.mkdir()
        path.write_bytes(settled + b'{"id": "j:id-2"}\n')  # the second line: not settled
        first.settle(f"j/{path.name}", len(settled), ["id-1"], [])
        first.close()
        second_id = second.start_run(30.0, ["j"])
        assert second.adopt_dead(["j"]) == [first_id]
        second.close()  # dead before it cut first's file
        third.start_run(30.0, ["j"])
        taken = third.adopt_dead(["j"])
        assert taken == [second_id, first_id]
        cut_back_runs(str(tmp_path), third, taken, ["j"])
        assert path.read_bytes() == settled
    finally:
        for ledger in (first, second, third):
            ledger.close()


def test_adoption_is_a_function_of_the_jobs_and_of_how_long_a_run_is_dead() -> None:
    mine = frozenset({"a", "b"})
    assert adoptable(None, mine, 0.0, 30.0)  # a run of an earlier version: jobs unknown
    assert adoptable(frozenset(), mine, 0.0, 30.0)
    assert adoptable(frozenset({"a"}), mine, 0.0, 30.0)
    assert not adoptable(frozenset({"a", "c"}), mine, ORPHAN_LEASES * 30.0 - 1, 30.0)
    assert adoptable(frozenset({"c"}), mine, ORPHAN_LEASES * 30.0, 30.0)
