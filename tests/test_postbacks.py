"""Postbacks over real HTTP on loopback: the simulator delivers finished tasks to the run's
receiver, so collecting costs no task_get; what it misses (failed deliveries, a killed run)
the poller collects from tasks_ready; forged deliveries write nothing. Real processes."""

import gzip
import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.local_servers import free_port
from tests.test_e2e_promises import daily_config
from tests.test_e2e_run import ENV, more_than, run, running_simulator, stats, wait_for


def postback_config(tmp: Path, url: str, n: int, port: int, extra: str = "") -> Path:
    """daily_config's job of `n` keywords, its results pushed to a receiver on `port`."""
    receiver = f'listen = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}/dfs"'
    return daily_config(tmp, url, n, extra=f"[postback]\n{receiver}\n{extra}\n")


def release_webhooks(url: str) -> None:
    """Send every delivery the simulator holds (`--hold-webhooks`)."""
    request = urllib.request.Request(f"{url}/_sim/webhooks", data=b'{"held": false}')
    urllib.request.urlopen(request, timeout=10).close()


def result_ids(tmp: Path) -> list[str]:
    """The task ids in job g's results files: every run's (results-<run>.jsonl on a server).
    Whole lines only: read while a run appends, a file may end in a line half written."""
    lines = []
    for path in sorted((tmp / "out" / "g").glob("results*.jsonl")):
        lines += path.read_text().splitlines(keepends=True)
    return [json.loads(line)["id"] for line in lines if line.endswith("\n")]


def test_postbacks_collect_every_task_without_task_get(tmp_path: Path) -> None:
    """300 tasks delivered by postback: one line each, and the API was asked for none of them
    (only task_post, user_data and the poller's low-rate tasks_ready)."""
    with running_simulator("--delay-normal-s", "1:4", "--seed", "8") as url:
        config = postback_config(tmp_path, url, 300, free_port())
        done = run(config)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 300
    assert numbers["calls_by_function"].get("task_get", 0) == 0
    assert numbers["webhooks_sent"] == 300 and numbers["duplicate_tags"] == 0
    assert numbers["rate_limited"] == 0 and numbers["calls_by_function"]["task_post"] == 3


def test_a_run_ends_at_its_last_settle_not_at_the_pollers_next_look(tmp_path: Path) -> None:
    """The poller looks at tasks_ready once an interval (3 s by default; here 60 s, one call a
    minute). Once all is posted and the last delivery settled, the run ends then: it calls
    tasks_ready no more (before, it slept out the interval and called once more)."""
    with running_simulator("--delay-normal-s", "0:1", "--hold-webhooks") as url:
        config = postback_config(tmp_path, url, 50, free_port())
        text = config.read_text().replace("[output]", "tasks_ready_per_minute = 1\n[output]")
        config.write_text(text)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV) as proc:
            wait_for(
                url,
                lambda n: n["webhooks_held"] == 50 and "tasks_ready" in n["calls_by_function"],
                proc,
            )
            looks = stats(url)["calls_by_function"]["tasks_ready"]
            release_webhooks(url)
            _, errors = proc.communicate(timeout=240)
            assert proc.returncode == 0, errors
        numbers = stats(url)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == numbers["webhooks_sent"] == 50
    assert numbers["calls_by_function"]["tasks_ready"] == looks


