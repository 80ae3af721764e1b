"""How long a command takes to start, as cron and a person at a terminal meet it.
    version_s        wall time of `orchestrator --version` (median of --repeat processes)
    status_s_small   wall time of `orchestrator status` on a ledger of --rows settled rows
    python_s         wall time of `python -c pass`: the interpreter's own share of both
Each command imports only its own modules (orchestrator/cli/parser.py); importing every
command for every call made `--version` take 0.71 s.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ENV, Figures, emit, write_config
from bench.ledger import build


def wall_s(cmd: list[str], repeat: int) -> float:
    """The median wall time of `repeat` runs of `cmd` (each must exit 0)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=ENV, timeout=120, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder, "http://127.0.0.1:9", 10, calls=2000, period_s=60)
        text = config.read_text().replace('input = "kw.txt"', 'input = "kw.txt"\nevery = "day"')
        config.write_text(text)
        build(folder / "state.sqlite", args.rows, min(args.rows, 100))
        orchestrator = [sys.executable, "-m", "orchestrator"]
        figures: Figures = {
            "python_s": round(wall_s([sys.executable, "-c", "pass"], args.repeat), 3),
            "version_s": round(wall_s([*orchestrator, "--version"], args.repeat), 3),
            "status_s_small": round(
                wall_s([*orchestrator, "status", "--config", str(config)], args.repeat), 3
            ),
            "status_small_rows": args.rows,
        }
    emit(figures, args.json)


if __name__ == "__main__":
    main()
