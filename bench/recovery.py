"""Recovery and start: a job run through crashes, and how fast inputs go in.

restart_vs_clean          wall time of a job run to its end through --kills SIGKILLs at
                          random moments (the killed runs' time included) / a clean run of
                          the same job; the product's default timers and limits, and the
                          simulator's limits the same; tasks take 1-6 s
load_rows_per_s           inputs read, validated and written to the ledger per second, the
                          way a run loads them (Run.load: a reader thread and the ledger's)
start_to_first_post_s_1m  seconds from `orchestrator run` starting to the simulator seeing
                          its first task_post, with a --start-rows input (1M; the name
                          keeps `1m` at --quick's smaller size, `start_rows` says which)
"""

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from bench.common import ENV, Figures, emit, get_json, simulator, write_config
from orchestrator.config import load_config
from orchestrator.ledger import Ledger
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan

SIM_DEFAULT_LIMITS = ("--calls-per-minute", "2000", "--rate-period-s", "60")


def default_config(folder: Path, url: str, n: int) -> Path:
    """write_config's job with the product's default [api] timers and limits."""
    config = write_config(folder, url, n, calls=2000, period_s=60)
    text = config.read_text()
    for line in ("overdue_s = 3600\n", "rate_jitter_s = 0.5\n", "max_concurrency = 30\n"):
        text = text.replace(line, "")
    config.write_text(text)
    return config


def outputs(folder: Path) -> int:
    lines = 0
    for name in ("results.jsonl", "failed.jsonl"):
        path = folder / "out" / "bench" / name
        lines += len(path.read_bytes().splitlines()) if path.exists() else 0
    return lines


def timed_run(config: Path, kill_after: float | None = None) -> tuple[float, int]:
    """(wall seconds, exit code) of one `orchestrator run`, SIGKILLed after `kill_after`."""
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    try:
        proc.wait(timeout=kill_after if kill_after is not None else 1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    _, err = proc.communicate()
    if kill_after is None and proc.returncode != 0:
        raise RuntimeError(f"run failed ({proc.returncode}): {err.decode()[-2000:]}")
    return time.monotonic() - started, proc.returncode


def restart_vs_clean(tasks: int, kills: int, seed: int) -> Figures:
    flags = (*SIM_DEFAULT_LIMITS, "--delay-normal-s", "1:6", "--seed", str(seed))
    with tempfile.TemporaryDirectory() as tmp:
        with simulator(*flags) as sim:
            clean_dir = Path(tmp) / "clean"
            clean_s, _ = timed_run(default_config(clean_dir, sim.url, tasks))
            assert outputs(clean_dir) == tasks, "the clean run lost results"
        with simulator(*flags) as sim:
            crash_dir = Path(tmp) / "crash"
            config = default_config(crash_dir, sim.url, tasks)
            rng = random.Random(seed)
            total = 0.0
            for _ in range(kills):
                spent, _ = timed_run(config, kill_after=rng.uniform(0.05, 0.8) * clean_s)
                total += spent
            spent, _ = timed_run(config)
            total += spent
            numbers = get_json(f"{sim.url}/_sim/stats")
            assert outputs(crash_dir) == tasks, "the restarted run lost results"
            assert numbers["tasks_created"] == tasks, "a task was posted twice"
    return {
        "restart_tasks": tasks,
        "restart_kills": kills,
        "restart_clean_s": round(clean_s, 1),
        "restart_total_s": round(total, 1),
        "restart_rate_limited": int(numbers["rate_limited"]),
        "restart_vs_clean": round(total / clean_s, 2),
    }


def load_rate(rows: int, url: str | None = None, password: str | None = None) -> float:
    """Rows per second a run loads `rows` inputs into a ledger: a file, or the database at
    `url` (its password given)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config_path = write_config(folder, "http://127.0.0.1:9", rows, calls=2000, period_s=60)
        if url is not None:
            text = config_path.read_text().replace(
                'path = "state.sqlite"', f'url = "{url}"\npassword_env = "ORCH_BENCH_PASSWORD"'
            )
            config_path.write_text(text)
        config = load_config(config_path)
        ledger = Ledger(config.state.location, password)
        client: Any = None  # loading calls no API
        run = Run(config, ledger, client, plan(config, time.time(), None, str(config_path)))
        started = time.perf_counter()
        anyio.run(run.load)
        seconds = time.perf_counter() - started
        loaded = ledger.counts("bench")["pending"]
        ledger.close()
    if loaded != rows:
        raise SystemExit(f"load: {loaded} of {rows} rows loaded")
    return rows / seconds


def load_rows_per_s(rows: int) -> Figures:
    return {"load_rows": rows, "load_rows_per_s": round(load_rate(rows))}


def start_to_first_post(rows: int) -> Figures:
    with tempfile.TemporaryDirectory() as tmp, simulator("--delay-normal-s", "0:0") as sim:
        config = write_config(Path(tmp), sim.url, rows, calls=2000, period_s=60)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--quiet"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        first_post = None
        while first_post is None and proc.poll() is None:
            if get_json(f"{sim.url}/_sim/stats")["calls_by_function"].get("task_post", 0):
                first_post = time.perf_counter() - started
            else:
                time.sleep(0.02)
        proc.kill()
        _, err = proc.communicate(timeout=30)
        if first_post is None:
            raise RuntimeError(f"the run posted nothing: {err.decode()[-2000:]}")
    return {"start_rows": rows, "start_to_first_post_s_1m": round(first_post, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.recovery", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="tasks of the restarted job")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--load-rows", type=int, default=1_000_000)
    parser.add_argument("--start-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    figures: Figures = {}
    figures.update(load_rows_per_s(args.load_rows))
    figures.update(start_to_first_post(args.start_rows))
    figures.update(restart_vs_clean(args.tasks, args.kills, args.seed))
    emit(figures, args.json)


if __name__ == "__main__":
    main()
