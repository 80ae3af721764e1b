"""memory: peak RSS of `orchestrator run` must not grow with the number of inputs (inputs are
streamed, the ledger is on disk, results go straight to the sink).

    memory_run_small_peak_mb   peak RSS of a run of --small inputs (10k in the full bench)
    memory_run_large_peak_mb   peak RSS of a run of --large inputs (200k)
    memory_large_vs_small      large / small                           target < 1.2
    memory_dry_run_peak_mb     peak RSS of `run --dry-run` over --dry-lines lines (1M)
                                                                       target < 150 MB
Runs are against the simulator (own process) with the rate limit lifted and instant tasks.
"""

import argparse
import tempfile
from pathlib import Path

from bench.common import Figures, emit, run_orchestrator, unlimited_run, write_config


def peak_of_run(tasks: int) -> float:
    child, _, _ = unlimited_run("memory", tasks)
    return child.peak_rss_mb


def peak_of_dry_run(lines: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        # No simulator: a dry run never calls the API.
        config = write_config(Path(tmp), "http://127.0.0.1:9", lines, calls=2000, period_s=60)
        child = run_orchestrator("run", "--config", str(config), "--dry-run")
        if child.returncode != 0 or f"{lines} valid" not in child.stdout:
            raise SystemExit(f"memory: dry run failed ({child.returncode}): {child.stdout}")
    return child.peak_rss_mb, child.wall_s


def measure(small: int, large: int, dry_lines: int) -> Figures:
    small_mb, large_mb = peak_of_run(small), peak_of_run(large)
    dry_mb, dry_s = peak_of_dry_run(dry_lines)
    return {
        "memory_run_small_tasks": small,
        "memory_run_small_peak_mb": round(small_mb, 1),
        "memory_run_large_tasks": large,
        "memory_run_large_peak_mb": round(large_mb, 1),
        "memory_large_vs_small": round(large_mb / small_mb, 3),
        "memory_dry_run_lines": dry_lines,
        "memory_dry_run_peak_mb": round(dry_mb, 1),
        "memory_dry_run_lines_per_s": round(dry_lines / dry_s),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--dry-lines", type=int, default=1_000_000)
    parser.add_argument("--json", help="merge the figures into this JSON file")
    args = parser.parse_args(argv)
    emit(measure(args.small, args.large, args.dry_lines), args.json)


if __name__ == "__main__":
    main()
