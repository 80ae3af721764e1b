"""Collection across crashes and errors, the way users meet them: a task whose task_get was
answered and whose answer was lost, by a SIGKILL or a dropped connection, is asked for by id at
once, never left to the overdue sweep (`overdue_s` = 600 by default). Real processes against the
simulator, the product's default timers."""

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_e2e_promises import daily_config, ledger_states, result_ids, set_fault_rate
from tests.test_e2e_run import ENV, run, running_simulator, stats


def script_faults(url: str, kinds_by_function: dict[str, list[str]]) -> None:
    """The simulator's next calls of each function get these faults, in order."""
    body = json.dumps({"next": kinds_by_function}).encode()
    request = urllib.request.Request(f"{url}/_sim/faults", data=body)
    urllib.request.urlopen(request, timeout=10).close()


def kill_once_sent(config: Path, url: str, function: str) -> None:
    """Start a run and SIGKILL it as soon as the simulator has taken its first call of
    `function` (a scripted slow fault then holds that call in the server's hands)."""
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 60
    while stats(url)["calls_by_function"].get(function, 0) < 1:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def fetch_marks(path: Path) -> int:
    """Rows whose task_get was asked for (the poller's write-ahead mark)."""
    db = sqlite3.connect(path)
    try:
        return int(
            db.execute("SELECT COUNT(*) FROM inputs WHERE fetch_at IS NOT NULL").fetchone()[0]
        )
    except sqlite3.OperationalError:  # the run is creating the schema right now
        return 0
    finally:
        db.close()


def test_a_fetch_answered_before_a_kill_is_fetched_again_at_once(tmp_path: Path) -> None:
    """Item 4: task_get answered (so tasks_ready no longer lists the task), then the process
    is killed before the result is written. With default timers (overdue_s = 600) the next
    run fetches those tasks by id at once instead of waiting ten minutes."""
    flags = ["--seed", "3", "--fault-rate", "1", "--fault-kinds", "task_get:drop_after=1"]
    with running_simulator(*flags) as url:
        config = daily_config(tmp_path, url, 20)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        deadline = time.monotonic() + 60
        while stats(url)["tasks_collected"] < 20 and time.monotonic() < deadline:
            time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert stats(url)["tasks_collected"] == 20  # answered, and every answer lost
        assert ledger_states(tmp_path / "orchestrator-state.sqlite") == {"posted": 20}
        set_fault_rate(url, 0)
        done = run(config, "--max-runtime", "120")
        assert done.returncode == 0, done.stderr
        assert "run ended (done)" in done.stdout
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 20


def test_an_error_after_a_lost_answer_is_asked_again_by_id_not_after_overdue_s(
    tmp_path: Path,
) -> None:
    """A task_get carried out and its connection dropped (the task is off tasks_ready), and the
    re-sent request and two more answered 50401: the task is asked for by id again after 2, 4
    and 8 s, the progress says so meanwhile, and the run ends done well inside a --max-runtime
    shorter than overdue_s. One keyword, so that the scripted faults meet one task's requests."""
    with running_simulator("--seed", "8") as url:
        config = daily_config(tmp_path, url, 1)
        script_faults(url, {"task_get": ["drop_after", "task_error", "task_error", "task_error"]})
        cmd = [sys.executable, "-m", "orchestrator", "--log-level", "INFO", "run"]
        cmd += ["--config", str(config), "--max-runtime", "90"]
        cmd += ["--log-format", "json", "--progress-interval", "1"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=150)
        assert done.returncode == 0, done.stderr[-3000:]
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert events[-1]["event"] == "run_ended" and events[-1]["reason"] == "done", events[-1]
        notes = {e.get("waiting_for") or "" for e in events if e["event"] == "progress"}
        said = "1 tasks whose task_get answered an error: asking for them by id again"
        assert said in notes, notes
        assert done.stderr.count("task_get_again") == 3
        assert len(result_ids(tmp_path / "out" / "g")) == 1
        numbers = stats(url)
        assert numbers["faults_injected"] == {"drop_after": 1, "task_error": 3}
        assert numbers["calls_by_function"]["task_get"] == 5
        assert numbers["tasks_created"] == 1 and numbers["rate_limited"] == 0


