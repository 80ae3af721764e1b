"""The ledger as the store of record, the way a hostile server and a broken clock meet it: a
slow API, a clock step across a kill, short answers and another task's result under an id.
Real processes against the simulator. Each of these paid twice, or wrote a result under the
wrong input, on the code before the attempt record (ledger version 4)."""

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from orchestrator.wire.limiter import CallLog
from tests.test_e2e_promises import daily_config, result_ids, set_fault_rate
from tests.test_e2e_run import ENV, more_than, run, running_simulator, stats, wait_for

LEDGER = "orchestrator-state.sqlite"


def paid_once_each(url: str, folder: Path, inputs: int) -> None:
    """Every input one task, and one line in the outputs: nothing paid twice, nothing lost."""
    numbers = stats(url)
    assert numbers["tasks_created"] == inputs and numbers["duplicate_tags"] == 0
    ids = result_ids(folder)
    assert len(ids) == len(set(ids)) == inputs


def with_api(config: Path, settings: str) -> Path:
    """The config with these [api] settings added."""
    config.write_text(config.read_text().replace("[output]", settings + "\n[output]"))
    return config


def test_a_post_answered_after_the_timeout_is_paid_once(tmp_path: Path) -> None:
    """Every task_post answers 3.5 s late with a 2 s timeout: the tasks are created after the
    run gave up on the answer. Before, id_list was asked at once, did not list them yet, and
    the rows were posted again (120 tasks for 5 inputs in two minutes)."""
    flags = ["--fault-rate", "1", "--fault-kinds", "task_post:slow=1", "--slow-s", "3.5"]
    with running_simulator(*flags) as url:
        timers = "request_timeout_s = 2\nreconcile_after_s = 0.5\nreconcile_apart_s = 1\n"
        config = with_api(daily_config(tmp_path, url, 5), timers)
        done = run(config, "--max-runtime", "120")
        assert done.returncode == 0, done.stderr
        paid_once_each(url, tmp_path / "out" / "g", 5)
        assert "post_answer_lost" in done.stderr and "released" not in done.stderr


