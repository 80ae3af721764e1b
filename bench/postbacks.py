"""Postbacks against polling: the same job, the same simulator limit, one bench run.

postback_vs_polling     tasks collected per minute with postbacks / the same by polling: the
                        wall times of the same job run both ways against the same limit,
                        scaled down (--calls per --period-s: 100 per 10 s, a 600-a-minute
                        account) so that the polling run is limit-bound in minutes, not hours;
                        tasks take 0-1 s. Polling needs a task_get per task, postbacks only a
                        task_post per 100 tasks: the ceiling is about 100. The simulator shares
                        the machine, and producing and gzipping each delivery is its work.
postback_settled_per_s  postbacks settled per second of the orchestrator's CPU, the rate limit
                        lifted: --settle-tasks delivered as fast as the simulator sends them
                        (its CPU, results and gzip, is not counted, as in overhead_calls_per_s;
                        the orchestrator's start, loading and posting are)
"""

import argparse
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench.common import (
    ChildRun,
    Figures,
    emit,
    get_json,
    run_orchestrator,
    simulator,
    write_config,
)
from tests.local_servers import free_port


def with_postbacks(config: Path, extra: str = "") -> None:
    """The config with a receiver on a free loopback port (and `extra` lines of [postback])."""
    port = free_port()
    receiver = f'listen = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n{extra}'
    text = config.read_text().replace("[state]", f"[postback]\n{receiver}\n[state]", 1)
    config.write_text(text)


def _timed(tasks: int, calls: int, period_s: float, postbacks: bool) -> tuple[ChildRun, Any]:
    limits = ("--calls-per-minute", str(calls), "--rate-period-s", str(period_s))
    with TemporaryDirectory() as tmp, simulator(*limits, "--delay-normal-s", "0:1") as sim:
        config = write_config(Path(tmp), sim.url, tasks, calls=calls, period_s=period_s)
        if postbacks:
            with_postbacks(config)
        done = run_orchestrator("run", "--config", str(config), "--quiet")
        if done.returncode != 0:
            raise RuntimeError(f"run failed: {done.stderr[-2000:]}")
        numbers = get_json(f"{sim.url}/_sim/stats")
        lines = (Path(tmp) / "out" / "bench" / "results.jsonl").read_bytes().count(b"\n")
    if lines != tasks or numbers["duplicate_tags"] or numbers["rate_limited"]:
        raise RuntimeError(f"{lines} lines of {tasks}, stats {numbers}")
    return done, numbers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.postbacks", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--calls", type=int, default=100, help="simulator limit per window")
    parser.add_argument("--period-s", type=float, default=10.0, help="the window")
    parser.add_argument("--settle-tasks", type=int, default=5000)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    polling, polled = _timed(args.tasks, args.calls, args.period_s, postbacks=False)
    pushed, numbers = _timed(args.tasks, args.calls, args.period_s, postbacks=True)
    settled, _ = _timed(args.settle_tasks, 1_000_000, 60.0, postbacks=True)
    figures: Figures = {
        "postback_tasks": args.tasks,
        "postback_polling_run_s": round(polling.wall_s, 1),
        "postback_run_s": round(pushed.wall_s, 1),
        "postback_task_get_calls": numbers["calls_by_function"].get("task_get", 0),
        "polling_task_get_calls": polled["calls_by_function"].get("task_get", 0),
        "postback_vs_polling": round(polling.wall_s / pushed.wall_s, 1),
        "postback_settle_tasks": args.settle_tasks,
        "postback_settle_wall_s": round(settled.wall_s, 1),
        "postback_settled_per_s": round(args.settle_tasks / settled.cpu_s),
    }
    emit(figures, args.json)


if __name__ == "__main__":
    main()
