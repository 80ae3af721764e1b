"""The rankings table (issue 26): a settled period's results as Parquet, which `report` and
`export` read instead of the JSON. Read through the table, a period says exactly what its JSON
says: the same keywords, ranks, pages, features, visibility and competitors, whatever the
endpoint, and the same export rows; a table that no longer covers the results is not used."""

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from orchestrator.config import Config, JobConfig, load_config
from orchestrator.reports import rankings_table
from orchestrator.reports.export import rows
from orchestrator.reports.period_table import view_from_table
from orchestrator.reports.period_view import business_key, read_period
from orchestrator.simulator.generator import generate_result

DAY = "2026-12-01"
CRAWLED = "2026-12-01 06:00:00 +00:00"
ENDPOINTS = [
    ("google", "organic", {"depth": 30}),
    ("google", "maps", {"depth": 20}),
    ("google", "local_finder", {"depth": 20}),
    ("google", "news", {"depth": 20}),
    ("google", "ai_mode", {}),  # no ranked list: every item ranks by rank_absolute
    ("bing", "organic", {"depth": 20}),
]


def task_line(n: int, se: str, se_type: str, extra: dict[str, Any], seed: int) -> bytes:
    params = {"keyword": f"pizza place {n}", "location_code": 2840, "language_code": "en"}
    params |= extra
    result = generate_result(seed, se, se_type, params, CRAWLED, ("www.example.com",))
    data = {**params, "se": se, "se_type": se_type, "tag": f"rank:{DAY}:k{n}"}
    return json.dumps({"id": f"t{n}", "data": data, "result": result}).encode() + b"\n"


def period_of(tmp: Path, lines: list[bytes]) -> tuple[Config, JobConfig]:
    (tmp / "kw.txt").write_text("x\n")
    (tmp / "jobs.toml").write_text(
        '[[jobs]]\nname = "rank"\nse = "google"\nse_type = "organic"\ninput = "kw.txt"\n'
        'every = "day"\n[jobs.defaults]\nlocation_code = 2840\nlanguage_code = "en"\n'
    )
    config = load_config(tmp / "jobs.toml")
    folder = Path(config.output.dir) / "rank" / f"period={DAY}"
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_bytes(b"".join(lines))
    return config, config.jobs[0]


def mixed_lines(seed: int) -> list[bytes]:
    found = [task_line(n, *ENDPOINTS[n % len(ENDPOINTS)], seed) for n in range(60)]
    empty = {"id": "t98", "data": {"keyword": "nothing", "tag": f"rank:{DAY}:k98"}, "result": []}
    items_null = {
        "id": "t99",
        "data": {"keyword": "no items", "tag": f"rank:{DAY}:k99"},
        "result": [{"keyword": "no items", "items": None}],
    }
    return [*found, *(json.dumps(t).encode() + b"\n" for t in (empty, items_null))]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_period_read_from_its_table_is_the_period_read_from_its_json(
    tmp_path: Path, seed: int
) -> None:
    config, job = period_of(tmp_path, mixed_lines(seed))
    assert rankings_table.write_table(config, job, DAY, None) > 60
    table = rankings_table.fresh_table(config, job, DAY)
    assert table is not None
    first = json.loads(mixed_lines(seed)[1])["result"][0]["items"]  # a maps SERP
    place = next(i for i in first if i["type"] == "maps_search")
    some = frozenset(f"k{n}" for n in range(0, 62, 3)) | {"k98"}
    organic = [
        item
        for line in mixed_lines(seed)[: len(ENDPOINTS) * 10 : len(ENDPOINTS)]  # google organic
        for item in json.loads(line)["result"][0]["items"]
    ]
    featured = next(  # a domain shown in a SERP feature (not the ranked list): one it owns
        i["domain"] for i in organic if i["type"] != "organic" and isinstance(i.get("domain"), str)
    ).removeprefix("www.")
    for followed, keys in [
        (None, None),
        ("example.com", None),
        ("example.com", some),
        (featured, None),
        (business_key("cid", place["cid"]), None),
        (business_key("business", place["title"]), None),
    ]:
        from_json = read_period(config, job, DAY, followed, keys)
        from_table = view_from_table(table, DAY, followed, keys)
        from_table.need_ranks([*from_json.rank_n, "nowhere.example"])  # summed when asked
        assert from_table == from_json, followed
        if followed is None:
            continue
        charted = view_from_table(table, DAY, followed, keys, charted=(followed, featured))
        assert (charted.keywords, charted.ranks, charted.urls) == (
            from_json.keywords,
            from_json.ranks,
            from_json.urls,
        )
        for name in (followed, featured):  # what the history's chart and sparklines show
            assert charted.visibility(name) == from_json.visibility(name)
            assert charted.average_rank(name) == from_json.average_rank(name)
        alone = view_from_table(table, DAY, followed, keys, charted=(followed,))  # no top pass
        assert alone.ranks == from_json.ranks
        assert alone.visibility(followed) == from_json.visibility(followed)
    full = read_period(config, job, DAY, "example.com")
    assert len(full.keywords) == 62 and full.ranks and full.shared
    assert read_period(config, job, DAY, featured).owned  # a feature it shows
    assert full.keywords["k98"] == "nothing" and "k99" in full.keywords
    assert "k99" not in full.features  # no SERP feature: not listed


