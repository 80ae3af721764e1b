"""The ledger on a PostgreSQL server (`[state] url`), the way users run it: real processes, a
real server (tests/pg_server.py), the simulator over HTTP. The same promises as on SQLite:
every input once, paid once, across SIGKILLs; runs that share the work; the password
nowhere."""

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.ledger import Ledger
from tests import pg_server
from tests.local_servers import free_port
from tests.test_e2e_run import (
    ENV,
    more_than,
    output_ids,
    running_simulator,
    stats,
    wait_for,
    write_job_files,
)
from tests.test_postbacks import postback_config, result_ids

PG_ENV = {**ENV, "ORCH_TEST_LEDGER_PASSWORD": pg_server.PASSWORD}


@pytest.fixture
def simulator() -> Iterator[str]:
    with running_simulator("--fault-rate", "0.05", "--seed", "7") as url:
        yield url


def on_postgres(config: Path, url: str) -> Path:
    """The config with its ledger on the server; the password named, not written."""
    with config.open("a") as out:
        out.write(f'\n[state]\nurl = "{url}"\npassword_env = "ORCH_TEST_LEDGER_PASSWORD"\n')
    return config


def start_run(config: Path) -> "subprocess.Popen[bytes]":
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PG_ENV)


def cli(config: Path, *args: str, env: dict[str, str] = PG_ENV) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", *args, "--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)


def test_a_run_on_postgres_collects_every_input_once_across_kills(
    tmp_path: Path, simulator: str, pg: pg_server.Server
) -> None:
    """Killed with SIGKILL at three points of its work (while posting, while collecting),
    then finished: one line per input, one task per input, the status and the export read
    the server, and the password is in no output, log or file."""
    config = on_postgres(write_job_files(tmp_path, simulator, 600), pg.url())
    for created in (100, 400, 700):
        proc = start_run(config)
        wait_for(simulator, more_than("tasks_created", created), limit_s=120)
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=10)
        assert pg_server.PASSWORD not in stderr.decode()
    finished = cli(config, "run", "--max-runtime", "200", "--log-format", "json")
    assert finished.returncode == 0, finished.stderr
    ids = output_ids(tmp_path)
    numbers = stats(simulator)
    assert len(ids) == len(set(ids)) == 600 + 300 + 150
    assert numbers["tasks_created"] == 1050 and numbers["duplicate_tags"] == 0
    status = cli(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    found = json.loads(status.stdout)
    assert found["ledger"].startswith("postgresql://orch@127.0.0.1:")
    assert found["jobs"]["g"]["counts"]["done"] == 600
    exported = cli(
        config, "export", "--job", "g", "--format", "csv", "--out", str(tmp_path / "g.csv")
    )
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "g.csv").read_text().splitlines()) > 600
    for text in (finished.stdout, finished.stderr, status.stdout, exported.stderr):
        assert pg_server.PASSWORD not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert pg_server.PASSWORD.encode() not in path.read_bytes(), path


def test_two_runs_of_one_config_share_the_work_and_a_command_waits_for_them(
    tmp_path: Path, simulator: str, pg: pg_server.Server
) -> None:
    """A second run of the same ledger, started while one runs, shares its work: both end
    done, each input is one line across their files and one task. A command that needs the
    ledger alone (`ledger copy` into it) meanwhile exits 75 and touches nothing."""
    server = pg.url()
    config = on_postgres(write_job_files(tmp_path, simulator, 200), server)
    first = start_run(config)
    wait_for(simulator, more_than("tasks_created", 0), first)
    second = start_run(config)
    Ledger(tmp_path / "orchestrator-state.sqlite").close()  # a file to copy
    copy = cli(config, "ledger", "copy", "--to", server)
    _, first_errors = first.communicate(timeout=200)
    _, second_errors = second.communicate(timeout=200)
    assert first.returncode == second.returncode == 0, (first_errors, second_errors)
    assert copy.returncode == 75 and "holds the lock" in copy.stderr, copy.stderr
    ids = output_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 200 + 100 + 50
    numbers = stats(simulator)
    assert numbers["tasks_created"] == 350 and numbers["duplicate_tags"] == 0


def test_a_ledger_url_with_a_password_or_a_wrong_password_is_one_line(
    tmp_path: Path, simulator: str, pg: pg_server.Server
) -> None:
    """A password written in the URL is refused before anything (exit 2) and not echoed; a
    wrong or missing one is one line naming the ledger (exit 74 / 2), nothing posted."""
    config = write_job_files(tmp_path, simulator, 10)
    text = config.read_text()
    url = pg.url()
    with_password = url.replace("orch@", f"orch:{pg_server.PASSWORD}@")
    config.write_text(text + f'\n[state]\nurl = "{with_password}"\n')
    refused = cli(config, "validate")
    assert refused.returncode == 2
    assert "state.url" in refused.stderr and pg_server.PASSWORD not in refused.stderr
    config.write_text(text + f'\n[state]\nurl = "{url}"\npassword_env = "ORCH_WRONG"\n')
    missing = cli(config, "status")
    assert missing.returncode == 2
    assert "state.password_env" in missing.stderr and "ORCH_WRONG" in missing.stderr
    wrong = cli(config, "run", env={**ENV, "ORCH_WRONG": "not-the-password"})
    assert wrong.returncode == 74, wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert url in wrong.stderr and "password authentication failed" in wrong.stderr
    assert "not-the-password" not in wrong.stderr
    assert stats(simulator)["calls_by_function"].get("task_post", 0) == 0


def test_postbacks_settle_into_a_postgres_ledger_across_a_kill(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """The receiver settles deliveries into the server's ledger; a run killed while they
    arrive loses none (what it missed is fetched from tasks_ready) and writes none twice."""
    with running_simulator("--delay-normal-s", "1:4", "--seed", "8") as url:
        config = on_postgres(postback_config(tmp_path, url, 300, free_port()), pg.url())
        proc = start_run(config)
        wait_for(url, more_than("webhooks_sent", 60), proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        finished = cli(config, "run", "--max-runtime", "200")
        assert finished.returncode == 0, finished.stderr
        numbers = stats(url)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 300
    assert numbers["tasks_created"] == 300 and numbers["duplicate_tags"] == 0


def test_a_runs_connection_lets_the_server_notice_a_lost_host_in_about_a_minute(
    pg: pg_server.Server,
) -> None:
    """The run's lock lives with its connection: the server probes it after 30 s idle and
    drops it a minute after the client stops answering (a vanished node), not two hours."""
    ledger = Ledger(pg.url(), pg_server.PASSWORD)
    try:
        shown = {
            name: ledger._db.execute(f"SHOW {name}").fetchone()[0]
            for name in ("tcp_keepalives_idle", "tcp_keepalives_count", "tcp_user_timeout")
        }
    finally:
        ledger.close()
    assert shown == {
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": "60000",  # milliseconds
    }