def test_a_clock_step_between_a_kill_and_the_restart_moves_no_window(tmp_path: Path) -> None:
    """Every task_post answer is lost after the tasks were created, the run is killed once
    the simulator holds all 300, and the clocks then differ by two hours (the server's jumps
    ahead: ours stepped back). The attempts were recorded in the server's clock, so the
    restart's id_list window still holds them. Before: 400 tasks created for 300 inputs."""
    flags = ["--fault-rate", "1", "--fault-kinds", "task_post:drop_after=1"]
    with running_simulator(*flags) as url:
        config = daily_config(tmp_path, url, 300)
        slow = with_api(config, "reconcile_after_s = 3600\n")  # no question before the kill
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(slow)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        try:
            wait_for(url, more_than("tasks_created", 299), proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert stats(url)["tasks_created"] == 300
        step = urllib.request.Request(f"{url}/_sim/advance?seconds=7200", data=b"")
        urllib.request.urlopen(step, timeout=10).close()
        set_fault_rate(url, 0)
        config = daily_config(tmp_path, url, 300)  # the product's default timers again
        done = run(config, "--max-runtime", "200")
        assert done.returncode == 0, done.stderr
        paid_once_each(url, tmp_path / "out" / "g", 300)


def test_a_short_answer_leaves_its_missing_tasks_to_id_list_not_to_a_new_post(
    tmp_path: Path,
) -> None:
    """Every task_post answer leaves out the last task it created; the product's defaults.
    The missing rows stay posting until id_list finds their tasks. Before: posted again
    blindly (305 tasks for 300 inputs), with no warning."""
    with running_simulator("--fault-rate", "1", "--fault-kinds", "task_post:short=1") as url:
        config = daily_config(tmp_path, url, 300)
        done = run(config, "--max-runtime", "200")
        assert done.returncode == 0, done.stderr
        paid_once_each(url, tmp_path / "out" / "g", 300)
        assert done.stderr.count("post_answer_short") == 3


def test_another_tasks_result_under_an_id_is_never_written(tmp_path: Path) -> None:
    """A third of task_get answers carry another task's data and result under the id asked
    for. Such an answer is refused and the task asked for again; every line written is the
    answer about its own input. Before: 20 results written under the wrong input."""
    flags = ["--seed", "3", "--fault-rate", "0.3", "--fault-kinds", "task_get:foreign=1"]
    with running_simulator(*flags) as url:
        config = daily_config(tmp_path, url, 60)
        done = run(config, "--max-runtime", "200")
        assert done.returncode == 0, done.stderr
        assert stats(url)["faults_injected"].get("foreign", 0) > 0
        assert "foreign_answer" in done.stderr
        ledger = sqlite3.connect(tmp_path / LEDGER)
        rows = dict(ledger.execute("SELECT task_id, tag FROM inputs WHERE state = 'done'"))
        ledger.close()
        lines = (tmp_path / "out" / "g" / "results.jsonl").read_text().splitlines()
        assert len(lines) == len(rows) == 60
        for line in lines:
            task = json.loads(line)
            assert task["data"]["tag"].partition("@")[0] == rows[task["id"]]


def fault_script(url: str, script: dict[str, list[str]]) -> None:
    body = json.dumps({"next": script}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/_sim/faults", data=body), timeout=10)


def test_a_backlog_of_the_api_costs_at_most_two_task_gets_a_task(tmp_path: Path) -> None:
    """Every task takes 14 s, and overdue_s is 5: the overdue sweep finds them still in the
    API's queue. Each is asked again only 2 x overdue_s later, and tasks_ready lists it once
    done: at most two task_get calls a task. Before, every sweep asked again (three each here,
    1,538 for 200 with a longer backlog)."""
    with running_simulator("--seed", "12", "--delay-normal-s", "14:14") as url:
        config = with_api(daily_config(tmp_path, url, 200), "overdue_s = 5\n")
        done = run(config, "--max-runtime", "200")
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
        assert 200 < numbers["calls_by_function"]["task_get"] <= 400
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 200


def test_a_task_get_refused_as_a_whole_fails_that_task_not_the_run(tmp_path: Path) -> None:
    """The API refuses one task's task_get outright (40400, HTTP 404): that input gets a
    failure line saying so, and the run collects the others and ends well. Before, the run
    ended with exit 1 and a traceback."""
    with running_simulator("--seed", "13", "--delay-normal-s", "1:2") as url:
        fault_script(url, {"task_get": ["refused"]})
        config = daily_config(tmp_path, url, 30)
        done = run(config, "--max-runtime", "200")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "task_get_refused" in done.stderr
        folder = tmp_path / "out" / "g"
        failed = [json.loads(line) for line in (folder / "failed.jsonl").read_text().splitlines()]
        assert [f["status_code"] for f in failed] == [40400]
        paid_once_each(url, folder, 30)


def test_a_moved_project_folder_keeps_its_results_and_goes_on(tmp_path: Path) -> None:
    """The project folder (config, ledger, outputs) is renamed, as a container mount or a
    moved directory does: the next run goes on with its own results and writes each new input
    once. Before, the ledger knew its files by absolute path and refused them as foreign."""
    with running_simulator("--seed", "14", "--delay-normal-s", "0:1") as url:
        first = tmp_path / "project"
        first.mkdir()
        config = daily_config(first, url, 20)
        assert run(config).returncode == 0
        moved = tmp_path / "moved"
        first.rename(moved)
        kw = moved / "kw.txt"
        kw.write_text(kw.read_text() + "".join(f"keyword {i}\n" for i in range(20, 30)))
        again = run(moved / "jobs.toml")
        assert again.returncode == 0, again.stderr
        paid_once_each(url, moved / "out" / "g", 30)


def recover_cmd(config: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "recover", "--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def test_recover_cuts_a_torn_last_line_and_names_a_bad_line_in_the_middle(
    tmp_path: Path,
) -> None:
    """The ledger is lost after a crash tore the last line of results.jsonl: recover cuts
    that line off and leaves its task to be collected again, and the next run ends with one
    line per input, nothing posted twice. A damaged line in the middle instead stops recover
    with exit 2 naming file and line. Before: a msgspec traceback either way."""
    with running_simulator("--seed", "15", "--delay-normal-s", "0:1") as url:
        config = daily_config(tmp_path, url, 20)
        assert run(config).returncode == 0
        results = tmp_path / "out" / "g" / "results.jsonl"
        whole = results.read_bytes()
        for name in (LEDGER, LEDGER + "-wal", LEDGER + "-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        lines = whole.splitlines(keepends=True)
        results.write_bytes(lines[0] + b"{broken\n" + b"".join(lines[1:]))
        bad = recover_cmd(config)
        assert bad.returncode == 2, bad.stderr
        assert f"{results}:2: not a task object" in bad.stderr and "Traceback" not in bad.stderr
        assert not (tmp_path / LEDGER).exists()  # half a ledger is worse than none
        results.write_bytes(whole[:-40])  # the crash tore the last line
        calls = CallLog.beside(str(tmp_path / LEDGER), 2000)
        before = len(calls.since(0))
        rebuilt = recover_cmd(config)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert len(calls.since(0)) > before  # its id_list calls count in the shared log
        calls.close()
        assert "g: 19 done, 0 failed, 1 posted" in rebuilt.stdout
        assert results.read_bytes() == b"".join(lines[:-1])
        done = run(config)
        assert done.returncode == 0, done.stderr
        paid_once_each(url, tmp_path / "out" / "g", 20)


def test_two_configs_on_one_ledger_with_one_job_name_are_refused(tmp_path: Path) -> None:
    """A second config shares the first one's [state] path and job name but writes to its
    own folder: it exits 2 before posting anything and names the first config; the first
    one's rows and results are untouched. Changing the first config's [output] dir is still
    allowed (the same config, moved outputs)."""
    with running_simulator("--seed", "16", "--delay-normal-s", "0:1") as url:
        first = daily_config(tmp_path, url, 10)
        assert run(first).returncode == 0
        results = (tmp_path / "out" / "g" / "results.jsonl").read_bytes()
        (tmp_path / "other.txt").write_text("".join(f"other {i}\n" for i in range(10)))
        second = tmp_path / "second.toml"
        text = first.read_text().replace('"kw.txt"', '"other.txt"')
        second.write_text(text.replace('dir = "out"', 'dir = "second-out"'))
        refused = run(second)
        assert refused.returncode == 2, refused.stderr
        assert "belongs to the config jobs.toml" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert stats(url)["tasks_created"] == 10
        assert (tmp_path / "out" / "g" / "results.jsonl").read_bytes() == results
        moved = first.read_text().replace('dir = "out"', 'dir = "out-2"')
        first.write_text(moved)
        assert run(first).returncode == 0


def test_a_balance_that_runs_out_stops_posting_and_collects_what_was_paid(
    tmp_path: Path,
) -> None:
    """$0.15 pays for two batches of 100: the third POST gets 40200. The run stops posting,
    collects the 200 tasks paid for (it exited at once and left them before), then exits 3
    with one line saying what is left."""
    with running_simulator("--balance", "0.15") as url:
        config = daily_config(tmp_path, url, 500)
        done = run(config, "--max-runtime", "120")
        assert done.returncode == 3, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert "Payment Required" in last and "every task already paid for was collected" in last
        assert "300 inputs not posted" in last and "Traceback" not in done.stderr
        paid_once_each(url, tmp_path / "out" / "g", 200)
