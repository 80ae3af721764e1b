"""overhead: with the rate limit lifted, how many calls a second can the orchestrator drive,
and what CPU does it spend per 1000 tasks? It must never be what holds a batch back: the
target is 30x the default limit (2000 per minute = 33 calls/s), so >= 1000 calls/s.

The simulator runs in its own process (its CPU is reported apart, as it shares the machine);
tasks complete at once and carry 10 items each.

    overhead_calls_per_s           calls the simulator served / wall time of the run
    overhead_cpu_ms_per_1000_tasks user+sys of the orchestrator process only, per 1000 tasks
    overhead_vs_default_limit      calls per second / (2000 / 60)        target >= 30
    overhead_simulator_cpu_share   simulator CPU seconds / wall seconds (1.0 = one core busy)
"""

import argparse

from bench.common import Figures, emit, unlimited_run

DEFAULT_CALLS_PER_S = 2000 / 60


def measure(tasks: int, concurrency: int) -> Figures:
    child, stats, sim_cpu = unlimited_run("overhead", tasks, concurrency)
    calls_per_s = stats["calls_total"] / child.wall_s
    return {
        "overhead_tasks": tasks,
        "overhead_calls": stats["calls_total"],
        "overhead_wall_s": round(child.wall_s, 2),
        "overhead_calls_per_s": round(calls_per_s, 1),
        "overhead_cpu_ms_per_1000_tasks": round(child.cpu_s / tasks * 1e6, 1),
        "overhead_vs_default_limit": round(calls_per_s / DEFAULT_CALLS_PER_S, 1),
        "overhead_orchestrator_cpu_share": round(child.cpu_s / child.wall_s, 2),
        "overhead_simulator_cpu_share": round(sim_cpu / child.wall_s, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=30, help="api.max_concurrency")
    parser.add_argument("--json", help="merge the figures into this JSON file")
    args = parser.parse_args(argv)
    emit(measure(args.tasks, args.concurrency), args.json)


if __name__ == "__main__":
    main()
