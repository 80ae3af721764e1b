"""Postback receivers behind a load balancer (tests/balancer.py), as users deploy them: two
`orchestrator run` processes of one config on a PostgreSQL ledger, each serving [postback]
on its own address (`--listen`), and the API delivering to the balancer's `public_url`. A
delivery reaching either of them, or both, is written once."""

import json
import subprocess
import sys
import urllib.request
from contextlib import AbstractContextManager
from pathlib import Path

from tests import pg_server
from tests.local_servers import free_port
from tests.test_e2e_hostile import serving
from tests.test_e2e_postgres import PG_ENV, on_postgres
from tests.test_e2e_promises import daily_config
from tests.test_e2e_run import running_simulator, stats
from tests.test_postbacks import result_ids

TASKS = 300


def balancer(backends: list[str], copies: int) -> "AbstractContextManager[str]":
    """The balancer in its own process for the block; yields its URL."""
    flags = [arg for backend in backends for arg in ("--backend", backend)]
    return serving("tests.balancer", "--copies", str(copies), *flags)


def balanced(url: str) -> dict[str, dict[str, int]]:
    with urllib.request.urlopen(f"{url}/_balancer/stats", timeout=10) as resp:
        found: dict[str, dict[str, int]] = json.loads(resp.read())
    return found


def receivers_behind_a_balancer(
    tmp: Path, pg: pg_server.Server, copies: int
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Two workers serving [postback] behind a balancer that sends each delivery to
    `copies` of them, run to their end: (the simulator's counts, the balancer's)."""
    ports = [free_port(), free_port()]
    backends = [f"http://127.0.0.1:{port}" for port in ports]
    with (
        running_simulator("--delay-normal-s", "1:4", "--seed", "8") as url,
        balancer(backends, copies) as public,
    ):
        receiver = f'listen = "127.0.0.1:{ports[0]}"\npublic_url = "{public}/dfs"'
        config = on_postgres(daily_config(tmp, url, TASKS, f"[postback]\n{receiver}\n"), pg.url())
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        workers = [
            subprocess.Popen(
                [*cmd, "--listen", f"127.0.0.1:{port}"],
                stderr=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                env=PG_ENV,
            )
            for port in ports
        ]
        for worker in workers:
            _, errors = worker.communicate(timeout=240)
            assert worker.returncode == 0, errors.decode()
        return stats(url), balanced(public)


def lines_per_file(tmp: Path) -> list[int]:
    return [len(p.read_text().splitlines()) for p in (tmp / "out" / "g").glob("results*.jsonl")]


def test_deliveries_spread_over_two_receivers_are_each_written_once(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """Round robin: each receiver settles the deliveries it gets, those of tasks the other
    worker posted too; every task one line, none fetched with task_get."""
    numbers, spread = receivers_behind_a_balancer(tmp_path, pg, copies=1)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == TASKS
    assert numbers["tasks_created"] == TASKS and numbers["duplicate_tags"] == 0
    assert numbers["webhooks_sent"] == TASKS and numbers["webhooks_failed"] == 0
    assert numbers["calls_by_function"].get("task_get", 0) == 0
    assert sorted(spread["sent"].values()) == [TASKS // 2, TASKS // 2]
    files = lines_per_file(tmp_path)
    assert len(files) == 2 and min(files) > 0  # both wrote a share


def test_a_delivery_reaching_both_receivers_is_written_once(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """Each delivery sent to both receivers at once (a retry through another receiver): one
    of them writes it, the other writes nothing; every delivery was answered 2xx."""
    numbers, spread = receivers_behind_a_balancer(tmp_path, pg, copies=2)
    ids = result_ids(tmp_path)
    assert len(ids) == len(set(ids)) == TASKS
    assert numbers["tasks_created"] == TASKS and numbers["duplicate_tags"] == 0
    assert numbers["webhooks_sent"] == TASKS and numbers["webhooks_failed"] == 0
    assert sorted(spread["sent"].values()) == [TASKS, TASKS]
    assert spread["answered"]["200"] >= TASKS
