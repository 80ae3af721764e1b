"""A daily rank-tracking job over several periods, as real processes against a simulator
process: each period posts each input once (kills and restarts included), results land in
their period's partition, and export and status show the periods."""

import csv
import io
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_e2e_run import ENV, run, running_simulator, stats

DAY1, DAY2, DAY3 = "2026-11-21", "2026-11-22", "2026-11-23"


def write_daily(tmp: Path, url: str, n: int, every: str | None = "day") -> Path:
    (tmp / "kw.txt").write_text("".join(f"keyword {i}\n" for i in range(n)))
    config = tmp / "jobs.toml"
    recurring = f'every = "{every}"\ntimezone = "Europe/Berlin"\n' if every else ""
    config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"
calls_per_minute = 3000
rate_period_s = 10
overdue_s = 3
# A task_post whose connection dropped (a 5% fault, or a kill mid-POST) holds its rows until
# id_list has twice shown their tasks do not exist: 155 s with the default timers, 7 s here.
request_timeout_s = 5
reconcile_after_s = 1
reconcile_apart_s = 1

[[jobs]]
name = "rank"
se = "google"
se_type = "organic"
input = "kw.txt"
{recurring}[jobs.defaults]
location_code = 2840
language_code = "en"
""")
    return config


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def period_lines(tmp: Path, period: str) -> list[dict[str, object]]:
    folder = tmp / "out" / "rank" / f"period={period}"
    return lines(folder / "results.jsonl") + lines(folder / "failed.jsonl")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def test_each_period_posts_each_input_once_through_kills_and_restarts(tmp_path: Path) -> None:
    """Two days of 300 keywords, SIGKILLed at random moments inside each: 600 tasks, no tag
    twice, each day's lines in its own partition with that day's tags."""
    with running_simulator("--fault-rate", "0.05", "--seed", "5") as url:
        config = write_daily(tmp_path, url, 300)
        rng = random.Random(3)
        for day in (DAY1, DAY2):
            cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
            for _ in range(3):
                proc = subprocess.Popen(
                    [*cmd, "--period", day],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=ENV,
                )
                time.sleep(rng.uniform(0.4, 2.5))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            finished = run(config, "--period", day, "--max-runtime", "120")
            assert finished.returncode == 0, finished.stderr
            assert f"rank [{day}] 300/300" in finished.stdout
            again = run(config, "--period", day)  # an extra cron tick in the same period
            assert again.returncode == 0 and "rank [" + day + "] 300/300" in again.stdout
        numbers = stats(url)
    assert numbers["tasks_created"] == 600
    assert numbers["duplicate_tags"] == 0 and numbers["rate_limited"] == 0
    for day in (DAY1, DAY2):
        got = period_lines(tmp_path, day)
        tags = [line["data"]["tag"] for line in got]
        assert len(tags) == len(set(tags)) == 300
        assert all(str(tag).startswith(f"rank:{day}:") for tag in tags)
    assert not (tmp_path / "out" / "rank" / "results.jsonl").exists()  # one-shot layout unused

    exported = cli(
        "export", "--config", str(config), "--job", "rank", "--format", "jsonl", "--out", "-"
    )
    assert exported.returncode == 0, exported.stderr
    periods = {json.loads(line)["period"] for line in exported.stdout.splitlines()}
    assert periods == {DAY1, DAY2}
    since = cli("export", "--config", str(config), "--job", "rank", "--since", DAY2, "--out", "-")
    assert {row["period"] for row in csv.DictReader(io.StringIO(since.stdout))} == {DAY2}
    status = json.loads(cli("status", "--config", str(config), "--json").stdout)
    shown = {p["period"]: p for p in status["jobs"]["rank"]["periods"]}
    assert shown[DAY1]["counts"]["done"] + shown[DAY1]["counts"]["failed"] == 300
    assert shown[DAY2]["outstanding"] == 0 and shown[DAY2]["spent_usd"] > 0

    pruned = cli("prune", "--config", str(config), "--before", DAY2)
    assert pruned.returncode == 0, pruned.stderr
    assert f"rank: 300 settled rows of periods before {DAY2} removed" in pruned.stdout
    after = json.loads(cli("status", "--config", str(config), "--json").stdout)
    day1 = next(p for p in after["jobs"]["rank"]["periods"] if p["period"] == DAY1)
    assert day1["pruned"] == 300 and day1["spent_usd"] == shown[DAY1]["spent_usd"]
    assert len(period_lines(tmp_path, DAY1)) == 300  # outputs are never touched
    wrong = cli("prune", "--config", str(config), "--before", "2026-W47")
    assert wrong.returncode == 2 and "is a week key" in wrong.stderr


def test_a_missed_period_is_not_caught_up_and_a_bad_period_key_exits_2(tmp_path: Path) -> None:
    """Inputs loaded for a period that ends before they are posted are never posted later;
    a key of the wrong form exits 2 before anything is posted."""
    with running_simulator("--seed", "5") as url:
        config = write_daily(tmp_path, url, 20)
        wrong = run(config, "--period", "2026-W47")
        assert wrong.returncode == 2
        assert "--period: job 'rank': '2026-W47' is a week key, but the job runs every day" in (
            wrong.stderr
        )
        nonsense = run(config, "--period", "yesterday")
        assert nonsense.returncode == 2 and "is not a period key" in nonsense.stderr
        assert "Traceback" not in wrong.stderr + nonsense.stderr
        estimate = cli("validate", "--config", str(config))
        assert estimate.returncode == 0
        assert "rank: 20 valid, 0 rejected, estimated cost $0.0120 per period, $" in estimate.stdout
        assert "per month (" in estimate.stdout and "recurring jobs: estimated $" in estimate.stdout
        assert stats(url)["calls_total"] == 0
        # Day 1: a per-period cap lets 5 of the 20 through; the other 15 stay pending.
        capped = tmp_path / "capped.toml"
        capped.write_text(config.read_text() + "\n[budget]\nmax_cost_usd_per_period = 0.003\n")
        assert run(capped, "--period", DAY1).returncode == 5  # the budget stopped posting
        today = run(capped, "--max-runtime", "60")  # the current day: day 1 is over
        assert today.returncode == 5, today.stderr
        status = json.loads(cli("status", "--config", str(capped), "--json").stdout)
        day1 = next(p for p in status["jobs"]["rank"]["periods"] if p["period"] == DAY1)
        assert (day1["counts"]["done"], day1["counts"]["missed"]) == (5, 15)  # not caught up...
        numbers = stats(url)
    assert numbers["tasks_created"] == 5 + 5  # ...and never posted: today got its own 5


def test_a_one_shot_job_turned_daily_keeps_its_results_and_posts_each_day(tmp_path: Path) -> None:
    """An existing ledger and results of a one-shot job stay; `every = "day"` then posts the
    same keywords again in a partition of their own."""
    with running_simulator("--seed", "5") as url:
        config = write_daily(tmp_path, url, 30, every=None)
        assert run(config).returncode == 0
        flat = tmp_path / "out" / "rank" / "results.jsonl"
        before = flat.read_bytes()
        assert len(before.splitlines()) == 30
        write_daily(tmp_path, url, 30, every="day")
        daily = run(config, "--period", DAY3)
        assert daily.returncode == 0, daily.stderr
        assert flat.read_bytes() == before  # the one-shot results are left as they were
        assert len(period_lines(tmp_path, DAY3)) == 30
        assert stats(url)["tasks_created"] == 60 and stats(url)["duplicate_tags"] == 0
    exported = cli("export", "--config", str(config), "--job", "rank", "--out", "-")
    periods = [row["period"] for row in csv.DictReader(io.StringIO(exported.stdout))]
    assert set(periods) == {"", DAY3}  # the old rows have no period


def test_follow_runs_the_current_period_then_waits_saying_for_what_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """`run --follow` posts today's batch, then waits for tomorrow's (its progress says which
    period and when), and SIGTERM ends it at once with exit 143 and a consistent ledger."""
    with running_simulator("--seed", "5") as url:
        config = write_daily(tmp_path, url, 10)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--follow"]
        proc = subprocess.Popen(
            [*cmd, "--log-format", "json", "--progress-interval", "0.3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        assert proc.stdout is not None
        waiting = None
        deadline = time.monotonic() + 60
        while waiting is None and time.monotonic() < deadline:
            record = json.loads(proc.stdout.readline())
            if record["event"] == "progress" and record["waiting_for"]:
                waiting = record
        assert waiting is not None, "the run never said it was waiting"
        assert (
            waiting["waiting_for"].startswith("period ")
            and "Europe/Berlin" in (waiting["waiting_for"])
        )
        assert waiting["waiting_until"] > time.time()
        assert waiting["jobs"]["rank"]["collected"] == 10
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 143
        assert time.monotonic() - stopped_at < 5
        assert json.loads(out.splitlines()[-1])["reason"] == "stopped by SIGTERM"
        assert stats(url)["tasks_created"] == 10
