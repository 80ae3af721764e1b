"""receivers: postback receivers of one config on a PostgreSQL ledger, one process against two,
on a throwaway server on this machine (tests/pg_server.py), the rate limit lifted.

The simulator holds the deliveries (`--hold-webhooks`) until every task is posted and
finished, their bodies made; then it sends them all at once, and the clock runs from there to
the last run's exit. Producing a realistic SERP costs the simulator about three times what
settling it costs a receiver, so with deliveries made on the fly the simulator, not the
receivers, bounded both figures (0.74 on 2026-12-03).

    receivers1_settled_per_s  held deliveries settled per second of wall time by one
                              `orchestrator run` serving [postback], from their release to
                              the run's end
    receivers2_settled_per_s  the same with two runs sharing the port (`reuse_port`: the
                              kernel spreads the simulator's connections over them)
    receivers2_vs_1           the second over the first; target >= 1.7 where there are cores
                              for both receivers beside the simulator's sending and the server
    receivers2_cpu_vs_1       the receivers' CPU per task from the release, two over one: 1.0
                              when they do not contend (locks, retries), whatever the cores
    receivers_cores           the cores this machine has for all of them
    receivers2_simulator_busy the simulator's CPU seconds per second with two receivers, from
                              the release (sending only)
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import ENV, Figures, Sim, emit, get_json, simulator, write_config
from bench.postbacks import with_postbacks
from bench.postgres import PASSWORD_ENV, on_server
from tests import pg_server

HELD_WAIT_S = 600.0  # for every task to be posted and finished, deliveries held


def _cpu_s(pid: int) -> float:
    """user + sys seconds process `pid` has used so far."""
    return Sim("", pid).cpu_s()


def _release(sim: Sim, tasks: int, procs: list[subprocess.Popen[bytes]]) -> None:
    """Wait until every task's delivery is held, then send them all."""
    deadline = time.monotonic() + HELD_WAIT_S
    while (held := get_json(f"{sim.url}/_sim/stats")["webhooks_held"]) < tasks:
        if any(proc.poll() is not None for proc in procs):
            errors = b"".join(proc.stderr.read() for proc in procs if proc.stderr)
            raise SystemExit(f"receivers: a run ended before its deliveries: {errors[-2000:]!r}")
        if time.monotonic() > deadline:
            raise SystemExit(f"receivers: {held} of {tasks} deliveries held in {HELD_WAIT_S} s")
        time.sleep(0.05)
    request = urllib.request.Request(
        f"{sim.url}/_sim/webhooks", data=b'{"held": false}', method="POST"
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def receivers(server: pg_server.Server, tasks: int, count: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the runs, of the simulator), from the release of `tasks`
    held postbacks to their settling by `count` runs."""
    flags = ["--calls-per-minute", "1000000", "--delay-normal-s", "0:1", "--seed", "1"]
    with tempfile.TemporaryDirectory() as tmp, simulator(*flags, "--hold-webhooks") as sim:
        config = write_config(Path(tmp), sim.url, tasks, calls=1_000_000, period_s=60.0)
        with_postbacks(config, "reuse_port = true\n")
        on_server(config, server.url())
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        env = {**ENV, **PASSWORD_ENV}
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            for _ in range(count)
        ]
        _release(sim, tasks, procs)
        cpu = -sum(_cpu_s(proc.pid) for proc in procs)
        sim_before = sim.cpu_s()
        released = time.monotonic()
        for proc in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            if proc.returncode != 0:
                errors = proc.stderr.read() if proc.stderr else b""
                raise SystemExit(f"receivers: a run failed ({proc.returncode}): {errors[-2000:]!r}")
        wall = time.monotonic() - released
        sim_cpu = sim.cpu_s() - sim_before
        stats = get_json(f"{sim.url}/_sim/stats")
    if stats["webhooks_sent"] != tasks or stats["duplicate_tags"] or stats["webhooks_failed"]:
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
