"""`report --by-week` over a missed week (issue 27): a week without a collected day is a gap
in the history, as a missed day is in a daily report, and Chromium draws it as one. Real
processes against the simulator."""

import json
import subprocess
import sys
from pathlib import Path

from orchestrator.reports.weekly import week_calendar
from tests.test_e2e_run import ENV, run, running_simulator
from tests.test_labels import FAST_READY, labelled_config
from tests.test_report_browser import rendered


def test_the_week_calendar_holds_every_iso_week_across_a_year_end() -> None:
    """2026 has 53 ISO weeks (it begins on a Thursday)."""
    assert week_calendar("2026-W52", "2027-W02") == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert week_calendar("2026-W49", "2026-W49") == ["2026-W49"]


def test_a_week_without_collected_days_is_a_gap_in_the_weekly_history(tmp_path: Path) -> None:
    flags = ("--delay-normal-s", "0:1", "--seed", "8", "--domains", "example.com")
    with running_simulator(*flags, *FAST_READY) as url:
        config = labelled_config(tmp_path, url)
        for day in ("2026-11-17", "2026-11-30", "2026-12-01"):  # W47, then W49: W48 missed
            done = run(config, "--period", day)
            assert done.returncode == 0, done.stderr
    html = tmp_path / "weekly.html"
    cmd = [sys.executable, "-m", "orchestrator", "report", "--config", str(config), "--job", "rank"]
    found = subprocess.run(
        [*cmd, "--domain", "example.com", "--by-week", "--format", "json", "--html", str(html)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert (data["then"], data["now"]) == ("2026-W47", "2026-W49")
    assert [week for week, _, _ in data["history"]] == ["2026-W47", "2026-W48", "2026-W49"]
    assert data["history"][1][1:] == [{}, None]  # no point: no line drawn through W48
    assert data["history"][0][1] and data["history"][2][1]
    assert all(move["missing"] == ["2026-W48"] for move in data["keywords"])
    dom, drawn = rendered(html, tmp_path / "weekly.png")
    assert 'class="gap" data-period="2026-W48"' in dom and drawn > 100
    assert 'class="card" data-name="average rank"' in dom
