"""What every benchmark shares: a simulator in its own process, an `orchestrator run` child
whose CPU time and peak RSS come from wait4 (its own, not the simulator's), and figures printed
as `name: value` lines and optionally written as JSON."""

import compileall
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The product as installed: pip writes each module's bytecode at install. A checkout run with
# PYTHONDONTWRITEBYTECODE set (this VM sets it) compiled every module of the package again in
# every child, 0.15-0.2 s of each run's CPU that no installed copy pays.
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
for _package in ("orchestrator", "schemas", "bench"):
    compileall.compile_dir(ROOT / _package, quiet=1)
Figures = dict[str, float | int | str]


@dataclass(frozen=True)
class Sim:
    """A simulator process: where it listens, and how to read its CPU time."""

    url: str
    pid: int

    def cpu_s(self) -> float:
        """user + sys seconds the simulator has used so far (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def simulator(*flags: str) -> Iterator[Sim]:
    """`orchestrator simulate` on an ephemeral loopback port, in its own process."""
    cmd = [sys.executable, "-m", "orchestrator", "simulate", "--port", "0", *flags]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            problem = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"simulator did not start: {line}{problem}")
        yield Sim(line.split("listening on ")[1].split(" ")[0], proc.pid)
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


@dataclass(frozen=True)
class ChildRun:
    """What one `orchestrator` child process cost."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + sys of the child only
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_orchestrator(
    *args: str, timeout: float = 1800, env: dict[str, str] | None = None
) -> ChildRun:
    """Run `python -m orchestrator ARGS` to its end and measure it with wait4 (with `env`
    added to the environment)."""
    cmd = [sys.executable, "-m", "orchestrator", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**ENV, **(env or {})})
        peak_kib = 0
        while True:
            peak_kib = max(peak_kib, _high_water_kib(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
            time.sleep(0.02)
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            returncode=proc.returncode,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=peak_kib / 1024,
            stdout=out.read().decode(),
            stderr=err.read().decode(),
        )


def _high_water_kib(pid: int) -> int:
    """Peak RSS so far of the process image `pid` runs now (VmHWM).

    Not wait4's ru_maxrss: Linux carries the parent's RSS at fork into the child's maximum
    across exec, so every child of a big bench process would report at least that much.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass  # already gone (a zombie has no VmHWM): the last reading stands
    return 0


def write_keywords(path: Path, n: int, prefix: str = "keyword") -> None:
    with path.open("w") as handle:
        for i in range(n):
            handle.write(f"{prefix} {i}\n")


def write_config(
    folder: Path,
    url: str,
    n: int,
    *,
    calls: int,
    period_s: float,
    ready_per_window: int = 20,
    concurrency: int = 30,
    depth: int = 10,
    jitter_s: float = 0.5,
) -> Path:
    """A config with one google/organic job of `n` keywords against the simulator at `url`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_keywords(folder / "kw.txt", n)
    config = folder / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"
calls_per_minute = {calls}
rate_period_s = {period_s}
tasks_ready_per_minute = {ready_per_window}
max_concurrency = {concurrency}
overdue_s = 3600
rate_jitter_s = {jitter_s}

[state]
path = "state.sqlite"

[output]
dir = "out"

[[jobs]]
name = "bench"
se = "google"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
location_code = 2840
language_code = "en"
depth = {depth}
""")
    return config


def emit(figures: Figures, json_path: str | None) -> None:
    """Print `name: value` lines; merge them into the JSON file at `json_path` if given."""
    for name, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{name}: {shown}", flush=True)
    if json_path:
        path = Path(json_path)
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing.update(figures)
        path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


UNLIMITED = 100_000_000  # a rate limit no run reaches
# The simulator with its limits lifted and tasks that complete at once
UNLIMITED_SIMULATOR = [
    *("--calls-per-minute", str(UNLIMITED), "--tasks-ready-per-minute", str(UNLIMITED)),
    *("--max-concurrency", "1000", "--delay-normal-s", "0:0", "--delay-high-s", "0:0"),
]


def unlimited_config(
    folder: Path, url: str, tasks: int, concurrency: int = 30, depth: int = 10
) -> Path:
    """`write_config` with the rate limits lifted on our side too."""
    return write_config(
        folder,
        url,
        tasks,
        calls=UNLIMITED,
        period_s=60,
        ready_per_window=UNLIMITED,
        concurrency=concurrency,
        depth=depth,
        jitter_s=0,
    )


def unlimited_run(
    bench: str, tasks: int, concurrency: int = 30
) -> tuple[ChildRun, dict[str, Any], float]:
    """`orchestrator run` of `tasks` google/organic keywords with the rate limit lifted on both
    sides and tasks that complete at once. Returns the run, the simulator's stats and the
    simulator's CPU seconds during the run; stops the bench if anything was not collected."""
    with tempfile.TemporaryDirectory() as tmp, simulator(*UNLIMITED_SIMULATOR) as sim:
        config = unlimited_config(Path(tmp), sim.url, tasks, concurrency)
        sim_cpu_before = sim.cpu_s()
        child = run_orchestrator("run", "--config", str(config))
        sim_cpu = sim.cpu_s() - sim_cpu_before
        if child.returncode != 0:
            raise SystemExit(f"{bench}: run failed ({child.returncode}): {child.stderr}")
        stats = get_json(f"{sim.url}/_sim/stats")
    if stats["tasks_collected"] != tasks:
        raise SystemExit(f"{bench}: {stats['tasks_collected']} of {tasks} tasks collected")
    return child, stats, sim_cpu
