"""Jobs on maps, YouTube, news and Bing's local pack, run as users run them (real processes
against the simulator): each collects its endpoint's answer in the variant the job chose,
and the export carries each family's columns."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.test_e2e_run import ENV, run, running_simulator
from tests.test_export_loads import export

CONFIG = """
[api]
base_url = "{url}"
login = "sim"
password = "sim"
calls_per_minute = 3000
rate_period_s = 10

[[jobs]]
name = "maps"
se = "google"
se_type = "maps"
input = "places.csv"

[[jobs]]
name = "yt"
se = "youtube"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
location_name = "United States"
language_name = "English"

[[jobs]]
name = "news"
se = "google"
se_type = "news"
input = "kw.txt"
[jobs.defaults]
location_code = 2826
language_code = "en"

[[jobs]]
name = "lp"
se = "bing"
se_type = "local_pack"
input = "kw.txt"
task_get = "{variant}"
[jobs.defaults]
location_code = 2840
language_code = "en"
"""


def _setup(tmp: Path, url: str, variant: str = "regular") -> Path:
    (tmp / "kw.txt").write_text("pizza\ncoffee shop\nplumber\n")
    rows = "pizza near me,2840,en,mobile\npizza near me,2826,en,desktop\npizza,2276,de,mobile\n"
    (tmp / "places.csv").write_text("keyword,location_code,language_code,device\n" + rows)
    config = tmp / "jobs.toml"
    config.write_text(CONFIG.format(url=url, variant=variant))
    return config


def _validate(config: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "validate", "--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("families")
    with running_simulator("--seed", "5") as url:
        config = _setup(tmp, url)
        done = run(config, "--max-runtime", "120")
        assert done.returncode == 0, done.stderr
    return config


def _lines(config: Path, job: str) -> list[dict[str, Any]]:
    path = config.parent / "out" / job / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_maps_rows_are_posted_with_their_market_and_collected_as_places(collected: Path) -> None:
    """Three maps rows, three markets and devices: three tasks, each answered with
    maps_search places in its own country."""
    tasks = _lines(collected, "maps")
    assert len(tasks) == 3
    markets = {(t["data"]["location_code"], t["data"].get("device")) for t in tasks}
    assert markets == {(2840, "mobile"), (2826, "desktop"), (2276, "mobile")}
    for task in tasks:
        [result] = task["result"]
        assert {i["type"] for i in result["items"]} <= {"maps_search", "maps_paid_item"}
        assert result["location_code"] == task["data"]["location_code"]


def test_bing_local_pack_runs_on_regular_and_advanced_is_refused(
    collected: Path, tmp_path: Path
) -> None:
    """The job on task_get = "regular" collects each task from task_get/regular; the same
    job with "advanced" is refused by validate with exit 2 and a line naming the key."""
    tasks = _lines(collected, "lp")
    assert len(tasks) == 3 and all(t["path"][-2] == "regular" for t in tasks)
    assert all(i["type"] == "local_pack" for t in tasks for i in t["result"][0]["items"])
    config = _setup(tmp_path, "http://127.0.0.1:9", variant="advanced")
    done = _validate(config)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "jobs[3].task_get" in done.stderr
    assert "bing/local_pack has no task_get/advanced; it has regular and html" in done.stderr


def test_names_resolve_to_codes_in_what_is_collected(collected: Path) -> None:
    """A job given location_name/language_name gets codes back in each result."""
    results = [t["result"][0] for t in _lines(collected, "yt")]
    assert {(r["location_code"], r["language_code"]) for r in results} == {(2840, "en")}


def test_the_export_carries_each_familys_columns(collected: Path) -> None:
    """Places: rating, votes, address, phone, place_id, cid, category, coordinates; video:
    channel, views, duration, publication; news: source and time. DuckDB reads them typed."""
    db = duckdb.connect()
    out = collected.parent / "maps.parquet"
    assert export(collected, "--job", "maps", "--out", str(out)).returncode == 0
    places = db.execute(
        f"SELECT count(*), count(rating), count(address), count(phone), count(place_id),"
        f" count(cid), count(category), min(latitude), max(rating_votes)"
        f" FROM read_parquet('{out}') WHERE type = 'maps_search'"
    ).fetchone()
    assert places is not None
    total, *filled, latitude, votes = places
    assert total > 100 and all(n == total for n in filled[1:]) and filled[0] > 0
    assert isinstance(latitude, float) and votes > 0
    out = collected.parent / "yt.parquet"
    assert export(collected, "--job", "yt", "--out", str(out)).returncode == 0
    video = db.execute(
        f"SELECT count(*), count(channel), count(views), sum(duration_s), count(published)"
        f" FROM read_parquet('{out}') WHERE type = 'youtube_video'"
    ).fetchone()
    assert video is not None and video[0] > 20 and video[0] == video[1] == video[2] == video[4]
    assert video[3] > 0
    out = collected.parent / "news.csv"
    assert export(collected, "--job", "news", "--out", str(out)).returncode == 0
    news = db.execute(
        f"SELECT count(*), count(source), count(timestamp) FROM read_csv_auto('{out}')"
        " WHERE type = 'news_search'"
    ).fetchone()
    assert news is not None and news[0] > 10 and news[0] == news[1] == news[2]
