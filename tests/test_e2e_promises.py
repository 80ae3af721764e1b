"""The README's promises the way users operate: a deleted ledger, two configs on one folder,
lost answers and failing id_list, a new day with the same keywords. Real processes against the
simulator, the product's default timers unless a test says why not."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.test_e2e_run import ENV, run, running_simulator, stats, wait_for


def daily_config(tmp: Path, url: str, n: int, extra: str = "", out: str = "out") -> Path:
    """A one-shot google/organic job of `n` keywords; default [api] timers."""
    (tmp / "kw.txt").write_text("".join(f"keyword {i}\n" for i in range(n)))
    config = tmp / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"

[output]
dir = "{out}"

[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
location_code = 2840
language_code = "en"
{extra}""")
    return config


def result_ids(folder: Path) -> list[str]:
    ids = []
    for name in ("results.jsonl", "failed.jsonl"):
        path = folder / name
        if path.exists():
            ids += [json.loads(line)["id"] for line in path.read_text().splitlines()]
    return ids


def set_fault_rate(url: str, rate: float) -> None:
    request = urllib.request.Request(
        f"{url}/_sim/faults", data=json.dumps({"fault_rate": rate}).encode()
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_a_lost_ledger_or_a_shared_folder_never_empties_results(tmp_path: Path) -> None:
    """Item 1: a run with a new ledger (deleted, moved, or another config's) on a folder of
    results it did not write exits 2 before posting, and not a byte of them changes."""
    with running_simulator("--seed", "5") as url:
        config = daily_config(tmp_path, url, 60)
        first = run(config)
        assert first.returncode == 0, first.stderr
        results = tmp_path / "out" / "g" / "results.jsonl"
        before = results.read_bytes()
        assert len(result_ids(tmp_path / "out" / "g")) == 60
        created = stats(url)["tasks_created"]
        for name in ("orchestrator-state.sqlite", "orchestrator-state.sqlite-wal"):
            (tmp_path / name).unlink(missing_ok=True)  # "start a new day": delete the ledger
        again = run(config)
        assert again.returncode == 2, again.stderr
        assert "out/g: written by another ledger" in again.stderr
        assert "orchestrator recover" in again.stderr and "Traceback" not in again.stderr
        other = tmp_path / "other.toml"  # a second config writing to the same folder
        other.write_text(config.read_text() + '\n[state]\npath = "other.sqlite"\n')
        shared = run(other)
        assert shared.returncode == 2 and "written by another ledger" in shared.stderr
        assert results.read_bytes() == before
        assert stats(url)["tasks_created"] == created  # nothing posted, nothing paid twice


def test_a_folder_of_results_without_a_marker_is_refused_too(tmp_path: Path) -> None:
    """Results from before markers existed, or copied in: refused unless this ledger wrote
    them; the message names the file."""
    with running_simulator("--seed", "5") as url:
        config = daily_config(tmp_path, url, 5)
        folder = tmp_path / "out" / "g"
        folder.mkdir(parents=True)
        (folder / "results.jsonl").write_bytes(b'{"id": "old"}\n')
        done = run(config)
        assert done.returncode == 2 and "holds results.jsonl that this ledger" in done.stderr
        assert (folder / "results.jsonl").read_bytes() == b'{"id": "old"}\n'
        assert stats(url)["calls_total"] == 0


def test_lost_answers_are_reconciled_exactly_and_a_failing_id_list_posts_nothing_again(
    tmp_path: Path,
) -> None:
    """Item 2: every task_post answer is lost and id_list errs: the run stops with exit 4 and
    the rows stay posting; nothing is posted twice. Once id_list answers, the next run finds
    every task and posts none again."""
    flags = [
        "--seed",
        "9",
        "--fault-rate",
        "1",
        "--fault-kinds",
        "task_post:drop_after=1,id_list:task_error=1",
    ]
    with running_simulator(*flags) as url:
        config = daily_config(tmp_path, url, 150)
        failed = run(config)
        assert failed.returncode == 4, failed.stdout + failed.stderr
        assert "stay 'posting' and are not posted again" in failed.stderr
        assert "Traceback" not in failed.stderr
        numbers = stats(url)
        assert numbers["tasks_created"] == 150 and numbers["duplicate_tags"] == 0
        ledger = sqlite3.connect(tmp_path / "orchestrator-state.sqlite")
        states = dict(ledger.execute("SELECT state, COUNT(*) FROM inputs GROUP BY state"))
        ledger.close()
        # Both batches were posted (a lost answer no longer holds up the next batch), and
        # both stay posting: id_list never said whether their tasks exist.
        assert states == {"posting": 150}
        set_fault_rate(url, 0)
        finished = run(config)
        assert finished.returncode == 0, finished.stderr
        numbers = stats(url)
        assert numbers["tasks_created"] == 150 and numbers["duplicate_tags"] == 0
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 150


def test_lost_answers_under_faults_over_a_shifted_clock_are_paid_once(tmp_path: Path) -> None:
    """Item 2 as reported: the simulator's clock two days ahead, every task_post answer lost
    after the tasks were created. Every input once, no tag posted twice, and the ledger's
    spend is the bill."""
    flags = ["--seed", "4", "--fault-rate", "1", "--fault-kinds", "task_post:drop_after=1"]
    with running_simulator(*flags) as url:
        request = urllib.request.Request(f"{url}/_sim/advance?seconds=172800", data=b"")
        urllib.request.urlopen(request, timeout=10).close()
        config = daily_config(tmp_path, url, 200)
        done = run(config, "--max-runtime", "200")
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
        assert numbers["duplicate_tags"] == 0 and numbers["tasks_created"] == 200
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 200
        status = subprocess.run(
            [sys.executable, "-m", "orchestrator", "status", "--config", str(config), "--json"],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        spent = json.loads(status.stdout)["spent_usd"]
        assert abs(spent - numbers["cost_total"]) < 1e-9


def test_a_new_day_with_the_same_keywords_never_takes_yesterdays_tasks(tmp_path: Path) -> None:
    """Item 3: day 2 in a new folder and ledger, the same keywords, and most task_post
    connections dropped before anything was created: id_list then lists only yesterday's
    tasks of those keywords, and none of them may be taken for today's. Every result written
    for day 2 is a task posted for day 2. A dropped POST's rows are posted again only once
    id_list has twice shown their tasks do not exist, the first time request_timeout_s after
    the drop: short timers here (3 s, 1 s apart), or each drop would hold its rows 155 s."""
    flags = ["--seed", "2", "--fault-rate", "0.7", "--fault-kinds", "task_post:drop=1"]
    timers = "request_timeout_s = 3\nreconcile_after_s = 1\nreconcile_apart_s = 1\n"

    def config(folder: Path) -> Path:
        made = daily_config(folder, url, 100)
        made.write_text(made.read_text().replace("[output]", timers + "\n[output]"))
        return made

    with running_simulator(*flags) as url:
        day1 = tmp_path / "day1"
        day1.mkdir()
        first = run(config(day1), "--max-runtime", "120")
        assert first.returncode == 0 and "run ended (done)" in first.stdout, first.stderr
        yesterday = set(result_ids(day1 / "out" / "g"))
        drops = stats(url)["faults_injected"].get("drop", 0)
        # The rate's draws are shared by every call, so how many fall on day 2 moves with
        # the calls day 1 made: day 2's first post is dropped whatever they were.
        request = urllib.request.Request(
            f"{url}/_sim/faults", data=json.dumps({"next": {"task_post": ["drop"]}}).encode()
        )
        urllib.request.urlopen(request, timeout=10).close()
        day2 = tmp_path / "day2"
        day2.mkdir()
        second = run(config(day2), "--max-runtime", "120")
        assert second.returncode == 0 and "run ended (done)" in second.stdout, second.stderr
        today = result_ids(day2 / "out" / "g")
        assert len(today) == len(set(today)) == 100
        assert not yesterday & set(today)
        numbers = stats(url)
        assert numbers["faults_injected"]["drop"] > drops  # day 2 lost answers too
        assert numbers["tasks_created"] == 200 and numbers["duplicate_tags"] == 100


def ledger_states(path: Path) -> dict[str, int]:
    """Rows by state ({} while the ledger is still being made)."""
    if not path.exists():
        return {}
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT state, COUNT(*) FROM inputs GROUP BY state"))
    except sqlite3.OperationalError:  # the run is creating the schema right now
        return {}
    finally:
        db.close()


def test_a_full_tasks_ready_does_not_stall_our_tasks(tmp_path: Path) -> None:
    """Item 4: tasks_ready lists 1000 tasks of another tool, none ours. Our 20 are asked for
    by id once they are old enough, not after overdue_s; the progress says why it waits."""
    with running_simulator("--seed", "6") as url:
        theirs = [
            {"keyword": f"theirs {i}", "location_code": 2840, "language_code": "en", "tag": "x"}
            for i in range(1000)
        ]
        for start in range(0, 1000, 100):
            request = urllib.request.Request(
                f"{url}/v3/serp/google/organic/task_post",
                data=json.dumps(theirs[start : start + 100]).encode(),
            )
            request.add_header("Authorization", "Basic c2ltOnNpbQ==")
            urllib.request.urlopen(request, timeout=10).close()
        wait_for(url, lambda now: now["tasks_ready"] == 1000)  # all done: tasks_ready is full
        config = daily_config(tmp_path, url, 20)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        cmd += ["--max-runtime", "150", "--log-format", "json", "--progress-interval", "2"]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
        )
        status_says = ""
        while proc.poll() is None and "last seen waiting for tasks_ready" not in status_says:
            time.sleep(1)
            status_says = subprocess.run(
                [sys.executable, "-m", "orchestrator", "status", "--config", str(config)],
                capture_output=True,
                text=True,
                env=ENV,
                timeout=60,
            ).stdout
        out, err = proc.communicate(timeout=200)
        assert proc.returncode == 0, err
        assert "last seen waiting for tasks_ready, full with 1000" in status_says
        events = [json.loads(line) for line in out.splitlines()]
        assert events[-1]["event"] == "run_ended" and events[-1]["reason"] == "done"
        notes = {e.get("waiting_for") or "" for e in events if e["event"] == "progress"}
        assert any(n.startswith("tasks_ready, full with 1000") for n in notes), notes
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 20
        assert stats(url)["tasks_ready"] == 1000  # theirs are left alone


def test_sigterm_while_loading_exits_at_once_with_a_consistent_ledger(tmp_path: Path) -> None:
    """Item 6: a SIGTERM while a big input is still loading ends the run within 2 s (143), the
    ledger intact and its counts true; the next run goes on from there."""
    with running_simulator("--delay-normal-s", "0:0", "--seed", "1") as url:
        config = daily_config(tmp_path, url, 300_000)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV
        )
        state = tmp_path / "orchestrator-state.sqlite"
        deadline = time.monotonic() + 60
        while sum(ledger_states(state).values()) < 5000:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
        assert proc.returncode == 143, err
        assert took < 2.0, f"exited {took:.1f} s after SIGTERM"
        db = sqlite3.connect(state)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT COUNT(*) FROM inputs").fetchone()[0]
        tallied = db.execute("SELECT SUM(n) FROM tally").fetchone()[0]
        db.close()
        assert 5000 <= rows < 300_000 and tallied == rows