def test_failed_deliveries_are_collected_through_tasks_ready(tmp_path: Path) -> None:
    """A quarter of the deliveries fail (the receiver 'down'): the API lists those tasks in
    tasks_ready, and the poller fetches exactly those, once each."""
    flags = ("--delay-normal-s", "1:4", "--seed", "9", "--webhook-fail-rate", "0.25")
    with running_simulator(*flags) as url:
        config = postback_config(tmp_path, url, 400, free_port())
        done = run(config)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 400
    failed, fetched = numbers["webhooks_failed"], numbers["calls_by_function"]["task_get"]
    assert 50 < failed < 150 and fetched == failed  # only what postbacks missed
    assert numbers["duplicate_tags"] == 0 and numbers["rate_limited"] == 0
    # The person hears it: the summary and `status` count both ways in, and past a fifth
    # collected by polling a WARNING says the deliveries are not reaching the receiver.
    counts = f"postbacks: {400 - failed} delivered, {failed} collected by polling"
    assert counts in done.stdout
    assert "deliveries are not reaching the receiver" in done.stdout
    assert "postbacks_falling_back" in done.stderr
    status = subprocess.run(
        [sys.executable, "-m", "orchestrator", "status", "--config", str(config)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert counts in status.stdout


def test_postbacks_that_arrive_say_so_and_warn_of_nothing(tmp_path: Path) -> None:
    """All deliveries arrive: the counts say so, and no warning is given."""
    with running_simulator("--delay-normal-s", "0:1", "--seed", "4") as url:
        done = run(postback_config(tmp_path, url, 60, free_port()))
    assert done.returncode == 0, done.stderr
    assert "postbacks: 60 delivered, 0 collected by polling" in done.stdout
    assert "postbacks_falling_back" not in done.stderr


def test_a_run_killed_while_deliveries_arrive_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL mid-delivery, twice, then a run to the end: deliveries made while no run was up
    failed, and the next run finds those tasks in tasks_ready. Every input exactly once."""
    with running_simulator("--delay-normal-s", "1:6", "--seed", "10") as url:
        config = postback_config(tmp_path, url, 600, free_port())
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        for _ in range(2):
            before = stats(url)
            proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.DEVNULL)
            # Killed once this run's receiver has taken deliveries: waited for in the
            # simulator's counts, not for a time (a loaded machine starts a run slowly).
            wait_for(url, more_than("webhooks_sent", before["webhooks_sent"]), proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            # Deliveries meanwhile hit a closed port and fail.
            wait_for(url, more_than("webhooks_failed", stats(url)["webhooks_failed"]))
        done = run(config)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 600
    assert numbers["webhooks_failed"] > 0 and numbers["duplicate_tags"] == 0
    assert numbers["rate_limited"] == 0


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _posted_task(path: Path) -> tuple[str, str]:
    """The receiver's secret and a task id, once the ledger records the post."""
    while True:
        with sqlite3.connect(path) as ledger:
            secret = ledger.execute("SELECT value FROM meta WHERE name = 'webhook_secret'")
            posted = ledger.execute("SELECT task_id FROM inputs WHERE task_id IS NOT NULL")
            found = (secret.fetchone(), posted.fetchone())
        ledger.close()
        if found[0] and found[1]:
            return found[0][0], found[1][0]
        time.sleep(0.05)


def test_forged_and_repeated_deliveries_write_nothing(tmp_path: Path) -> None:
    """While a run waits for its tasks, deliveries with a wrong secret (403), for an unknown
    task (404), too large or a gzip bomb (413), not gzip or truncated (400) are refused with
    nothing written; a settled task delivered again gets 200 and stays one line."""
    port = free_port()
    with running_simulator("--delay-normal-s", "8:12", "--seed", "11") as url:
        config = postback_config(tmp_path, url, 20, port, extra="max_body_mb = 1")
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(url, lambda now: now["tasks_created"] == 20, proc)  # done 8-12 s later
            secret, task_id = _posted_task(tmp_path / "orchestrator-state.sqlite")
            hook = f"http://127.0.0.1:{port}/dfs/{secret}/postback"
            envelope = {"status_code": 20000, "tasks": [{"id": task_id, "status_code": 20000,
                        "status_message": "Ok.", "result": [{"items": []}]}]}  # fmt: skip
            body = gzip.compress(json.dumps(envelope).encode())
            gz = {"Content-Encoding": "gzip"}
            forged = hook.replace(secret, "x" * len(secret))
            assert _post(f"{forged}?id={task_id}", body, gz) == 403
            unknown = json.dumps({"tasks": [{"id": "11231326-0000-0000-0000-000000000000",
                                  "status_code": 20000}]}).encode()  # fmt: skip
            assert _post(hook, gzip.compress(unknown), gz) == 404
            bomb = gzip.compress(b" " * (3 << 20))  # 3 KB that expand past 1 MB
            assert _post(f"{hook}?id={task_id}", bomb, gz) == 413
            assert _post(f"{hook}?id={task_id}", bomb) == 413  # a raw gzip body, no header
            assert _post(f"{hook}?id={task_id}", b"\x1f\x8bnot gzip") == 400
            assert _post(f"{hook}?id={task_id}", body[: len(body) // 2]) == 400  # truncated
            assert _post(f"{hook}?id={task_id}", b"{not json") == 400
            assert result_ids(tmp_path) == []  # nothing forged was written
            while not (settled := result_ids(tmp_path)):
                assert proc.poll() is None
                time.sleep(0.2)
            line = (tmp_path / "out" / "g" / "results.jsonl").read_text().splitlines()[0]
            again = b'{"status_code": 20000, "tasks": [' + line.encode() + b"]}"
            assert _post(f"{hook}?id={settled[0]}", gzip.compress(again), gz) == 200
            assert _post(f"{hook}?id={settled[0]}", gzip.compress(again)) == 200  # raw gzip
            _, errors = proc.communicate(timeout=90)
            assert proc.returncode == 0, errors
            assert "webhook_refused status=413 reason=body over max_body_mb 1 count=1" in errors
            assert "webhook_refused status=403 reason=secret" in errors
        finally:
            proc.kill()
            proc.communicate()
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 20


def test_pingbacks_fetch_each_task_by_id_as_it_finishes(tmp_path: Path) -> None:
    """mode = "pingback": the API's GET says a task is ready and the run fetches it by id at
    once: one task_get per task, none found through tasks_ready."""
    with running_simulator("--delay-normal-s", "1:4", "--seed", "12") as url:
        config = postback_config(tmp_path, url, 150, free_port(), extra='mode = "pingback"')
        done = run(config)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 150
    assert numbers["webhooks_sent"] == 150 and numbers["webhooks_failed"] == 0
    assert numbers["calls_by_function"]["task_get"] == 150 and numbers["tasks_ready"] == 0


def test_deliveries_missed_while_down_are_sent_again_at_start(tmp_path: Path) -> None:
    """A run killed right after posting misses every delivery (the port is closed). The next
    run asks /v3/serp/errors for them and has them sent again with webhook_resend, 100 a
    call: no task_get at all, every input exactly once."""
    with running_simulator("--delay-normal-s", "3:5", "--seed", "13") as url:
        config = postback_config(tmp_path, url, 250, free_port())
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.DEVNULL)
        while stats(url)["tasks_created"] < 250:
            time.sleep(0.1)
        time.sleep(0.5)  # the answers recorded
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        while stats(url)["webhooks_failed"] < 250:  # all delivered to nobody
            time.sleep(0.2)
        again = [sys.executable, "-m", "orchestrator", "--log-level", "INFO", *cmd[3:]]
        done = subprocess.run(again, capture_output=True, text=True, env=ENV, timeout=120)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    assert "webhook_resend tasks=250 failed_deliveries=250" in done.stderr
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 250
    calls = numbers["calls_by_function"]
    assert calls.get("task_get", 0) == 0 and calls["webhook_resend"] == 3
    assert calls["errors"] == 2  # once at each start
    assert numbers["duplicate_tags"] == 0 and numbers["rate_limited"] == 0


def test_a_job_on_the_regular_variant_is_delivered_regular_answers(tmp_path: Path) -> None:
    """A bing/local_pack job (task_get = "regular": it has no advanced answer) with postbacks:
    each task asks for regular results, and they arrive and are written, no task_get made."""
    with running_simulator("--delay-normal-s", "1:3", "--seed", "12") as url:
        config = postback_config(tmp_path, url, 50, free_port())
        text = config.read_text().replace(
            'se = "google"\nse_type = "organic"',
            'se = "bing"\nse_type = "local_pack"\ntask_get = "regular"',
        )
        config.write_text(text)
        done = run(config)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    lines = (tmp_path / "out" / "g" / "results.jsonl").read_text().splitlines()
    tasks = [json.loads(line) for line in lines]
    assert len({t["id"] for t in tasks}) == len(tasks) == 50
    assert all(t["data"]["postback_data"] == "regular" for t in tasks)
    assert all(t["path"][-2] == "regular" for t in tasks)
    assert numbers["calls_by_function"].get("task_get", 0) == 0
