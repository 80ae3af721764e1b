"""Operator commands run as subprocesses against a simulator process: progress and summary
lines off a terminal, JSON logs, --quiet, status, validate, export, SIGTERM/SIGINT, and
credentials never leaving the environment they were given in."""

import base64
import csv
import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_e2e_run import (
    ENV,
    output_ids,
    run,
    running_simulator,
    stats,
    write_job_files,
)

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


@pytest.fixture
def slow_simulator() -> Iterator[str]:
    """Tasks take 1-3 s, so a run lasts long enough to report progress and be interrupted."""
    with running_simulator("--delay-normal-s", "1:3", "--seed", "5") as url:
        yield url


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=240)


def test_progress_lines_then_one_summary_line_when_not_on_a_terminal(
    tmp_path: Path, slow_simulator: str
) -> None:
    config = write_job_files(tmp_path, slow_simulator, 200)
    done = run(config, "--progress-interval", "0.5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(STAMP.match(line) for line in lines)  # every line says when, in UTC
    text = [STAMP.sub("", line) for line in lines]
    progress = [line for line in text if line.startswith("progress: ")]
    assert len(progress) >= 2
    assert "g " in progress[0] and "calls/min" in progress[0] and "ETA" in progress[0]
    assert text[-1].startswith("run ended (done)") and len(lines) == len(progress) + 1
    assert "350 collected, 0 failed, 0 outstanding, 1 rejected" in text[-1]
    assert "g 200/200, n 100/100, i 50/50" in text[-1]
    spent = re.search(r"spent \$(\d+\.\d+) \(ledger \$(\d+\.\d+)\)", text[-1])
    assert spent and spent[1] == spent[2] and float(spent[1]) > 0  # the first run: all of it
    again = run(config)  # a tick with nothing to do spends nothing, and says so
    assert f"spent $0.0000 (ledger ${spent[2]})" in again.stdout.splitlines()[-1]


def test_json_log_format_and_quiet(tmp_path: Path, slow_simulator: str) -> None:
    config = write_job_files(tmp_path, slow_simulator, 40)
    done = run(config, "--progress-interval", "0.5", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]  # every line is JSON
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["ts"]) for r in records)
    assert records[-1]["spent_usd"] == records[-1]["spent_total_usd"] > 0
    assert records[-1]["event"] == "run_ended" and records[-1]["reason"] == "done"
    assert records[-1]["exit_code"] == 0 and records[-1]["outstanding"] == 0
    assert records[-1]["jobs"]["n"] == {
        "total": 20,
        "posted": 20,
        "collected": 20,
        "failed": 0,
        "rejected": 1,
        "missed": 0,
        "period": "",
    }
    assert {r["event"] for r in records[:-1]} == {"progress"}
    quiet = run(config, "--quiet")  # nothing left to do, and nothing to say about it
    assert quiet.returncode == 0 and quiet.stdout == ""
    bad = cli("run", "--config", str(tmp_path / "missing.toml"), "--log-format", "json")
    error = json.loads(bad.stderr)
    assert bad.returncode == 2 and error["event"] == "error" and "missing.toml" in error["message"]


def test_live_display_on_a_terminal(tmp_path: Path, slow_simulator: str) -> None:
    """On a TTY the per-job lines are redrawn in place (cursor movement), then the summary."""
    config = write_job_files(tmp_path, slow_simulator, 100)
    screen = on_a_terminal(config, columns=200)
    assert "\x1b[4F" in screen  # three job lines and the totals line, redrawn in place
    assert "posted 100/100  collected 100" in screen and "ETA" in screen
    assert "run ended (done)" in screen


def test_the_live_display_fits_a_narrow_terminal(tmp_path: Path, slow_simulator: str) -> None:
    """On a terminal narrower than a job line, each line is cut to the width: a wrapped line
    made the cursor-up redraw stack copies of the display."""
    config = write_job_files(tmp_path, slow_simulator, 60)
    screen = on_a_terminal(config, columns=40)
    drawn = re.split(r"\x1b\[\d+F", screen.split("run ended")[0])
    lines = [line for part in drawn for line in part.replace("\x1b[K", "").split("\r\n")]
    assert len(lines) > 8 and max(len(line) for line in lines) <= 39