def test_a_lost_ledger_is_rebuilt_by_recover_and_the_run_goes_on(tmp_path: Path) -> None:
    """`orchestrator recover`: the results on disk become done rows, the tasks id_list knows
    and no output holds become posted; the next run collects those and posts nothing again."""
    with running_simulator("--delay-normal-s", "4:6", "--seed", "4") as url:
        config = daily_config(tmp_path, url, 50)
        assert run(config).returncode == 0  # day one: 50 results on disk
        (tmp_path / "kw.txt").write_text("".join(f"keyword {i}\n" for i in range(100)))
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        deadline = time.monotonic() + 30
        while stats(url)["tasks_created"] < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)  # 50 more posted, none collected: then the ledger is lost
        proc.wait(timeout=10)
        for name in ("orchestrator-state.sqlite", "orchestrator-state.sqlite-wal"):
            (tmp_path / name).unlink(missing_ok=True)
        assert run(config).returncode == 2
        recovered = subprocess.run(
            [sys.executable, "-m", "orchestrator", "recover", "--config", str(config)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )
        assert recovered.returncode == 0, recovered.stderr
        assert "g: 50 done, 0 failed, 50 posted" in recovered.stdout
        again = subprocess.run(
            [sys.executable, "-m", "orchestrator", "recover", "--config", str(config)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert again.returncode == 2 and "holds inputs: recover rebuilds a lost" in again.stderr
        done = run(config, "--max-runtime", "120")
        assert done.returncode == 0, done.stderr
        ids = result_ids(tmp_path / "out" / "g")
        assert len(ids) == len(set(ids)) == 100
        numbers = stats(url)
        assert numbers["tasks_created"] == 100 and numbers["duplicate_tags"] == 0
