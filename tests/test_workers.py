"""Several workers of one config on a PostgreSQL ledger (ledger/workers.py), as users deploy
them: three `orchestrator run` processes against the simulator at a limit they must share,
and one of them killed (SIGKILL, as a lost pod) while it holds posted tasks and claims. The
others take its work over; every input is one line across the runs' files, paid once, and
no call was refused by the account's window."""

import json
import signal
import time
from pathlib import Path

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
        victim = workers[0]
        wait_for(simulator, lambda now: now["tasks_created"] >= 100, victim)
        holding = (
            "SELECT count(*) FROM inputs i JOIN runs r ON i.fetcher = r.id"
            f" WHERE r.pid = {victim.pid} AND i.state = 'posted'"
        )
        deadline = time.monotonic() + 120
        while ledger_rows(pg, url, holding) == [["0"]]:  # until it holds claimed tasks
            assert victim.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
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
    batches = ledger_rows(pg, url, "SELECT run_id, count(*) FROM batches GROUP BY run_id")
    assert len(batches) == 3, batches  # each of the three posted a share
    lines = worker_lines(tmp_path / "out")
    assert len(lines) == 200 + 100 + 50 and set(lines.values()) == {1}
    assert numbers["tasks_created"] == 350 and numbers["duplicate_tags"] == 0
    assert numbers["rate_limited"] == 0
    states = ledger_rows(pg, url, "SELECT state, count(*) FROM inputs GROUP BY state")
    assert dict((s, int(n)) for s, n in states) == {"done": 350}
    assert ended_after_s < 120
