"""Each command imports what it uses: `--version`, `--help`, `status`, `validate` and `prune`
start without aiohttp, the report or the simulator, and `run` without the report or the
simulator (every command imported everything before: `--version` took 0.71 s). The bench
figures version_s and status_s_small (bench/startup.py) say how long that takes."""

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.ledger import Ledger
from tests.test_e2e_run import ENV

HTTP_REPORT_SIMULATOR = ("aiohttp", "orchestrator.reports.report", "orchestrator.simulator")
REPORT_SIMULATOR = HTTP_REPORT_SIMULATOR[1:]


def imported(*args: str) -> set[str]:
    """The modules `orchestrator ARGS` imports, as `python -X importtime` lists them."""
    cmd = [sys.executable, "-X", "importtime", "-m", "orchestrator", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "kw.txt").write_text("a keyword\n")
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[api]\nlogin = "a"\npassword = "b"\n'
        '[[jobs]]\nname = "g"\nse = "google"\nse_type = "organic"\ninput = "kw.txt"\n'
        'every = "day"\n[jobs.defaults]\nlocation_code = 2840\nlanguage_code = "en"\n'
    )
    Ledger(tmp_path / "orchestrator-state.sqlite").close()
    return path


def test_the_light_commands_import_no_http_client_report_or_simulator(config: Path) -> None:
    commands = [
        ["--version"],
        ["--help"],
        ["status", "--config", str(config)],
        ["validate", "--config", str(config)],
        ["prune", "--config", str(config), "--before", "2026-01-01"],
    ]
    for args in commands:
        found = imported(*args)
        heavy = sorted(m for m in found if m.startswith(HTTP_REPORT_SIMULATOR))
        assert not heavy, (args, heavy)
    assert "orchestrator.config" not in imported("--version")


def test_run_imports_what_running_needs_and_not_the_report(config: Path) -> None:
    found = imported("run", "--config", str(config), "--dry-run")
    assert not sorted(m for m in found if m.startswith(REPORT_SIMULATOR))
    assert "orchestrator.pipeline.run" in found
