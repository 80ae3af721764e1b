"""`orchestrator ledger copy`: a SQLite ledger moves to a PostgreSQL server with its history,
and the run that follows on the server neither posts again what the file had posted nor loses
what it had in flight. Real processes, a real server, the simulator over HTTP."""

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.ledger import DONE, POSTED, Ledger
from orchestrator.wire.limiter import CallLog
from tests import pg_server
from tests.test_e2e_postgres import PG_ENV, cli
from tests.test_e2e_promises import daily_config
from tests.test_e2e_run import more_than, output_ids, running_simulator, stats, wait_for
from tests.test_migrations import make_v0

COPY = ("ledger", "copy", "--password-env", "ORCH_TEST_LEDGER_PASSWORD", "--to")


@pytest.fixture
def slow_simulator() -> Iterator[str]:
    """Tasks take 1-4 s: a run killed while posting leaves posted tasks not yet collected."""
    with running_simulator("--delay-normal-s", "1:4", "--seed", "9") as url:
        yield url


def test_a_ledger_copied_mid_work_is_carried_on_by_the_server_without_posting_again(
    tmp_path: Path, slow_simulator: str, pg: pg_server.Server
) -> None:
    """A daily job's run is killed with tasks done, posted and not yet posted; the file is
    copied to the server; the run on the server collects the posted tasks, posts only the
    rest, and every input is one line. Its first call waits until the file's last calls have
    left the account's window. The file is refused from then on, and the copy run again only
    finishes what was done."""
    config = daily_config(tmp_path, slow_simulator, 300)
    # A 10 s window (the simulator's 2000 per 60 s holds 6 x 300): the server's first run waits
    # out the file's last window, as users meet it, in 10 s rather than a minute.
    text = config.read_text().replace(
        "[api]\n", "[api]\ncalls_per_minute = 300\nrate_period_s = 10\n"
    )
    config.write_text(text)
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=PG_ENV)
    wait_for(slow_simulator, more_than("tasks_collected", 20), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    sqlite_ledger = Ledger(tmp_path / "orchestrator-state.sqlite")
    before = sqlite_ledger.counts("g")
    spent = sqlite_ledger.spent()
    sqlite_ledger.close()
    assert before[DONE] > 0 and before[POSTED] > 0  # a ledger with work in every stage

    url = pg.url()
    copied = cli(
        config, "ledger", "copy", "--to", url, "--password-env", "ORCH_TEST_LEDGER_PASSWORD"
    )
    assert copied.returncode == 0, copied.stderr
    assert f'url = "{url}"' in copied.stdout and pg_server.PASSWORD not in copied.stdout
    server = Ledger(url, pg_server.PASSWORD)
    assert server.counts("g") == before and server.spent() == pytest.approx(spent)
    (held,) = server._db.execute("SELECT min(next_at) FROM rate_slots").fetchone()
    server.close()
    calls = CallLog.beside(str(tmp_path / "orchestrator-state.sqlite"), 300)
    newest = max(at for at, _ in calls.since(0))
    calls.close()
    assert held == pytest.approx(newest + 10.5)  # rate_period_s + rate_jitter_s

    created = stats(slow_simulator)["tasks_created"]
    stale = cli(config, "run")  # the file, not yet pointed away from: refused, nothing posted
    assert stale.returncode == 2 and "copied to" in stale.stderr
    assert stats(slow_simulator)["tasks_created"] == created

    with config.open("a") as out:
        out.write(f'\n[state]\nurl = "{url}"\npassword_env = "ORCH_TEST_LEDGER_PASSWORD"\n')
    finished = cli(config, "run", "--max-runtime", "200")
    assert finished.returncode == 0, finished.stderr
    ids = output_ids(tmp_path)
    numbers = stats(slow_simulator)
    assert len(ids) == len(set(ids)) == 300
    assert numbers["tasks_created"] == 300 and numbers["duplicate_tags"] == 0
    assert numbers["rate_limited"] == 0
    status = json.loads(cli(config, "status", "--json").stdout)
    assert status["jobs"]["g"]["counts"]["done"] == 300

    again = cli(
        config, "ledger", "copy", "--to", url, "--password-env", "ORCH_TEST_LEDGER_PASSWORD"
    )
    assert again.returncode == 2 and "copied to" in again.stderr  # the file is a record now


def test_a_ledger_of_the_first_release_is_migrated_then_copied(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """A version-0 file (no periods, no identity) is brought up to date and copied: rows,
    states, spend, file sizes and runs are the server's, and new ids follow the copied ones."""
    path = tmp_path / "state.sqlite"
    make_v0(path)
    source = Ledger(path)
    url = pg.url()
    target = Ledger(url, pg_server.PASSWORD)
    identity = source.id
    copied = source.copy_to(target, str(tmp_path))
    assert copied.rows["inputs"] == 3 and copied.rows["runs"] == 1 and not copied.already
    assert target.counts("g") == source.counts("g")
    assert target.spent() == pytest.approx(0.0018)
    assert target.month_spent("2026-11") == pytest.approx(0.0018)
    assert target.committed_size("out/g/results.jsonl") == 42
    assert target.posted_jobs(["id-2"]) == {"id-2": ("g", "")}
    assert target.start_run() == 2  # after the copied run
    batch, claimed = target.claim_batch("g", "", 10)
    assert [c.tag for c in claimed] == ["g:k3"] and batch >= 1
    target.close()
    source.close()
    reopened = Ledger(url, pg_server.PASSWORD)
    assert reopened.id == identity  # the tags it posted are still its own
    reopened.close()


def test_a_line_written_but_not_settled_before_a_crash_is_cut_by_the_copy(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """A run killed between appending a line and settling it leaves the line after the
    file's committed size, its task still posted. The next run on the file would cut it; the
    server's runs write files of their own and would not, so the task, collected again there,
    was in the results twice. The copy cuts it."""
    config = daily_config(tmp_path, "http://127.0.0.1:9", 2)
    ledger = Ledger(tmp_path / "orchestrator-state.sqlite")
    ledger.add_inputs([("g", "", f"k{i}", f"g:k{i}", i, b"{}", 0.0006) for i in (1, 2)])
    _, claimed = ledger.claim_batch("g", "", 10)
    ledger.mark_posted([(c.tag, f"id-{i}", 0.0006) for i, c in enumerate(claimed, 1)], "2026-12")
    results = tmp_path / "out" / "g" / "results.jsonl"
    results.parent.mkdir(parents=True)
    settled = b'{"id": "id-1"}\n'
    results.write_bytes(settled)
    ledger.settle("g/results.jsonl", len(settled), ["id-1"], [])
    with results.open("ab") as crash:  # the crash: appended, never settled
        crash.write(b'{"id": "id-2"}\n')
    ledger.close()
    url = pg.url()
    copied = cli(
        config, "ledger", "copy", "--to", url, "--password-env", "ORCH_TEST_LEDGER_PASSWORD"
    )
    assert copied.returncode == 0, copied.stderr
    assert results.read_bytes() == settled
    server = Ledger(url, pg_server.PASSWORD)
    assert server.posted_jobs(["id-1", "id-2"]) == {"id-2": ("g", "")}
    assert server.committed_size("g/results.jsonl") == len(settled)
    server.close()
