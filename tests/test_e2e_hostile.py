"""A hostile server, played by tests/hostile_proxy.py in front of the simulator: answers of
400 MB, task lists cut short, another task's result under an id. The run's memory stays
bounded, every input is paid once and written once, under its own input. Real processes."""

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.peak_memory import run_with_peak
from tests.test_e2e_promises import daily_config
from tests.test_e2e_record import paid_once_each
from tests.test_e2e_run import ENV, running_simulator


@contextmanager
def hostile_proxy(upstream: str, *rules: str) -> Iterator[str]:
    """The proxy in its own process for the block; yields its URL."""
    flags = [arg for rule in rules for arg in ("--rule", rule)]
    with serving("tests.hostile_proxy", "--upstream", upstream, *flags) as url:
        yield url


@contextmanager
def serving(module: str, *args: str) -> Iterator[str]:
    """`python -m module args` for the block, a server that prints `listening on URL`;
    yields the URL."""
    cmd = [sys.executable, "-m", module, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split("listening on ")[1].strip()
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def altered(proxy: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{proxy}/_proxy/stats", timeout=10) as resp:
        found: dict[str, int] = json.loads(resp.read())["altered"]
    return found


def run_measured(config: Path, tmp: Path) -> tuple[int, str, int]:
    """`orchestrator run`: exit code, stderr and peak RSS in KB (this child's own)."""
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    with (tmp / "err.txt").open("w") as err:
        code, peak_kb = run_with_peak(cmd, tmp, ENV, subprocess.DEVNULL, err)
    return code, (tmp / "err.txt").read_text(), peak_kb


def test_answers_of_400_mb_are_refused_while_they_stream(tmp_path: Path) -> None:
    """The first three task_gets answer 400 MB each, with the default max_answer_mb (64):
    each is cut where it passes the bound and asked for again, with one WARNING per call;
    the run's peak memory stays far under one such answer (1.06 GB before)."""
    with running_simulator() as url, hostile_proxy(url, "task_get:huge=3") as proxy:
        config = daily_config(tmp_path, proxy, 20)
        code, err, peak_kb = run_measured(config, tmp_path)
        assert code == 0, err
        assert altered(proxy) == {"huge": 3}
        warnings = [line for line in err.splitlines() if "answer_too_large" in line]
        assert 1 <= len(warnings) <= 3 and "Traceback" not in err
        # three cut answers may be held at once (3 x 64 MB), beside the run's own ~50 MB
        assert peak_kb < (3 * 64 + 100) * 1024, f"peak RSS {peak_kb // 1024} MB"
        paid_once_each(url, tmp_path / "out" / "g", 20)


def behind_proxy(tmp: Path, rule: str, inputs: int) -> tuple[str, dict[str, int]]:
    """A run of `inputs` keywords through the proxy playing `rule`, paid once each: its
    stderr, and what the proxy altered."""
    with running_simulator() as url, hostile_proxy(url, rule) as proxy:
        code, err, _ = run_measured(daily_config(tmp, proxy, inputs), tmp)
        assert code == 0, err
        paid_once_each(url, tmp / "out" / "g", inputs)
        return err, altered(proxy)


def test_a_task_list_cut_short_is_settled_through_id_list_not_paid_again(tmp_path: Path) -> None:
    err, done = behind_proxy(tmp_path, "task_post:truncate=2", 150)
    assert done == {"truncate": 2} and "post_answer_short" in err


def test_another_tasks_result_under_an_id_is_refused_and_asked_for_again(tmp_path: Path) -> None:
    """Five task_get answers carry the result of the task fetched before: none is written;
    each task is fetched again and every line is its own input's."""
    err, done = behind_proxy(tmp_path, "task_get:swap=5", 30)
    assert done == {"swap": 5} and "foreign_answer" in err
    for line in (tmp_path / "out" / "g" / "results.jsonl").read_text().splitlines():
        task = json.loads(line)
        assert task["data"]["keyword"] == task["result"][0]["keyword"]
        assert task["data"]["tag"].startswith("g:")
