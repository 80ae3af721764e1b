"""workers: several runs of one config on a PostgreSQL ledger (ledger/workers.py), against the
simulator at a limit they share, on a throwaway server on this machine (tests/pg_server.py).

    workers3_vs_bound    wall time of three `orchestrator run` processes of one config, from
                         the first start to the last exit, over the limit's bound (the least
                         calls for the tasks at 600 calls per 5 s, as bench.rate counts them);
                         target <= 1.05, with workers1_vs_bound of one run beside it
    workers3_rate_limited  calls the simulator refused (target 0)
    failover_fetched_s   from a SIGKILL of one of three workers (once it holds claimed tasks,
                         tasks taking 2-4 s) to the last task it had claimed for fetching
                         done by the others, with the product's lease (30 s; the others
                         notice a free lock every lease / 3)
    failover_s           ... to the last input of its batches settled: a POST it had open is
                         settled from id_list's evidence, first asked request_timeout_s +
                         reconcile_after_s after it was sent (155 s by default), as after any
                         crash: under lease + reconcile time
    failover_claimed_tasks   the claimed tasks the killed worker held at its death; a run in
                         which it had settled them all before the signal landed is not timed
                         (there was no failover) and is run again, FAILOVER_TRIES in all
"""

import argparse
import math
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ENV, Figures, emit, get_json, simulator, write_config
from bench.postgres import PASSWORD_ENV, on_server
from orchestrator.ledger import Ledger
from tests import pg_server

LIMIT, PERIOD_S, JITTER_S = 600, 5, 0.04
FAILOVER_TRIES = 3


def start(config: Path) -> "subprocess.Popen[bytes]":
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    env = {**ENV, **PASSWORD_ENV}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def finish(procs: list["subprocess.Popen[bytes]"]) -> None:
    for proc in procs:
        _, errors = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"workers: a run failed ({proc.returncode}): {errors[-2000:]!r}")


def workers_s(server: pg_server.Server, tasks: int, count: int) -> tuple[float, int]:
    """Wall time of `count` runs of one config at the limit, and the calls refused."""
    flags = ["--calls-per-minute", str(LIMIT), "--rate-period-s", str(PERIOD_S)]
    flags += ["--delay-normal-s", "0:0", "--delay-high-s", "0:0", "--seed", "1"]
    with tempfile.TemporaryDirectory() as tmp, simulator(*flags) as sim:
        config = write_config(
            Path(tmp), sim.url, tasks, calls=LIMIT, period_s=PERIOD_S, jitter_s=JITTER_S
        )
        on_server(config, server.url())
        started = time.monotonic()
        finish([start(config) for _ in range(count)])
        wall = time.monotonic() - started
        stats = get_json(f"{sim.url}/_sim/stats")
    if stats["tasks_collected"] != tasks or stats["duplicate_tags"]:
        raise SystemExit(f"workers: {stats['tasks_collected']} of {tasks} tasks collected")
    return wall, int(stats["rate_limited"])


def ledger_count(server: pg_server.Server, url: str, sql: str) -> int:
    return int(server.psql(sql, database=url.rsplit("/", 1)[1]) or 0)


