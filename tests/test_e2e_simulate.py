"""`orchestrator simulate` as a user starts it: a real process, flags, signals, exit codes."""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(*flags: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "simulate", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    assert found, (
        f"unexpected first line: {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )
    return proc, found.group(1)


@pytest.fixture
def simulate() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc, url = _start(
        "--calls-per-minute", "2", "--rate-period-s", "60", "--login", "me", "--password", "s3cret"
    )
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # also closes the pipes


def _call(
    url: str, path: str, auth: str | None = None, body: bytes | None = None
) -> dict[str, object]:
    request = urllib.request.Request(url + path, data=body, method="POST" if body else "GET")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            result: dict[str, object] = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        result = json.loads(err.read())
    return result


def test_simulate_serves_with_its_flags_and_stops_cleanly_on_sigterm(
    simulate: tuple[subprocess.Popen[str], str],
) -> None:
    """The flags set credentials and the rate limit; SIGTERM ends the process with exit 0."""
    proc, url = simulate
    assert _call(url, "/v3/appendix/user_data", "sim:sim")["status_code"] == 40100
    task = json.dumps(
        [{"keyword": "k", "location_code": 2840, "language_code": "en", "tag": "x"}]
    ).encode()
    first = _call(url, "/v3/serp/google/organic/task_post", "me:s3cret", task)
    second = _call(url, "/v3/serp/tasks_ready", "me:s3cret")
    third = _call(url, "/v3/serp/tasks_ready", "me:s3cret")
    assert [first["status_code"], second["status_code"], third["status_code"]] == [
        20000,
        20000,
        40202,
    ]
    stats = _call(url, "/_sim/stats")
    assert stats["tasks_created"] == 1 and stats["rate_limited"] == 1
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "s3cret" not in out + err


def test_simulate_on_a_busy_port_is_a_one_line_error_with_exit_2(
    simulate: tuple[subprocess.Popen[str], str],
) -> None:
    """A port already in use gives one line naming the address, exit code 2, no traceback."""
    _, url = simulate
    port = url.rsplit(":", 1)[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "simulate", "--port", port],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        f"orchestrator simulate: cannot listen on 127.0.0.1:{port}"
    )
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_bad_flag_values_are_refused_by_name() -> None:
    """An out-of-range flag exits 2 with a message naming it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "simulate", "--fault-rate", "1.5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2 and "--fault-rate" in done.stderr