def test_export_rows_from_the_table_are_the_rows_from_the_json(tmp_path: Path) -> None:
    config, job = period_of(tmp_path, mixed_lines(3))
    from_json = list(rows(config, job, None))
    rankings_table.write_table(config, job, DAY, None)
    assert rankings_table.fresh_table(config, job, DAY) is not None
    from_table = list(rows(config, job, None))
    assert len(from_table) == len(from_json) > 1000
    assert from_table == from_json
    assert [list(r) for r in from_table[:3]] == [list(r) for r in from_json[:3]]  # key order
    maps = frozenset({"maps_search"})
    assert list(rows(config, job, maps)) == [r for r in from_json if r["type"] == "maps_search"]


def test_a_table_that_does_not_cover_the_results_is_not_used(tmp_path: Path) -> None:
    """Results appended after the table was written (a period re-opened by new inputs): the
    table is stale, and what is read is the JSON, the new keyword included."""
    lines = mixed_lines(4)
    config, job = period_of(tmp_path, lines[:10])
    rankings_table.write_table(config, job, DAY, None)
    path = rankings_table.table_path(config, job, DAY)
    assert rankings_table.fresh_table(config, job, DAY) == path
    with (path.parent / "results.jsonl").open("ab") as out:
        out.write(lines[10])
    assert rankings_table.fresh_table(config, job, DAY) is None
    assert len({r["input_key"] for r in rows(config, job, None)}) == 11
    path.write_bytes(b"PAR1 not a parquet file")  # torn or foreign: never read as a table
    assert rankings_table.fresh_table(config, job, DAY) is None


def test_the_table_has_the_exports_types_and_leaves_the_period_to_the_path(
    tmp_path: Path,
) -> None:
    """DuckDB reads the partitions as they are, the period from the Hive path."""
    import duckdb

    config, job = period_of(tmp_path, mixed_lines(5))
    rankings_table.write_table(config, job, DAY, None)
    path = rankings_table.table_path(config, job, DAY)
    schema = pq.read_schema(path)
    assert "period" not in schema.names
    assert str(schema.field("datetime").type) == "timestamp[ms, tz=UTC]"  # Parquet has no s
    assert str(schema.field("rank_group").type) == "int64"
    assert str(schema.field("rating").type) == "double"
    pattern = str(Path(config.output.dir) / "rank" / "*" / "rankings.parquet")
    got = duckdb.sql(
        f"SELECT period, count(DISTINCT input_key) FROM read_parquet('{pattern}',"
        " hive_partitioning = true) GROUP BY period"
    ).fetchall()
    assert [(str(p), n) for p, n in got] == [(DAY, 62)]


def test_a_run_writes_each_settled_periods_table_and_reports_read_the_same_from_it(
    tmp_path: Path,
) -> None:
    """Real processes against the simulator: after each day's run its partition holds a fresh
    table; `report` and `export` say the same with the tables as without them."""
    import subprocess
    import sys

    from tests.test_e2e_run import ENV, run, running_simulator
    from tests.test_labels import FAST_READY, labelled_config

    flags = ("--delay-normal-s", "0:1", "--seed", "9", "--domains", "example.com")
    with running_simulator(*flags, *FAST_READY) as url:
        config_path = labelled_config(tmp_path, url)
        for day in ("2026-11-30", "2026-12-01"):
            done = run(config_path, "--period", day)
            assert done.returncode == 0, done.stderr
            assert f"rank [{day}]: rankings table written, " in done.stdout
    config = load_config(config_path)
    job = config.jobs[0]
    for day in ("2026-11-30", "2026-12-01"):
        assert rankings_table.fresh_table(config, job, day) is not None, day

    def cli(*args: str) -> str:
        cmd = [sys.executable, "-m", "orchestrator", *args, "--config", str(config_path)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    report = ("report", "--job", "rank", "--domain", "example.com", "--format", "json")
    export = ("export", "--job", "rank", "--format", "jsonl", "--out", "-")
    with_tables = cli(*report), cli(*export)
    for day in ("2026-11-30", "2026-12-01"):
        rankings_table.table_path(config, job, day).unlink()
    assert (cli(*report), cli(*export)) == with_tables
    assert json.loads(with_tables[0])["keywords"] and with_tables[1].count("\n") > 500


async def test_a_follow_service_writes_the_tables_of_settled_periods_as_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --follow` writes tables every TABLES_EVERY_S (5 minutes) in a thread: a settled
    period whose table is missing gets it on the next pass, while the service goes on."""
    import io

    import anyio

    from orchestrator.cli import run as run_command
    from orchestrator.ledger import Ledger
    from orchestrator.pipeline.progress import Progress

    assert run_command.TABLES_EVERY_S == 300.0  # the product's pace, shortened below
    config, job = period_of(tmp_path, mixed_lines(6))
    Ledger(config.state.location).close()  # a ledger with no rows: the period is settled
    monkeypatch.setattr(run_command, "TABLES_EVERY_S", 0.05)
    said = io.StringIO()
    path = rankings_table.table_path(config, job, DAY)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_command.keep_tables, config, None, Progress(said, "log", "text", 1.0))
        with anyio.fail_after(30):
            while rankings_table.fresh_table(config, job, DAY) is None:  # noqa: ASYNC110
                await anyio.sleep(0.05)  # polled: the table is written by another thread
        tg.cancel_scope.cancel()
    assert path.is_file() and f"rank [{DAY}]: rankings table written" in said.getvalue()