def failover_s(
    server: pg_server.Server, tasks: int, reconcile: list[str]
) -> tuple[float, float, int] | None:
    """Seconds from the SIGKILL of one of three workers to the last task it had claimed for
    fetching done, and to the last input of its batches settled (an open POST attempt waits
    for id_list's evidence, as after any crash), and how many claimed tasks it held. None
    when it held none at its death (it settled them between being chosen and the signal):
    there was no failover to time."""
    flags = ["--calls-per-minute", str(LIMIT), "--rate-period-s", str(PERIOD_S)]
    flags += ["--delay-normal-s", "2:4", "--seed", "1"]
    with tempfile.TemporaryDirectory() as tmp, simulator(*flags) as sim:
        config = write_config(
            Path(tmp), sim.url, tasks, calls=LIMIT, period_s=PERIOD_S, jitter_s=JITTER_S
        )
        text = config.read_text()
        config.write_text(
            text.replace("overdue_s = 3600\n", "overdue_s = 3600\n" + "".join(reconcile))
        )
        url = server.url()
        Ledger(url, pg_server.PASSWORD).close()  # its tables, before they are asked about
        on_server(config, url)
        procs = [start(config) for _ in range(3)]
        held = (
            "SELECT r.pid FROM inputs i JOIN runs r ON r.id = i.fetcher"
            " WHERE i.state = 'posted' AND r.ended_at IS NULL"
            " GROUP BY r.pid HAVING count(*) >= 20 LIMIT 1"
        )
        # the victim: the first worker to hold 20 claimed tasks (one with nothing left to
        # claim may end first)
        while not (holder := server.psql(held, database=url.rsplit("/", 1)[1]).strip()):
            if all(proc.poll() is not None for proc in procs):
                raise SystemExit("workers: every worker ended before one held claimed tasks")
            time.sleep(0.05)
        victim = next(proc for proc in procs if proc.pid == int(holder))
        procs = [victim] + [proc for proc in procs if proc is not victim]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
        killed = time.monotonic()
        run_id = ledger_count(server, url, f"SELECT id FROM runs WHERE pid = {victim.pid}")
        fetching = server.psql(
            f"SELECT task_id FROM inputs WHERE fetcher = {run_id} AND state = 'posted'",
            database=url.rsplit("/", 1)[1],
        ).split()
        if not fetching:
            finish(procs[1:])
            return None
        listed = ", ".join(f"'{t}'" for t in fetching)
        fetched_left = (
            f"SELECT count(*) FROM inputs WHERE task_id IN ({listed}) AND state = 'posted'"
        )
        batches_left = (
            "SELECT count(*) FROM inputs WHERE state IN ('posting', 'posted') AND batch_id IN"
            f" (SELECT id FROM batches WHERE run_id = {run_id})"
        )
        fetched_s = 0.0
        while ledger_count(server, url, batches_left):
            if not fetched_s and not ledger_count(server, url, fetched_left):
                fetched_s = time.monotonic() - killed
            time.sleep(0.1)
        settled_s = time.monotonic() - killed
        finish(procs[1:])
    return fetched_s or settled_s, settled_s, len(fetching)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=12_000)
    parser.add_argument("--failover-tasks", type=int, default=3_000)
    parser.add_argument(
        "--request-timeout-s", type=float, help="the failover run's (default: the product's)"
    )
    parser.add_argument("--reconcile-after-s", type=float, help="likewise")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    least_calls = math.ceil(args.tasks / 100) + args.tasks + math.ceil(args.tasks / 1000)
    bound_s = least_calls / LIMIT * PERIOD_S
    figures: Figures = {"workers_bound_s": round(bound_s, 2)}
    with pg_server.running() as server:
        one, _ = workers_s(server, args.tasks, 1)
        three, refused = workers_s(server, args.tasks, 3)
        figures["workers1_vs_bound"] = round(one / bound_s, 4)
        figures["workers3_vs_bound"] = round(three / bound_s, 4)
        figures["workers3_rate_limited"] = refused
        reconcile = [
            f"{name} = {value}\n"
            for name, value in (
                ("request_timeout_s", args.request_timeout_s),
                ("reconcile_after_s", args.reconcile_after_s),
            )
            if value is not None
        ]
        for _ in range(FAILOVER_TRIES):
            timed = failover_s(server, args.failover_tasks, reconcile)
            if timed is not None:
                break
        else:
            raise SystemExit(f"workers: no victim held a claimed task in {FAILOVER_TRIES} runs")
        fetched, settled, held = timed
        figures["failover_fetched_s"] = round(fetched, 2)
        figures["failover_s"] = round(settled, 2)
        figures["failover_claimed_tasks"] = held
    emit(figures, args.json)


if __name__ == "__main__":
    main()
