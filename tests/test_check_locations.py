"""`validate --check-locations` (issue 28): the locations and languages the jobs name are
checked against the API's lists before anything is paid, each list asked for once and kept in
the ledger. Over HTTP to the simulator, which serves the lists."""

import subprocess
import sys
from pathlib import Path

from tests.test_e2e_run import ENV, running_simulator, stats


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "validate", "--check-locations"]
    return subprocess.run(
        [*cmd, "--config", str(config)], capture_output=True, text=True, env=ENV, timeout=120
    )


def write(tmp: Path, url: str, rows: str) -> Path:
    (tmp / "kw.csv").write_text("keyword,location_code,language_code\n" + rows)
    (tmp / "kr.txt").write_text("운동화\n")
    config = tmp / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"

[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.csv"

[[jobs]]
name = "n"
se = "naver"
se_type = "organic"
input = "kr.txt"
""")
    return config


def test_unlisted_codes_are_named_before_anything_is_paid_and_lists_are_kept(
    tmp_path: Path,
) -> None:
    with running_simulator("--seed", "2") as url:
        config = write(tmp_path, url, "shoes,2840,en\nboots,1,en\nhats,2826,xx\ncaps,1013962,en\n")
        checked = validate(config)
        assert checked.returncode == 2, checked.stdout + checked.stderr
        assert "g: location_code 1 (line 3) is not in the API's list" in checked.stderr
        assert "g: language_code 'xx' (line 4) is not in the API's list" in checked.stderr
        assert "1013962" not in checked.stderr and "2826" not in checked.stderr
        numbers = stats(url)
        assert numbers["calls_by_function"]["locations"] == 1  # google's, once; naver has none
        assert numbers["calls_by_function"]["languages"] == 1
        assert numbers["tasks_created"] == 0

        write(tmp_path, url, "shoes,2840,en\ncaps,1013962,en\n")
        fixed = validate(config)
        assert fixed.returncode == 0, fixed.stderr
        assert "all 3 locations and languages the jobs name are listed" in fixed.stdout
        assert "naver has no lists: not checked" in fixed.stdout
        assert stats(url)["calls_by_function"]["locations"] == 1  # kept in the ledger
