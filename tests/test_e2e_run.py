"""`orchestrator run` end to end against the simulator in its own process, faults on: every
valid input ends in exactly one output line, nothing is posted twice, the limit is never hit,
and SIGKILL at random points changes none of that."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SIM_FLAGS = ["--calls-per-minute", "3000", "--rate-period-s", "10", "--delay-normal-s", "0:2"]


def start_simulator(*flags: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "orchestrator", "simulate", "--port", "0", *SIM_FLAGS, *flags]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split("listening on ")[1].split(" ")[0]


@contextmanager
def running_simulator(*flags: str) -> Iterator[str]:
    """A simulator process for the length of the block; yields its URL."""
    proc, url = start_simulator(*flags)
    try:
        yield url
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.fixture
def simulator() -> Iterator[str]:
    with running_simulator("--fault-rate", "0.05", "--seed", "7") as url:
        yield url


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_sim/stats", timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def wait_for(
    url: str,
    reached: Callable[[dict[str, Any]], bool],
    proc: "subprocess.Popen[bytes] | subprocess.Popen[str] | None" = None,
    limit_s: float = 120,
) -> None:
    """Poll the simulator's counts until `reached` holds (the run, if given, still up)."""
    deadline = time.monotonic() + limit_s
    while not reached(stats(url)):
        assert proc is None or proc.poll() is None, "the run ended before the state came"
        assert time.monotonic() < deadline, "the simulator's counts never reached the state"
        time.sleep(0.05)


def more_than(count: str, than: int) -> Callable[[dict[str, Any]], bool]:
    """The simulator's `count` has passed `than`."""
    return lambda now: bool(now[count] > than)


