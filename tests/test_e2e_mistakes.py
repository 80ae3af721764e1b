"""Mistakes a new user makes on a server fail loudly, as a person meets them: `validate` and
`run` as processes, the simulator as a process, and nothing posted for a mistake."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.wire.limiter import CallLog
from tests.test_e2e_run import ENV, run, running_simulator, stats


def config_text(url: str, input_name: str, extra_job: str = "", defaults: str = "") -> str:
    return f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"

[[jobs]]
name = "j"
se = "google"
se_type = "organic"
input = "{input_name}"
{extra_job}
[jobs.defaults]
location_code = 2840
language_code = "en"
{defaults}
"""


def validate(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "validate", "--config", str(config), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)


BAD_INPUTS = {
    "excel-header": (b"Keyword\npizza\npasta\n", "1: the header names no field", "'keyword'"),
    "semicolons": (b"keyword;device\npizza;mobile\n", "1: columns are separated by ';'", "CSV"),
    "notes-column": (b"keyword,notes\npizza,call Bob\n", "1: 'notes': not a field", "ignore"),
    "latin-1": (b"keyword\npizza\ncaf\xe9\n", "3: not UTF-8 text", "iconv"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_an_input_file_every_row_of_which_is_wrong_is_refused_by_name(
    tmp_path: Path, case: str
) -> None:
    """An Excel header, a `;` file, an extra column or Latin-1 text: `validate` and `run` exit
    2 with one line naming the file and line and what to do, and nothing is posted (before,
    each of these rejected every row, or all the noted rows, with exit 0)."""
    content, where, hint = BAD_INPUTS[case]
    (tmp_path / "kw.csv").write_bytes(content)
    with running_simulator() as url:
        config = tmp_path / "jobs.toml"
        config.write_text(config_text(url, "kw.csv"))
        checked = validate(config)
        ran = run(config)
        assert stats(url)["tasks_created"] == 0
    for done in (checked, ran):
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{tmp_path / 'kw.csv'}:{where}" in done.stderr and hint in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_typo_in_job_defaults_exits_2_naming_the_key(tmp_path: Path) -> None:
    """`dpeth = 100` in [jobs.defaults] used to reject every row with exit 0."""
    (tmp_path / "kw.txt").write_text("pizza\n")
    with running_simulator() as url:
        config = tmp_path / "jobs.toml"
        config.write_text(config_text(url, "kw.txt", defaults="dpeth = 100"))
        checked = validate(config)
        ran = run(config)
        assert stats(url)["tasks_created"] == 0
    for done in (checked, ran):
        assert done.returncode == 2
        assert f"{config}: jobs[0].defaults.dpeth: not a field of google/organic tasks" in (
            done.stderr
        )
        assert "did you mean 'depth'" in done.stderr


def test_a_job_without_one_valid_row_exits_non_zero(tmp_path: Path) -> None:
    """Every row rejected (depth over 700): under cron this must alert, not exit 0."""
    (tmp_path / "kw.csv").write_text("keyword,depth\npizza,900\npasta,1000\n")
    with running_simulator() as url:
        config = tmp_path / "jobs.toml"
        config.write_text(config_text(url, "kw.csv"))
        checked = validate(config)
        ran = run(config)
        assert stats(url)["tasks_created"] == 0
    assert checked.returncode == 2 and "j: not one of its 2 rows is valid" in checked.stderr
    assert ran.returncode == 2, ran.stderr
    assert "job j: not one of its 2 rows is valid" in ran.stderr
    rejected = (tmp_path / "out" / "j" / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 2


def test_ignored_columns_and_padded_cells_post_clean_tasks(tmp_path: Path) -> None:
    """`ignore_columns` keeps a notes column out of the tasks; cells are stripped like lines."""
    (tmp_path / "kw.csv").write_text("keyword , notes,device\n pizza , call Bob , mobile\n")
    with running_simulator() as url:
        config = tmp_path / "jobs.toml"
        config.write_text(config_text(url, "kw.csv", extra_job='ignore_columns = ["notes"]'))
        assert validate(config).returncode == 0
        ran = run(config)
        assert ran.returncode == 0, ran.stderr
    [line] = (tmp_path / "out" / "j" / "results.jsonl").read_text().splitlines()
    data = json.loads(line)["data"]
    assert data["keyword"] == "pizza" and data["device"] == "mobile" and "notes" not in data


def test_maps_rows_are_posted_with_their_market(tmp_path: Path) -> None:
    """google/maps CSV rows keep location, language and device (they were posted as one task
    with the keyword only): three markets, three tasks, each echoed back as given."""
    (tmp_path / "maps.csv").write_text(
        "keyword,location_code,language_code,device\n"
        "pizza near me,2840,en,mobile\npizza near me,2826,en,desktop\n"
        "pizza near me,2276,de,mobile\n"
    )
    with running_simulator() as url:
        config = tmp_path / "jobs.toml"
        text = config_text(url, "maps.csv").replace('"organic"', '"maps"')
        config.write_text(text.split("[jobs.defaults]")[0])
        ran = run(config)
        assert ran.returncode == 0, ran.stderr
        assert stats(url)["tasks_created"] == 3
    lines = (tmp_path / "out" / "j" / "results.jsonl").read_text().splitlines()
    markets = sorted(
        (d["location_code"], d["language_code"], d["device"])
        for d in (json.loads(line)["data"] for line in lines)
    )
    assert markets == [(2276, "de", "mobile"), (2826, "en", "desktop"), (2840, "en", "mobile")]


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("htp://api.dataforseo.com", "is not an http(s) URL"),
        ("api.dataforseo.com", "is not an http(s) URL"),
        ("https://api.dataforseo.com/v3", "leave out /v3"),
    ],
)
def test_validate_finds_a_bad_base_url(tmp_path: Path, base_url: str, words: str) -> None:
    """A base_url that cannot work is found by `validate`, not 7-11 s into a run."""
    (tmp_path / "kw.txt").write_text("pizza\n")
    config = tmp_path / "jobs.toml"
    config.write_text(config_text(base_url, "kw.txt"))
    done = validate(config)
    assert done.returncode == 2
    assert f"{config}: api.base_url: '{base_url}'" in done.stderr and words in done.stderr


def test_a_wrong_password_is_found_by_check_account_and_leaves_nothing_posting(
    tmp_path: Path,
) -> None:
    """`validate --check-account` makes one free call: the balance and limit, or the
    credentials' error with exit 3. A run with a wrong password exits 3 before it claims a
    batch (100 rows showed as posting), so `status` does not claim tasks are out."""
    (tmp_path / "kw.txt").write_text("".join(f"kw {i}\n" for i in range(30)))
    with running_simulator("--balance", "12.5") as url:
        config = tmp_path / "jobs.toml"
        config.write_text(config_text(url, "kw.txt"))
        good = validate(config, "--check-account")
        assert good.returncode == 0, good.stderr
        calls = CallLog.beside(str(tmp_path / "orchestrator-state.sqlite"), 3000)
        assert len(calls.since(0)) == 1  # counted in the call log the config's runs share
        calls.close()
        assert "account: sim works, balance $12.50, limit 3000 calls/min" in good.stdout
        assert "WARNING" not in good.stdout  # $12.50 pays for the 30 keywords
        as_json = validate(config, "--check-account", "--json")
        assert json.loads(as_json.stdout)["account"]["balance_usd"] == 12.5
    with running_simulator("--balance", "0.01") as url:
        config.write_text(config_text(url, "kw.txt"))
        low = validate(config, "--check-account")
        assert low.returncode == 0, low.stderr
        assert "WARNING: the balance $0.01 is below this config's estimate of $0.0180" in (
            low.stdout
        )
    with running_simulator("--balance", "12.5") as url:
        config.write_text(config_text(url, "kw.txt"))
        wrong = tmp_path / "wrong.toml"
        wrong.write_text(config.read_text().replace('password = "sim"', 'password = "nope"'))
        bad = validate(wrong, "--check-account")
        assert bad.returncode == 3 and "account: 40100" in bad.stderr
        ran = run(wrong)
        assert ran.returncode == 3 and "Traceback" not in ran.stderr
        assert "account problem: /v3/appendix/user_data: 40100" in ran.stderr
        assert stats(url)["tasks_created"] == 0
    status = subprocess.run(
        [sys.executable, "-m", "orchestrator", "status", "--config", str(wrong), "--json"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    counts = json.loads(status.stdout)["jobs"]["j"]["counts"]
    assert counts["posting"] == 0 and counts["posted"] == 0


def test_credentials_come_from_an_env_file_only_its_owner_can_read(tmp_path: Path) -> None:
    """The cron line no longer carries the password: `--env-file` reads it from a file, and
    refuses one that others may read, without showing its content."""
    (tmp_path / "kw.txt").write_text("pizza\npasta\n")
    secrets = tmp_path / "dataforseo.env"
    secrets.write_text("# for cron\nexport DATAFORSEO_LOGIN=sim\nDATAFORSEO_PASSWORD='sim'\n")
    with running_simulator() as url:
        config = tmp_path / "jobs.toml"
        text = config_text(url, "kw.txt").replace('login = "sim"\npassword = "sim"\n', "")
        config.write_text(text)
        env = {k: v for k, v in ENV.items() if not k.startswith("DATAFORSEO_")}
        secrets.chmod(0o644)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        shared = subprocess.run(
            [*cmd, "--env-file", str(secrets)], capture_output=True, text=True, env=env
        )
        assert shared.returncode == 2 and f"chmod 600 {secrets}" in shared.stderr
        assert "sim'" not in shared.stderr and stats(url)["calls_total"] == 0
        secrets.chmod(0o600)
        done = subprocess.run(
            [*cmd, "--env-file", str(secrets)], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        assert stats(url)["tasks_created"] == 2
        missing = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert missing.returncode == 2 and "DATAFORSEO_LOGIN is not set" in missing.stderr


@pytest.mark.parametrize(
    ("postback", "listen", "words"),
    [
        ("", "127.0.0.1:8791", "--listen: the config has no [postback] to serve"),
        ('[postback]\npublic_url = "http://127.0.0.1:9/dfs"\n', "8791", "is not host:port"),
    ],
)
def test_a_listen_without_a_receiver_or_not_an_address_exits_2(
    tmp_path: Path, postback: str, listen: str, words: str
) -> None:
    """`run --listen` names what is wrong in one line; nothing is posted."""
    with running_simulator() as url:
        (tmp_path / "kw.txt").write_text("one\n")
        config = tmp_path / "jobs.toml"
        config.write_text(config_text(url, "kw.txt") + postback)
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
        done = subprocess.run(
            [*cmd, "--listen", listen], capture_output=True, text=True, env=ENV, timeout=60
        )
        assert stats(url)["tasks_created"] == 0
    assert done.returncode == 2 and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
