"""Config errors name the file and the key; credentials never leak into text."""

import re
from pathlib import Path

import pytest

from orchestrator.config import ApiConfig, credentials, load_config
from orchestrator.errors import ConfigError

GOOD = """
[api]
base_url = "http://127.0.0.1:8080"
calls_per_minute = 600
rate_period_s = 5

[state]
path = "state/ledger.sqlite"

[[jobs]]
name = "rank-us"
se = "google"
se_type = "organic"
input = "keywords.txt"
[jobs.defaults]
location_code = 2840
language_code = "en"
depth = 100
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    return path


def test_good_config_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    """Values are read, defaults filled in, and relative paths resolved against the config."""
    config = load_config(write(tmp_path, GOOD))
    assert config.api.calls_per_minute == 600 and config.api.tasks_ready_per_minute == 20
    assert config.jobs[0].defaults == {"location_code": 2840, "language_code": "en", "depth": 100}
    assert config.jobs[0].input == str(tmp_path / "keywords.txt")
    assert config.state.path == str(tmp_path / "state" / "ledger.sqlite")
    assert config.output.dir == str(tmp_path / "out")


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (
            ("calls_per_minute = 600", "calls_per_mnute = 600"),
            "api",
            "unknown field `calls_per_mnute`",
        ),
        (
            ("calls_per_minute = 600", 'calls_per_minute = "fast"'),
            "api.calls_per_minute",
            "Expected `int`",
        ),
        (("calls_per_minute = 600", "calls_per_minute = 0"), "api.calls_per_minute", ">= 1"),
        (
            ("[state]", '[prices]\nendpoint_base_usd = {"google/ai_mod" = 0.002}\n[state]'),
            "prices.endpoint_base_usd.google/ai_mod",
            "expected a SERP endpoint as se/se_type",
        ),
        (
            ('se_type = "organic"', 'se_type = "organc"'),
            "jobs[0].se_type",
            "no SERP endpoint google/organc",
        ),
        (('name = "rank-us"', 'name = "rank us!"'), "jobs[0].name", "matching regex"),
        (
            ('se = "google"\nse_type = "organic"', 'se = "bing"\nse_type = "local_pack"'),
            "jobs[0].task_get",
            "bing/local_pack has no task_get/advanced; it has regular and html"
            ' (set task_get = "regular")',
        ),
        (
            ('se_type = "organic"', 'se_type = "maps"\ntask_get = "html"'),
            "jobs[0].task_get",
            "google/maps has no task_get/html; it has advanced",
        ),
        (('input = "keywords.txt"', ""), "jobs[0]", "missing required field `input`"),
        # Money at the door: a negative base price let a $0.01 cap pass $0.06, a NaN ended
        # a run on a NOT NULL constraint, a zero cap posted nothing without a word.
        (("[state]", "[prices]\nbase_usd = -0.0006\n[state]"), "prices.base_usd", "> 0"),
        (("[state]", "[prices]\nbase_usd = nan\n[state]"), "prices.base_usd", "> 0"),
        (
            ("[state]", "[prices]\nhigh_priority_multiplier = 0\n[state]"),
            "prices.high_priority_multiplier",
            "> 0",
        ),
        (
            ("[state]", "[prices]\nextra_page_factor = inf\n[state]"),
            "prices.extra_page_factor",
            ">= 0",
        ),
        (
            ("[state]", '[prices]\nendpoint_base_usd = {"google/ai_mode" = -1}\n[state]'),
            "prices.endpoint_base_usd.google/ai_mode",
            "a price > 0",
        ),
        (("[state]", "[budget]\nmax_cost_usd = 0\n[state]"), "budget.max_cost_usd", "> 0"),
        (
            ("[state]", "[budget]\nmax_cost_usd_per_month = nan\n[state]"),
            "budget.max_cost_usd_per_month",
            ">= 0",
        ),
    ],
)
def test_bad_config_names_the_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, words: str
) -> None:
    """Each mistake is one message: file, key, what is wrong."""
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_duplicate_job_names_and_missing_jobs_are_refused(tmp_path: Path) -> None:
    """Two jobs may not share a name; a config with no job is an error."""
    twice = GOOD + GOOD[GOOD.index("[[jobs]]") :]
    with pytest.raises(ConfigError, match=r"jobs\[1\]\.name: duplicate job name 'rank-us'"):
        load_config(write(tmp_path, twice))
    with pytest.raises(ConfigError, match="jobs"):
        load_config(write(tmp_path, "[api]\n"))


def test_unreadable_or_invalid_toml_is_one_line(tmp_path: Path) -> None:
    """A missing file or broken TOML gives one line naming the file."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(write(tmp_path, "[api\nx = 1"))
    assert "\n" not in str(caught.value)


def test_credentials_come_from_env_and_never_show_the_password() -> None:
    """The password is read from the named variable and masked in str and repr."""
    creds = credentials(
        ApiConfig(), "jobs.toml", {"DATAFORSEO_LOGIN": "me", "DATAFORSEO_PASSWORD": "hunter2"}
    )
    assert (creds.login, creds.password) == ("me", "hunter2")
    assert "hunter2" not in str(creds) and "hunter2" not in repr(creds)
    with pytest.raises(ConfigError, match="DATAFORSEO_PASSWORD is not set") as caught:
        credentials(ApiConfig(), "jobs.toml", {"DATAFORSEO_LOGIN": "me"})
    assert caught.value.key == "api.password_env"


def test_shipped_example_config_is_valid() -> None:
    """config.example.toml loads as it is shipped."""
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    config = load_config(example)
    assert [job.name for job in config.jobs] == ["rank-tracking-us", "naver-kr"]


def _job_config(tmp_path: Path, extra: str, top: str = "") -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(
        f'{top}[[jobs]]\nname = "r"\nse = "google"\nse_type = "organic"\ninput = "k.txt"\n{extra}'
    )
    return path


def test_recurring_job_keys_are_checked_with_the_key_named(tmp_path: Path) -> None:
    """A wrong `every`, an unknown time zone, or a zone on a one-shot job: file and key named."""
    cases = [
        ('every = "daily"\n', "", "jobs[0].every"),
        ('every = "day"\ntimezone = "Mars/Olympus"\n', "", "jobs[0].timezone"),
        ('timezone = "Europe/Berlin"\n', "", "jobs[0].timezone: only a job with `every`"),
        ('every = "day"\n', 'timezone = "Nowhere"\n', "timezone: unknown time zone 'Nowhere'"),
    ]
    for extra, top, says in cases:
        with pytest.raises(ConfigError, match=re.escape(says)):
            load_config(_job_config(tmp_path, extra, top))
    config = load_config(_job_config(tmp_path, 'every = "week"\n', 'timezone = "Asia/Tokyo"\n'))
    assert config.jobs[0].every == "week" and config.jobs[0].zone(config).key == "Asia/Tokyo"
