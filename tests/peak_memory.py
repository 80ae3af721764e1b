"""A command's peak memory, measured from outside. The command is started by a small fresh
interpreter, not by the test process: a child's peak RSS (ru_maxrss) counts what it held
before its exec, and a child forked from a pytest worker that has loaded DuckDB and pyarrow
starts at that worker's 200+ MB."""

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def run_with_peak(
    cmd: list[str], folder: Path, env: dict[str, str], stdout: IO[str] | int, stderr: IO[str]
) -> tuple[int, int]:
    """Run `cmd` to its end: its exit code and its peak RSS in KB."""
    record = folder / f"peak-{os.getpid()}.txt"
    code = subprocess.call(
        [sys.executable, "-c", _LAUNCHER, str(record), *cmd], env=env, stdout=stdout, stderr=stderr
    )
    peak = int(record.read_text())
    record.unlink()
    return code, peak
