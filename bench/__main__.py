"""Run every benchmark: `python -m bench [--quick] [--json PATH]`.

Each prints `name: value` lines; with --json all figures are merged into one file, together
with the machine they ran on. --quick uses smaller sizes (about 7 minutes); the full run takes
about 33 minutes on a 2-core machine (3 of them building the 10M-row ledger of bench.ledger).
"""

import argparse
import os
import platform
import time
from pathlib import Path

from bench import (
    bucket,
    decode,
    ledger,
    memory,
    object_clients,
    overhead,
    postbacks,
    postgres,
    rate,
    receivers,
    recovery,
    report_scale,
    startup,
    workers,
)
from bench.common import emit

QUICK = {
    "rate": ["--tasks", "3000"],
    "decode": ["--per-endpoint", "5", "--seconds", "5"],
    "overhead": ["--tasks", "10000"],
    "memory": ["--small", "2000", "--large", "20000", "--dry-lines", "100000"],
    "ledger": ["--rows", "1000000", "--keywords", "20000"],
    "recovery": [
        "--tasks",
        "500",
        "--kills",
        "3",
        "--load-rows",
        "200000",
        "--start-rows",
        "200000",
    ],
    "postbacks": ["--tasks", "1000", "--settle-tasks", "3000"],
    "startup": ["--repeat", "5"],
    "report_scale": ["--keywords", "10000", "--history", "3", "--size-keywords", "50"],
    "bucket": ["--tasks", "500", "--repeat", "1"],
    "object_clients": ["--parts", "8"],
    "postgres": "--tasks 1000 --repeat 1 --limit-tasks 500 --load-rows 100000 --window-s 8".split(),
    "workers": ["--tasks", "3000", "--failover-tasks", "1000"],
    "receivers": ["--tasks", "3000"],
}
FULL: dict[str, list[str]] = {name: [] for name in QUICK}
MODULES = {
    "rate": rate,
    "decode": decode,
    "overhead": overhead,
    "memory": memory,
    "ledger": ledger,
    "recovery": recovery,
    "postbacks": postbacks,
    "startup": startup,
    "report_scale": report_scale,
    "bucket": bucket,
    "object_clients": object_clients,
    "postgres": postgres,
    "workers": workers,
    "receivers": receivers,
}


def machine() -> dict[str, str | int | float]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "machine_cpu": cpu,
        "machine_cores": os.cpu_count() or 0,
        "machine_python": platform.python_version(),
        "machine_os": f"{platform.system()} {platform.release()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 7 minutes")
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument("--only", choices=sorted(MODULES), action="append", help="run just these")
    args = parser.parse_args()
    if args.json and Path(args.json).exists():
        Path(args.json).unlink()
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    emit({**machine(), "bench_mode": "quick" if args.quick else "full"}, args.json)
    for name in args.only or MODULES:
        extra = ["--json", args.json] if args.json else []
        MODULES[name].main(sizes[name] + extra)
    emit({"bench_total_s": round(time.monotonic() - started, 1)}, args.json)


if __name__ == "__main__":
    main()
