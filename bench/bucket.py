"""bucket: what writing results to a bucket costs a run, against writing them to disk.

The same work twice over, alternately (--repeat times each): `orchestrator run` of --tasks
google/organic keywords at --depth against the simulator with the rate limit lifted, once with
`[output] dir` and once with `[output] url` on a local S3-compatible server (moto's server
mode, tests/s3_server.py). Medians of the wall times.

    s3_vs_local            wall time writing to the bucket / writing to disk   target <= 1.2
    s3_run_s, local_run_s  the medians
    s3_cpu_vs_local        the orchestrator's CPU seconds, bucket / disk
    s3_parts               parts the bucket run wrote (part_mb 32, part_s 2: the defaults)

moto is a Python server on the same two cores: its CPU is part of what the bucket costs here,
where a real S3 would spend none of ours.
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.common import (
    UNLIMITED_SIMULATOR,
    ChildRun,
    Figures,
    emit,
    get_json,
    run_orchestrator,
    simulator,
    unlimited_config,
)
from tests import s3_server


def one_run(
    sim_url: str, tasks: int, depth: int, bucket: str | None, s3: s3_server.S3Server
) -> ChildRun:
    with tempfile.TemporaryDirectory() as tmp:
        config = unlimited_config(Path(tmp), sim_url, tasks, depth=depth)
        if bucket is not None:
            text = config.read_text().replace(
                'dir = "out"',
                f'dir = "out"\nurl = "s3://{bucket}/bench"\nendpoint_url = "{s3.endpoint}"',
            )
            config.write_text(text)
        child = run_orchestrator("run", "--config", str(config), env=s3.env())
    if child.returncode != 0:
        raise SystemExit(f"bucket: run failed ({child.returncode}): {child.stderr[-2000:]}")
    return child


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.bucket", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    local: list[ChildRun] = []
    remote: list[ChildRun] = []
    parts = 0
    with s3_server.running() as s3, simulator(*UNLIMITED_SIMULATOR) as sim:
        for _ in range(args.repeat):
            local.append(one_run(sim.url, args.tasks, args.depth, None, s3))
            bucket = s3.bucket()
            remote.append(one_run(sim.url, args.tasks, args.depth, bucket, s3))
            parts = len([k for k in s3.keys(bucket, "bench/") if "/results-" in k])
        collected = get_json(f"{sim.url}/_sim/stats")["tasks_collected"]
    if collected != 2 * args.repeat * args.tasks:
        raise SystemExit(f"bucket: {collected} tasks collected")
    local_s = statistics.median(c.wall_s for c in local)
    remote_s = statistics.median(c.wall_s for c in remote)
    figures: Figures = {
        "s3_tasks": args.tasks,
        "local_run_s": round(local_s, 2),
        "s3_run_s": round(remote_s, 2),
        "s3_vs_local": round(remote_s / local_s, 3),
        "s3_cpu_vs_local": round(
            statistics.median(c.cpu_s for c in remote) / statistics.median(c.cpu_s for c in local),
            3,
        ),
        "s3_parts": parts,
    }
    emit(figures, args.json)


if __name__ == "__main__":
    main()
