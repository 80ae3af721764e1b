"""Exports load into DuckDB with no cleaning, as an analyst would load them: typed timestamps
and location codes, the format from the file name, every results file of a job (plain and
gzip), labels from the task itself, and a typo in --types refused. Real processes against
the simulator."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.test_e2e_run import ENV, run, running_simulator, write_job_files

READERS = {"csv": "read_csv_auto", "jsonl": "read_json_auto", "parquet": "read_parquet"}


def export(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "export", "--config", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Jobs run twice, gzip switched on between the runs (20 keywords, then 10 more)."""
    tmp = tmp_path_factory.mktemp("exports")
    with running_simulator("--seed", "3") as url:
        config = write_job_files(tmp, url, 20)
        assert run(config).returncode == 0
        with (tmp / "kw.txt").open("a") as more:
            more.write("".join(f"keyword {i}\n" for i in range(20, 30)))
        config.write_text(config.read_text() + "\n[output]\ngzip = true\n")
        second = run(config)
        assert second.returncode == 0, second.stderr
    assert (tmp / "out/g/results.jsonl").exists() and (tmp / "out/g/results.jsonl.gz").exists()
    return config


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_each_format_loads_into_duckdb_typed(collected: Path, fmt: str) -> None:
    """No --format: the extension decides (a .parquet got CSV text before). DuckDB reads
    `datetime` as a timestamp with time zone and `location` as an integer, and a typed query
    runs on them; both results files count (13 rows from 51 tasks after a gzip switch)."""
    out = collected.parent / f"g.{fmt}"
    done = export(collected, "--job", "g", "--out", str(out))
    assert done.returncode == 0, done.stderr
    db = duckdb.connect()
    table = f"{READERS[fmt]}('{out}')"
    described = db.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    kinds = {row[0]: row[1] for row in described}
    assert kinds["datetime"] == "TIMESTAMP WITH TIME ZONE", kinds
    assert kinds["location"] == "BIGINT" and kinds["rank_group"] == "BIGINT", kinds
    found = db.execute(
        f"SELECT count(DISTINCT task_id), epoch(max(datetime)) FROM {table}"
        " WHERE location = 2840 AND language = 'en'"
        " AND datetime > TIMESTAMPTZ '2020-01-01 00:00:00+00'"
    ).fetchone()
    assert found is not None
    tasks, latest = found
    assert tasks == 30 and latest is not None


def test_datetime_is_iso_8601_and_naver_has_no_location(collected: Path) -> None:
    """`2026-11-23 07:30:34 +00:00` becomes `2026-11-23T07:30:34+00:00`; Naver tasks, which
    run without a location, export an empty location and language, not "0" and ""."""
    done = export(collected, "--job", "n", "--out", "-", "--format", "jsonl")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows and all(r["location"] is None and r["language"] is None for r in rows)
    stamp = rows[0]["datetime"]
    assert stamp[10] == "T" and stamp.endswith("+00:00"), stamp


def test_labels_come_from_the_task_not_from_todays_config(collected: Path) -> None:
    """A job's se_type changed in the config after its tasks ran: the export says what the
    tasks were."""
    changed = collected.parent / "changed.toml"
    text = collected.read_text().replace('se_type = "search_by_image"', 'se_type = "images"')
    changed.write_text(text.replace('input = "img.txt"', 'input = "img.txt"\n'))
    done = export(changed, "--job", "i", "--out", "-", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    labels = {json.loads(line)["se_type"] for line in done.stdout.splitlines()}
    assert labels == {"search_by_image"}


def test_a_typo_in_types_or_an_unknown_extension_exits_2(collected: Path) -> None:
    """`--types organc` wrote 0 rows with exit 0; now it exits 2 and lists the known types.
    An --out whose extension says no format asks for --format."""
    typo = export(collected, "--job", "g", "--out", "-", "--types", "organic,organc")
    assert typo.returncode == 2 and "no item type organc in the results" in typo.stderr
    assert "known: " in typo.stderr and "organic" in typo.stderr
    vague = export(collected, "--job", "g", "--out", str(collected.parent / "g.txt"))
    assert vague.returncode == 2 and "give --format" in vague.stderr
    assert not (collected.parent / "g.txt").exists()
