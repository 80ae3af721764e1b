"""postgres: the ledger on a PostgreSQL server against a file, side by side in one run, on a
throwaway server on this machine (tests/pg_server.py: Debian's binaries, a free port).

    postgres_vs_sqlite          one run's wall time with the ledger on the server / in a file:
                                --tasks google/organic tasks, the rate limit lifted, instant
                                tasks (the ledger's cost shows; target <= 1.10), median of
                                --repeat each, alternating
    postgres_vs_sqlite_at_limit the same at a limit of 600 calls per 5 s (the simulator's the
                                same; tasks ready after 0-2 s), --limit-tasks tasks: what a run at
                                its account's limit meets
    load_rows_per_s_postgres    inputs loaded into the server's ledger as a run loads them (COPY),
                                one row per (job, period, key) enforced by its unique index;
                                beside load_rows_per_s_sqlite of the same rows (target >= 100k)
    shared_window_3_vs_1        calls admitted per second by three processes sharing the
                                server's schedule of call slots / by one alone, at a limit of
                                600 per 5 s, for --window-s seconds each (1.0: three keep the
                                limit as busy as one)
    shared_window_peak          the most calls the three admitted in any 5 s (limit 600)
"""

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from bench.common import (
    UNLIMITED_SIMULATOR,
    Figures,
    emit,
    get_json,
    run_orchestrator,
    simulator,
    unlimited_config,
    write_config,
)
from bench.recovery import load_rate
from orchestrator.ledger import Ledger
from orchestrator.ledger.rate_slots import SharedWindow
from orchestrator.wire.limiter import AccountLimiter
from tests import pg_server

PASSWORD_ENV = {"ORCH_BENCH_LEDGER_PASSWORD": pg_server.PASSWORD}


def on_server(config: Path, url: str) -> None:
    with config.open("a") as out:
        out.write(f'\n[state]\nurl = "{url}"\npassword_env = "ORCH_BENCH_LEDGER_PASSWORD"\n')
    text = config.read_text().replace('[state]\npath = "state.sqlite"\n', "", 1)
    config.write_text(text)


def run_s(sim_url: str, tasks: int, url: str | None, limited: bool = False) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        if limited:
            config = write_config(Path(tmp), sim_url, tasks, calls=600, period_s=5)
        else:
            config = unlimited_config(Path(tmp), sim_url, tasks)
        if url is not None:
            on_server(config, url)
        child = run_orchestrator("run", "--config", str(config), env=PASSWORD_ENV)
    if child.returncode != 0:
        raise SystemExit(f"postgres: run failed ({child.returncode}): {child.stderr[-2000:]}")
    return child.wall_s


def admit_for(url: str, seconds: float, out: "multiprocessing.Queue[list[float]]") -> None:
    """One process: admit calls as fast as the shared window lets it, for `seconds`."""
    window = SharedWindow(url, pg_server.PASSWORD)
    admitted: list[float] = []

    async def main() -> None:
        limiter = AccountLimiter(600, 5.0, 600, 30, jitter_s=0.0, shared=window)
        with anyio.move_on_after(seconds):
            async with anyio.create_task_group() as tg:
                for _ in range(30):

                    async def caller() -> None:
                        while True:
                            async with limiter.call():
                                admitted.append(time.time())

                    tg.start_soon(caller)

    try:
        anyio.run(main)
    finally:
        window.close()
    out.put(admitted)


def shared_rate(url: str, processes: int, seconds: float) -> list[float]:
    queue: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=admit_for, args=(url, seconds, queue))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    found = [at for _ in workers for at in queue.get(timeout=seconds + 60)]
    for worker in workers:
        worker.join()
    return sorted(found)


def steady_per_s(times: list[float], skip_s: float = 1.0) -> float:
    """Calls per second after the first `skip_s` (the processes' start)."""
    start = times[0] + skip_s
    kept = [at for at in times if at >= start]
    return len(kept) / (kept[-1] - kept[0])


def most_in(times: list[float], window_s: float) -> int:
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.postgres", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit-tasks", type=int, default=1500)
    parser.add_argument("--load-rows", type=int, default=1_000_000)
    parser.add_argument("--window-s", type=float, default=15.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    figures: Figures = {}
    with pg_server.running() as server:
        with simulator(*UNLIMITED_SIMULATOR) as sim:
            local, remote = [], []
            for _ in range(args.repeat):
                local.append(run_s(sim.url, args.tasks, None))
                remote.append(run_s(sim.url, args.tasks, server.url()))
            collected = get_json(f"{sim.url}/_sim/stats")["tasks_collected"]
        if collected != 2 * args.repeat * args.tasks:
            raise SystemExit(f"postgres: {collected} tasks collected")
        figures["postgres_run_s"] = round(statistics.median(remote), 2)
        figures["sqlite_run_s"] = round(statistics.median(local), 2)
        figures["postgres_vs_sqlite"] = round(
            statistics.median(remote) / statistics.median(local), 3
        )
        limit = ["--calls-per-minute", "600", "--rate-period-s", "5", "--delay-normal-s", "0:2"]
        with simulator(*limit) as sim:
            local, remote = [], []
            for _ in range(args.repeat):
                local.append(run_s(sim.url, args.limit_tasks, None, limited=True))
                remote.append(run_s(sim.url, args.limit_tasks, server.url(), limited=True))
            refused = get_json(f"{sim.url}/_sim/stats")["rate_limited"]
        figures["postgres_vs_sqlite_at_limit"] = round(
            statistics.median(remote) / statistics.median(local), 3
        )
        figures["postgres_at_limit_rate_limited"] = refused
        figures["load_rows_per_s_sqlite"] = round(load_rate(args.load_rows))
        figures["load_rows_per_s_postgres"] = round(
            load_rate(args.load_rows, server.url(), pg_server.PASSWORD)
        )
        url = server.url()
        Ledger(url, pg_server.PASSWORD).close()
        one = shared_rate(url, 1, args.window_s)
        url = server.url()
        Ledger(url, pg_server.PASSWORD).close()
        three = shared_rate(url, 3, args.window_s)
        figures["shared_window_3_vs_1"] = round(steady_per_s(three) / steady_per_s(one), 3)
        figures["shared_window_per_s_1"] = round(steady_per_s(one), 1)
        figures["shared_window_peak"] = most_in(three, 5.0)
    emit(figures, args.json)


if __name__ == "__main__":
    main()
