"""receivers: postback receivers of one config on a PostgreSQL ledger, one process against two,
on a throwaway server on this machine (tests/pg_server.py), the rate limit lifted.

    receivers1_settled_per_s  tasks settled per second of wall time, from the start of one
                              `orchestrator run` serving [postback] to its end: the simulator
                              delivers as fast as it produces and gzips each task
    receivers2_settled_per_s  the same with two runs sharing the port (`reuse_port`: the
                              kernel spreads the simulator's connections over them)
    receivers2_vs_1           the second over the first; target >= 1.7 where there are cores
                              for both receivers beside the simulator and the server
    receivers2_cpu_vs_1       the receivers' CPU per task, two over one: 1.0 when they do not
                              contend (locks, retries), whatever the cores
    receivers_cores           the cores this machine has for all of them
    receivers2_simulator_busy the simulator's CPU seconds per second with two receivers: near
                              1.0, the simulator (one process) is what bounds both figures
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ENV, Figures, emit, get_json, simulator, write_config
from bench.postbacks import with_postbacks
from bench.postgres import PASSWORD_ENV, on_server
from tests import pg_server


def receivers(server: pg_server.Server, tasks: int, count: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the runs, of the simulator) for `tasks` postbacks settled
    by `count` runs."""
    flags = ["--calls-per-minute", "1000000", "--delay-normal-s", "0:1", "--seed", "1"]
    with tempfile.TemporaryDirectory() as tmp, simulator(*flags) as sim:
        config = write_config(Path(tmp), sim.url, tasks, calls=1_000_000, period_s=60.0)
        with_postbacks(config, "reuse_port = true\n")
        on_server(config, server.url())
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        sim_before = sim.cpu_s()
        env = {**ENV, **PASSWORD_ENV}
        started = time.monotonic()
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            for _ in range(count)
        ]
        cpu = 0.0
        for proc in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            if proc.returncode != 0:
                errors = proc.stderr.read() if proc.stderr else b""
                raise SystemExit(f"receivers: a run failed ({proc.returncode}): {errors[-2000:]!r}")
        wall = time.monotonic() - started
        sim_cpu = sim.cpu_s() - sim_before
        stats = get_json(f"{sim.url}/_sim/stats")
    if stats["tasks_created"] != tasks or stats["duplicate_tags"]:
        raise SystemExit(f"receivers: {stats}")
    return wall, cpu, sim_cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.receivers", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    with pg_server.running() as server:
        one_wall, one_cpu, _ = receivers(server, args.tasks, 1)
        two_wall, two_cpu, sim_cpu = receivers(server, args.tasks, 2)
    figures: Figures = {
        "receivers_tasks": args.tasks,
        "receivers1_settled_per_s": round(args.tasks / one_wall),
        "receivers2_settled_per_s": round(args.tasks / two_wall),
        "receivers2_vs_1": round(one_wall / two_wall, 3),
        "receivers2_cpu_vs_1": round(two_cpu / one_cpu, 3),
        "receivers_cores": os.cpu_count() or 0,
        "receivers2_simulator_busy": round(sim_cpu / two_wall, 2),
    }
    emit(figures, args.json)


if __name__ == "__main__":
    main()