def test_a_task_whose_every_task_get_try_failed_is_asked_again_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    """Six HTTP 500s in a row on one task's task_get use up the client's tries: the run does
    not end on that task's bad luck, it asks for it by id again and ends done."""
    with running_simulator("--seed", "14") as url:
        config = daily_config(tmp_path, url, 1)
        script_faults(url, {"task_get": ["http_500"] * 6})
        done = run(config, "--max-runtime", "90", timeout=150)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "run ended (done)" in done.stdout, done.stdout[-3000:]
        assert "task_get_failed" in done.stderr
        assert len(result_ids(tmp_path / "out" / "g")) == 1
        numbers = stats(url)
        assert numbers["faults_injected"] == {"http_500": 6}
        assert numbers["calls_by_function"]["task_get"] == 7


def test_an_error_on_the_restart_fetch_of_a_lost_answer_is_asked_again_by_id(
    tmp_path: Path,
) -> None:
    """The run is killed while its task_get is being answered (so the task leaves
    tasks_ready), and the next run's fetch of that task by id answers 50401: that run asks
    again by id within seconds and ends done, with the product's default timers."""
    with running_simulator("--seed", "10", "--slow-s", "3") as url:
        config = daily_config(tmp_path, url, 1)
        state = tmp_path / "orchestrator-state.sqlite"
        script_faults(url, {"task_get": ["slow"]})
        kill_once_sent(config, url, "task_get")  # its task_get is in the server's hands
        deadline = time.monotonic() + 60
        while stats(url)["tasks_collected"] < 1:  # the server answers a closed connection
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert ledger_states(state) == {"posted": 1} and fetch_marks(state) == 1
        assert stats(url)["tasks_ready"] == 0
        script_faults(url, {"task_get": ["task_error"]})
        done = run(config, "--max-runtime", "60", timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "run ended (done)" in done.stdout, done.stdout[-3000:]
        assert len(result_ids(tmp_path / "out" / "g")) == 1
        numbers = stats(url)
        assert numbers["faults_injected"] == {"slow": 1, "task_error": 1}
        assert numbers["tasks_created"] == 1


def test_a_post_that_waited_in_the_limiter_and_was_cut_by_a_kill_is_paid_once(
    tmp_path: Path,
) -> None:
    """A batch claimed, its POST held 3 s behind a slow tasks_ready (one connection), then
    killed while the server works on it; the server creates the tasks 3 s later. A restart at
    once asks id_list `reconcile_after_s` after that POST went out (the call log says when),
    not after the claim, so it finds them and posts nothing again. Default timers."""
    with running_simulator("--seed", "13", "--slow-s", "3") as url:
        config = daily_config(tmp_path, url, 100)
        text = config.read_text().replace(
            'password = "sim"\n', 'password = "sim"\nmax_concurrency = 1\n'
        )
        config.write_text(text)
        state = tmp_path / "orchestrator-state.sqlite"
        script_faults(url, {"tasks_ready": ["slow"], "task_post": ["slow"]})
        kill_once_sent(config, url, "task_post")
        assert stats(url)["tasks_created"] == 0  # the server is still working on the POST
        assert ledger_states(state) == {"posting": 100}
        done = run(config, "--max-runtime", "60", timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "run ended (done)" in done.stdout, done.stdout[-3000:]
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 100
        assert stats(url)["tasks_created"] == 100  # not 200: nothing was paid twice


@pytest.mark.timeout(330)  # its last run may take --max-runtime 240; alone it takes ~35 s
def test_restarts_after_kills_finish_promptly_with_default_timers(tmp_path: Path) -> None:
    """Done when: after any number of SIGKILLs, the next run with the product's default
    timers and limits (the simulator's the same) finishes promptly, every input once, and no
    call, general or tasks_ready, refused for the rate."""
    flags = ["--calls-per-minute", "2000", "--rate-period-s", "60", "--fault-rate", "0.05"]
    with running_simulator(*flags, "--seed", "12") as url:
        config = daily_config(tmp_path, url, 700)
        rng = random.Random(5)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        for _ in range(6):
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
            )
            time.sleep(rng.uniform(0.5, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        # Its own limit ends a stalled run before the process timeout, so that a failure shows
        # the progress lines that say what it waited on (seen twice under a loaded full suite).
        done = run(config, "--max-runtime", "240", timeout=300)
        shown = "\n".join(done.stdout.splitlines()[-15:]) + "\n" + done.stderr[-3000:]
        assert done.returncode == 0, shown
        assert "run ended (done)" in done.stdout, shown
        numbers = stats(url)
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 700
        assert numbers["tasks_created"] == 700 and numbers["rate_limited"] == 0