def write_job_files(tmp: Path, url: str, n: int) -> Path:
    (tmp / "kw.txt").write_text("".join(f"keyword {i}\n" for i in range(n)))
    rows = "".join(f"네이버 {i},{15 * (1 + i % 3)}\n" for i in range(n // 2))
    (tmp / "naver.csv").write_text("keyword,depth\n" + rows + "bad,9000\n")
    (tmp / "img.txt").write_text("".join(f"https://example.com/i{i}.jpg\n" for i in range(n // 4)))
    config = tmp / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"
calls_per_minute = 3000
rate_period_s = 10
overdue_s = 3
# A POST whose connection dropped holds its rows until id_list has twice shown, apart, that
# their tasks do not exist, the first time request_timeout_s + reconcile_after_s after the
# drop: 155 s with the defaults, 7 s here (the simulator's slow answers take 2 s).
request_timeout_s = 5
reconcile_after_s = 1
reconcile_apart_s = 1

[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
location_code = 2840
language_code = "en"

[[jobs]]
name = "n"
se = "naver"
se_type = "organic"
input = "naver.csv"

[[jobs]]
name = "i"
se = "google"
se_type = "search_by_image"
input = "img.txt"
[jobs.defaults]
location_name = "United States"
language_code = "en"
""")
    return config


def run(config: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)


def output_ids(tmp: Path) -> list[str]:
    ids = []
    for path in sorted((tmp / "out").glob("*/*.jsonl")):
        if path.name == "rejected.jsonl":
            continue
        ids += [json.loads(line)["id"] for line in path.read_text().splitlines()]
    return ids


def test_run_collects_every_input_exactly_once_under_faults(tmp_path: Path, simulator: str) -> None:
    """Thousands of inputs over three endpoints, 5% faults: one line each, no duplicate tag."""
    config = write_job_files(tmp_path, simulator, 2000)
    done = run(config, "--max-runtime", "200")
    assert done.returncode == 0, done.stderr
    ids = output_ids(tmp_path)
    numbers = stats(simulator)
    assert len(ids) == len(set(ids)) == 2000 + 1000 + 500
    assert numbers["duplicate_tags"] == 0 and numbers["rate_limited"] == 0
    assert numbers["tasks_created"] == 3500
    rejected = (tmp_path / "out" / "n" / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 1 and json.loads(rejected[0])["line"] == 1002
    assert "run ended (done)" in done.stdout
    again = run(config)  # nothing left to do: no call is made, no line added
    assert again.returncode == 0 and len(output_ids(tmp_path)) == 3500
    assert (
        stats(simulator)["calls_by_function"].get("task_post")
        == numbers["calls_by_function"]["task_post"]
    )


def test_sigkill_at_random_points_never_duplicates_or_loses(tmp_path: Path, simulator: str) -> None:
    """Killed with SIGKILL several times mid-run, then finished: the same invariants hold."""
    config = write_job_files(tmp_path, simulator, 1200)
    rng = random.Random(11)
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    for _ in range(4):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        time.sleep(rng.uniform(0.5, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finished = run(config, "--max-runtime", "200")
    assert finished.returncode == 0, finished.stderr
    ids = output_ids(tmp_path)
    numbers = stats(simulator)
    assert len(ids) == len(set(ids)) == 1200 + 600 + 300
    assert numbers["duplicate_tags"] == 0 and numbers["rate_limited"] == 0


def test_bad_config_and_missing_credentials_exit_2_without_posting(
    tmp_path: Path, simulator: str
) -> None:
    """A config error or unset credentials: one line, exit 2, nothing posted."""
    config = write_job_files(tmp_path, simulator, 10)
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace("calls_per_minute", "calls_per_mnute"))
    done = run(bad)
    assert (
        done.returncode == 2
        and "bad.toml: api: Object contains unknown field `calls_per_mnute`" in done.stderr
    )
    no_creds = tmp_path / "nocreds.toml"
    no_creds.write_text(config.read_text().replace('login = "sim"\npassword = "sim"\n', ""))
    env = {k: v for k, v in ENV.items() if not k.startswith("DATAFORSEO_")}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", "--config", str(no_creds)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "DATAFORSEO_LOGIN is not set" in done.stderr
    missing_input = tmp_path / "missing.toml"
    missing_input.write_text(config.read_text().replace('input = "kw.txt"', 'input = "nope.txt"'))
    done = run(missing_input)
    assert done.returncode == 2 and "nope.txt: cannot read" in done.stderr
    assert "Traceback" not in done.stderr
    assert stats(simulator)["calls_total"] == 0


def test_wrong_password_exits_3_and_a_held_lock_exits_75(tmp_path: Path, simulator: str) -> None:
    """Account problems exit 3; a second run on the same state exits 75 and touches nothing."""
    config = write_job_files(tmp_path, simulator, 10)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(config.read_text().replace('password = "sim"', 'password = "hunter2"'))
    done = run(wrong)
    assert (
        done.returncode == 3
        and "40100" in done.stderr
        and "hunter2" not in done.stderr + done.stdout
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from orchestrator.ledger import Ledger; "
            "Ledger(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(tmp_path / "orchestrator-state.sqlite"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = run(config)
        assert done.returncode == 75 and "another run holds the lock" in done.stderr
    finally:
        holder.kill()
        holder.communicate(timeout=10)


def test_dry_run_counts_and_estimates_without_posting(tmp_path: Path, simulator: str) -> None:
    """--dry-run prints valid/rejected counts and the estimated cost, and posts nothing."""
    config = write_job_files(tmp_path, simulator, 100)
    done = run(config, "--dry-run")
    assert done.returncode == 0
    assert (
        "n: 50 valid, 1 rejected" in done.stdout
        and "g: 100 valid, 0 rejected, estimated cost $0.0600" in done.stdout
    )
    assert stats(simulator)["calls_total"] == 0


def test_demo_runs_everything_in_under_a_minute(tmp_path: Path) -> None:
    """`orchestrator demo` finishes, collects every valid sample input (the daily job's in each
    of its three periods), and says so."""
    cmd = [sys.executable, "-m", "orchestrator", "demo", "--out", str(tmp_path / "demo")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "0 duplicate tags, 0 rate-limit refusals" in done.stdout
    lines = {job: 0 for job in ("rank-tracking", "naver-kr", "image-lookup")}
    for job in lines:
        folder = tmp_path / "demo" / job
        for place in [folder, *folder.glob("period=*")]:
            for kind in ("results.jsonl", "failed.jsonl"):
                path = place / kind
                lines[job] += len(path.read_text().splitlines()) if path.exists() else 0
    assert lines == {"rank-tracking": 300, "naver-kr": 100, "image-lookup": 50}


def test_budget_caps_spending_and_foreign_tasks_are_left_alone(
    tmp_path: Path, simulator: str
) -> None:
    """No batch goes past max_cost_usd; a task another tool posted is never fetched by us."""
    body = json.dumps(
        [{"keyword": "theirs", "location_code": 2840, "language_code": "en", "tag": "other-tool"}]
    )
    request = urllib.request.Request(
        f"{simulator}/v3/serp/google/organic/task_post", data=body.encode()
    )
    request.add_header("Authorization", "Basic c2ltOnNpbQ==")
    urllib.request.urlopen(request, timeout=10).close()
    config = write_job_files(tmp_path, simulator, 40)
    capped = tmp_path / "capped.toml"
    capped.write_text(config.read_text() + "\n[budget]\nmax_cost_usd = 0.01\n")
    done = run(capped, "--max-runtime", "60")
    assert done.returncode == 5, done.stderr  # its own code, so that cron sees it
    assert "budget reached" in done.stdout
    assert "budget reached (max_cost_usd): posting stopped" in done.stderr
    numbers = stats(simulator)
    assert numbers["cost_total"] - 0.0006 <= 0.01 + 1e-9
    assert numbers["tasks_created"] == 1 + 16  # theirs, and the 16 of ours that fit in $0.01
    assert numbers["tasks_collected"] == 16 and numbers["tasks_ready"] == 1