def on_a_terminal(config: Path, columns: int) -> str:
    """What `run` writes to a pseudo-terminal `columns` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    proc = subprocess.Popen(cmd, stdout=follower, stderr=subprocess.DEVNULL, env=ENV)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    return b"".join(chunks).decode()


def test_status_reads_the_ledger_without_calls_and_while_a_run_holds_the_lock(
    tmp_path: Path, slow_simulator: str
) -> None:
    config = write_job_files(tmp_path, slow_simulator, 30)
    never = cli("status", "--config", str(config))
    assert never.returncode == 0 and "nothing has run" in never.stdout
    assert run(config).returncode == 0
    calls_before = stats(slow_simulator)["calls_total"]
    text = cli("status", "--config", str(config))
    assert text.returncode == 0, text.stderr
    assert "g: 30 done, 0 failed, 0 posted, 0 posting, 0 pending; spent $0.0180" in text.stdout
    assert "exit 0 (done)" in text.stdout
    as_json = json.loads(cli("status", "--config", str(config), "--json").stdout)
    assert as_json["jobs"]["n"]["counts"] == {
        "pending": 0,
        "posting": 0,
        "posted": 0,
        "done": 15,
        "failed": 0,
        "missed": 0,
    }
    assert as_json["last_run"]["exit_code"] == 0 and as_json["last_run"]["ended_at"] is not None
    assert stats(slow_simulator)["calls_total"] == calls_before  # status called nobody
    # While another run is going (it holds the lock and is waiting on slow tasks): still works.
    bigger = tmp_path / "more.txt"
    bigger.write_text("".join(f"more {i}\n" for i in range(100)))
    (tmp_path / "kw.txt").write_text(bigger.read_text())
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until the run has loaded the new rows and posted to the slow API
            during = json.loads(cli("status", "--config", str(config), "--json").stdout)
            job = during["jobs"]["g"]
            if sum(job["counts"].values()) == 130 and job["oldest_outstanding_age_s"] is not None:
                break
            assert proc.poll() is None and time.monotonic() < deadline, during
            time.sleep(0.1)
        assert during["last_run"]["ended_at"] is None  # the running one
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    after = cli("status", "--config", str(config))
    assert "exit 143 (stopped by SIGTERM)" in after.stdout


def test_validate_counts_rows_estimates_cost_and_names_bad_rows(
    tmp_path: Path, slow_simulator: str
) -> None:
    config = write_job_files(tmp_path, slow_simulator, 100)
    done = cli("validate", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "g: 100 valid, 0 rejected, estimated cost $0.0600" in done.stdout
    assert "n line 52: depth" in done.stdout
    assert "total: 175 tasks, 1 rejected rows" in done.stdout
    as_json = json.loads(cli("validate", "--config", str(config), "--json").stdout)
    assert as_json["jobs"]["n"]["first_rejected"][0]["line"] == 52
    assert cli("validate", "--config", str(config), "--strict").returncode == 2
    assert stats(slow_simulator)["calls_total"] == 0
    broken = tmp_path / "broken.toml"
    broken.write_text(config.read_text().replace("se_type", "se_typo", 1))
    bad = cli("validate", "--config", str(broken))
    assert bad.returncode == 2 and "broken.toml" in bad.stderr and "Traceback" not in bad.stderr


def test_export_streams_a_flat_rankings_table(tmp_path: Path, slow_simulator: str) -> None:
    config = write_job_files(tmp_path, slow_simulator, 20)
    assert run(config).returncode == 0
    out = tmp_path / "g.csv"
    done = cli(
        "export", "--config", str(config), "--job", "g", "--format", "csv", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    results = [json.loads(x) for x in (tmp_path / "out/g/results.jsonl").read_text().splitlines()]
    items = sum(len(r["result"][0]["items"] or []) for r in results)
    assert len(rows) == items and f"{items} rows written" in done.stdout
    first = rows[0]
    assert first["job"] == "g" and first["se"] == "google" and first["se_type"] == "organic"
    assert first["keyword"].startswith("keyword ") and first["location"] == "2840"
    assert first["language"] == "en" and first["device"] == "desktop" and first["datetime"]
    organic = [r for r in rows if r["type"] == "organic"]
    assert organic and all(r["url"].startswith("http") and r["domain"] for r in organic)
    tags = {r["data"]["tag"] for r in results}  # g:<key>@<ledger>.<batch>
    assert {r["input_key"] for r in rows} == {t[2:].partition("@")[0] for t in tags}
    only = cli("export", "--config", str(config), "--job", "g", "--format", "jsonl",
               "--out", "-", "--types", "organic,paid")  # fmt: skip
    lines = [json.loads(x) for x in only.stdout.splitlines()]
    assert {x["type"] for x in lines} <= {"organic", "paid"}
    assert len(lines) == sum(1 for r in rows if r["type"] in ("organic", "paid"))
    assert isinstance(lines[0]["rank_group"], int)
    images = tmp_path / "i.csv"
    cli("export", "--config", str(config), "--job", "i", "--out", str(images))
    image_rows = list(csv.DictReader(io.StringIO(images.read_text())))
    assert image_rows and image_rows[0]["image_url"].startswith("https://example.com/i")
    unknown = cli("export", "--config", str(config), "--job", "nope", "--out", str(out))
    assert unknown.returncode == 2 and "no job named 'nope' (jobs: g, n, i)" in unknown.stderr


def test_export_parquet(tmp_path: Path, slow_simulator: str) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    config = write_job_files(tmp_path, slow_simulator, 10)
    config.write_text(config.read_text() + "\n[output]\ngzip = true\n")  # gzip members in
    assert run(config).returncode == 0
    assert (tmp_path / "out/n/results.jsonl.gz").exists()
    out = tmp_path / "n.parquet"
    done = cli("export", "--config", str(config), "--job", "n", "--format", "parquet",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.num_rows > 0 and str(table.schema.field("rank_group").type) == "int64"
    assert len(set(table.column("task_id").to_pylist())) == 5  # every task of the job
    assert set(table.column("job").to_pylist()) == {"n"}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_run_cleanly_and_the_next_one_finishes(
    tmp_path: Path, slow_simulator: str, signum: int, code: int
) -> None:
    config = write_job_files(tmp_path, slow_simulator, 300)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    time.sleep(2.5)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "interrupted; the ledger is consistent" in err and "Traceback" not in err
    last = STAMP.sub("", out.splitlines()[-1])
    assert last.startswith(f"run ended (stopped by {signal.Signals(signum).name})")
    finished = run(config)
    assert finished.returncode == 0, finished.stderr
    ids = output_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 300 + 150 + 75
    assert stats(slow_simulator)["duplicate_tags"] == 0


def test_a_ctrl_c_while_the_run_starts_is_one_line_not_a_traceback(
    tmp_path: Path, slow_simulator: str
) -> None:
    """SIGINT at any moment of a run's start (modules loading, the config read, the inputs
    checked, the ledger opened, the signal watch set up), by `python -m` or the installed
    command: exit 130 and one line, never a traceback, and the next run finishes with each
    input once. (The first ~40 ms, the interpreter's own start, are out of our reach.)"""
    config = write_job_files(tmp_path, slow_simulator, 300)
    script = Path(sys.executable).with_name("orchestrator")  # the installed command
    assert script.exists()
    for n, delay in enumerate((0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)):
        command = [str(script)] if n % 2 else [sys.executable, "-m", "orchestrator"]
        proc = subprocess.Popen(
            [*command, "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, (delay, err)
        assert "interrupted" in err, (delay, err)
    finished = run(config)
    assert finished.returncode == 0, finished.stderr
    ids = output_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 300 + 150 + 75
    assert stats(slow_simulator)["duplicate_tags"] == 0


def test_credentials_never_reach_logs_outputs_or_the_ledger(tmp_path: Path) -> None:
    login, password = "ops@example.com", "s3cr3t-Pa55word-XYZ"
    with running_simulator("--login", login, "--password", password) as url:
        config = write_job_files(tmp_path, url, 30)
        text = config.read_text().replace('login = "sim"\npassword = "sim"\n', "")
        config.write_text(text.replace("[api]\n", '[api]\nlogin_env = "L"\npassword_env = "P"\n'))
        env = {**ENV, "L": login, "P": password}
        outputs = []
        for args in (
            ("--log-level", "DEBUG", "run", "--config", str(config), "--progress-interval", "0.2"),
            ("run", "--config", str(config), "--log-format", "json"),
            ("status", "--config", str(config), "--json"),
            ("validate", "--config", str(config)),
            ("export", "--config", str(config), "--job", "g", "--out", "-"),
        ):
            done = cli(*args, env=env)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout + done.stderr)
        wrong = cli("--log-level", "DEBUG", "run", "--config", str(config),
                    env={**env, "P": password + "-wrong"})  # fmt: skip
        assert wrong.returncode == 3
        outputs.append(wrong.stdout + wrong.stderr)
    secrets = [password, base64.b64encode(f"{login}:{password}".encode()).decode()]
    blobs = [text.encode() for text in outputs]
    blobs += [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]  # ledger, WAL, outputs
    assert len(blobs) > 10
    for secret in secrets:
        assert not [b for b in blobs if secret.encode() in b]
    assert any(b"DEBUG" in b for b in blobs)  # the debug log was on, and still said nothing


def test_version_and_a_reader_that_goes_away(tmp_path: Path) -> None:
    """`--version` says the installed version; `status | head -1` (the reader closes the pipe)
    ends quietly with 141, without a traceback."""
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("orchestrator 0.")
    config = write_job_files(tmp_path, "http://127.0.0.1:9", 10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "status", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
