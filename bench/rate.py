"""rate: does a run sit on the account's limit without ever going over it?

The simulator (its own process) and the orchestrator share a compressed limit, 600 calls per
5 s counted as a strict sliding window, and tasks complete at once, so the limit is all that
paces the run. The minute is compressed 12-fold, and so is the jitter allowance
(api.rate_jitter_s: 0.5 s at 60 s becomes 0.04 s at 5 s); loopback jitter is far below it.
The least possible number of calls for N tasks is N/100 posts + N task_gets + N/1000
tasks_ready pages; at the limit that takes calls / limit x window seconds (the bound).

    rate_utilization   calls in a window in steady state / limit    target >= 0.98
    rate_rejections    40202 answers the simulator gave             target 0
    rate_window_peak   most calls the simulator saw in one window   must be <= limit
    e2e_vs_bound       wall time of `orchestrator run` / bound     target <= 1.05
"""

import argparse
import math
import tempfile
from pathlib import Path

from bench.common import Figures, emit, get_json, run_orchestrator, simulator, write_config

LIMIT, PERIOD_S, JITTER_S = 600, 5, 0.04


def steady_utilization(per_second: list[int], limit: int, period: int) -> float:
    """Mean calls per window over the windows that lie wholly inside the run, away from its
    first and last window (start-up and the last results trickling in), divided by the limit."""
    busy = [i for i, n in enumerate(per_second) if n]
    if not busy:
        return 0.0
    first, last = busy[0] + period, busy[-1] - period
    sums = [sum(per_second[i : i + period]) for i in range(first, last - period + 2)]
    if not sums:
        return 0.0
    return sum(sums) / len(sums) / limit


def measure(tasks: int) -> Figures:
    flags = ["--calls-per-minute", str(LIMIT), "--rate-period-s", str(PERIOD_S)]
    flags += ["--delay-normal-s", "0:0", "--delay-high-s", "0:0", "--seed", "1"]
    with tempfile.TemporaryDirectory() as tmp, simulator(*flags) as sim:
        url = sim.url
        config = write_config(
            Path(tmp), url, tasks, calls=LIMIT, period_s=PERIOD_S, jitter_s=JITTER_S
        )
        child = run_orchestrator("run", "--config", str(config))
        if child.returncode != 0:
            raise SystemExit(f"rate: orchestrator run failed ({child.returncode}): {child.stderr}")
        stats = get_json(f"{url}/_sim/stats")
        timeline = get_json(f"{url}/_sim/timeline")["admitted_per_second"]
    if stats["tasks_collected"] != tasks:
        raise SystemExit(f"rate: {stats['tasks_collected']} of {tasks} tasks collected")
    least_calls = math.ceil(tasks / 100) + tasks + math.ceil(tasks / 1000)
    bound_s = least_calls / LIMIT * PERIOD_S
    return {
        "rate_tasks": tasks,
        "rate_calls": stats["calls_total"],
        "rate_least_calls": least_calls,
        "rate_utilization": round(steady_utilization(timeline, LIMIT, PERIOD_S), 4),
        "rate_rejections": stats["rate_limited"],
        "rate_window_peak": stats["window_peak"],
        "rate_limit_per_window": LIMIT,
        "rate_wall_s": round(child.wall_s, 2),
        "rate_bound_s": round(bound_s, 2),
        "e2e_vs_bound": round(child.wall_s / bound_s, 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.rate", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--json", help="merge the figures into this JSON file")
    args = parser.parse_args(argv)
    emit(measure(args.tasks), args.json)


if __name__ == "__main__":
    main()
