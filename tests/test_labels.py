"""Labels of inputs (issue 27): a job's `tag_columns` keep CSV columns such as a client or a
group out of the tasks, carry them into the export as columns, and select by them in the
report. Real processes against the simulator, which puts the client's domain among its SERPs."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.test_e2e_run import ENV, run, running_simulator, stats
from tests.test_report_browser import rendered

KEYWORDS = (
    "keyword,client,group\n"
    "running shoes,acme,shoes\n"
    "trail shoes,acme,shoes\n"
    "rain jacket,globex,\n"
    "Running Shoes,globex,shoes\n"  # a variant of acme's: one task carrying both clients
    "hiking boots,,\n"
)


# The labelled config polls tasks_ready 5 times a second; its simulator must admit that.
FAST_READY = ("--tasks-ready-per-minute", "300")


def labelled_config(tmp: Path, url: str) -> Path:
    (tmp / "kw.csv").write_text(KEYWORDS)
    config = tmp / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"
tasks_ready_per_minute = 300  # the simulator's, set below: labels need no 3 s poll cadence

[[jobs]]
name = "rank"
se = "google"
se_type = "organic"
input = "kw.csv"
every = "day"
tag_columns = ["client", "group"]
[jobs.defaults]
location_code = 2840
language_code = "en"
depth = 100
""")
    return config


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", *args, "--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def test_labels_stay_out_of_tasks_go_into_the_export_and_select_in_the_report(
    tmp_path: Path,
) -> None:
    flags = ("--delay-normal-s", "0:1", "--seed", "5", "--domains", "example.com", *FAST_READY)
    with running_simulator(*flags) as url:
        config = labelled_config(tmp_path, url)
        for day in ("2026-11-27", "2026-11-30", "2026-12-01", "2026-12-03"):  # 12-02 missed
            done = run(config, "--period", day)
            assert done.returncode == 0, done.stderr
        assert stats(url)["tasks_created"] == 16  # 4 distinct keywords a day, labels aside
    lines = (tmp_path / "out" / "rank" / "period=2026-12-03" / "results.jsonl").read_text()
    for line in lines.splitlines():  # the labels were never sent
        data = json.loads(line)["data"]
        assert "client" not in data and "group" not in data

    exported = cli(config, "export", "--job", "rank", "--out", str(tmp_path / "r.csv"))
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "r.csv").open(newline="") as table:
        by_keyword = {
            row["keyword"]: (row["tag_client"], row["tag_group"]) for row in csv.DictReader(table)
        }
    assert by_keyword == {
        "running shoes": ("acme, globex", "shoes"),
        "trail shoes": ("acme", "shoes"),
        "rain jacket": ("globex", ""),
        "hiking boots": ("", ""),
    }

    def keywords(*tag: str) -> set[str]:
        found = cli(
            config, "report", "--job", "rank", "--domain", "example.com", "--format", "json", *tag
        )
        assert found.returncode == 0, found.stderr
        return {k["keyword"] for k in json.loads(found.stdout)["keywords"]}

    assert keywords("--tag", "client=acme") == {"running shoes", "trail shoes"}
    headline_counts_the_keyword_table(config)
    assert keywords("--tag", "client=Globex") == {"running shoes", "rain jacket"}
    assert len(keywords()) == 4
    unknown = cli(config, "report", "--job", "rank", "--tag", "owner=x")
    assert unknown.returncode == 2 and "not a label column of rank: client, group" in unknown.stderr
    nobody = cli(config, "report", "--job", "rank", "--tag", "client=initech")
    assert nobody.returncode == 2 and "no input of" in nobody.stderr


def test_a_label_column_that_is_a_task_field_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = labelled_config(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text().replace('["client", "group"]', '["client", "depth"]'))
    checked = cli(config, "validate")
    assert checked.returncode == 2
    assert "jobs[0].tag_columns: 'depth' is a task field" in checked.stderr


def headline_counts_the_keyword_table(config: Path) -> None:
    """The headline's keywords in the top 3/10/100 and up are the keyword table's own counts,
    in JSON and in the table."""
    found = cli(config, "report", "--job", "rank", "--domain", "example.com", "--format", "json")
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    numbers = {h["name"]: (h["then"], h["now"]) for h in data["headline"]}
    moves = data["keywords"]
    for top in (3, 10, 100):
        then = sum(m["then"] is not None and m["then"] <= top for m in moves)
        now = sum(m["now"] is not None and m["now"] <= top for m in moves)
        assert numbers[f"keywords in the top {top}"] == (then, now)
    assert numbers["keywords up"] == (None, sum((m["change"] or 0) > 0 for m in moves))
    for move in moves:  # per keyword: its rank in each history period, and its ranking page
        assert (move["url_since"] is None) == (move["url"] is None)
        assert len(move["history"]) == len(data["history"]) and move["history"][-1] == move["now"]
        assert (move["url"] is not None) == (move["now"] is not None or move["then"] is not None)
        assert move["url"] is None or "example.com/" in move["url"]
    assert any(m["now"] is not None for m in moves)  # the followed domain ranks somewhere
    rivals = [c["domain"] for c in data["competitors"]]
    assert rivals and "example.com" not in rivals and len(rivals) <= 5
    assert all(set(m["owned"]) <= set(m["features"]) for m in moves)
    html = config.parent / "r.html"
    table = cli(
        config,
        "report",
        "--job",
        "rank",
        "--domain",
        "example.com",
        "--title",
        "Acme <Q4>",
        "--html",
        str(html),
    )
    then, now = numbers["keywords in the top 100"]
    assert f"  keywords in the top 100: {then} -> {now}" in table.stdout
    assert table.stdout.startswith("Acme <Q4>\n") and "competitors (most often" in table.stdout
    page = html.read_text()
    assert "<h1>Acme &lt;Q4&gt;</h1>" in page and "Competitors (most often" in page
    # The missed day is in the history as a gap, drawn as one in the page Chromium renders
    days = [f"2026-11-{d}" for d in range(27, 31)] + [f"2026-12-0{d}" for d in range(1, 4)]
    assert [p for p, _, _ in data["history"]] == days
    assert data["history"][5][1:] == [{}, None]
    assert all(m["missing"] == ["2026-11-28", "2026-11-29", "2026-12-02"] for m in moves)
    week_over_week(config, {m["keyword"]: m["history"] for m in moves})
    dom, drawn = rendered(html, config.parent / "r.png")
    assert 'class="gap" data-period="2026-12-02"' in dom and drawn > 100
    for name in ("visibility (top 10)", "average rank", "keywords in the top 3"):
        assert f'class="card" data-name="{name}"' in dom, name


def test_a_sparkline_breaks_at_a_missing_period_and_a_foreign_link_is_text() -> None:
    """The HTML's rank history: a period without results is a gap line, not a point; a
    ranking page that is not http(s) is shown, never linked."""
    from orchestrator.reports.report_html import _link, sparkline

    drawn = sparkline([3, 2, None, 5], missing={2})
    assert drawn.count("<polyline") == 1 and drawn.count("<circle") == 1
    assert drawn.count('class="gap"') == 1
    assert sparkline([None, None], missing={0, 1}) == ""
    assert "href" not in _link("javascript:alert(1)", False)
    assert 'href="https://example.com/a"' in _link("https://example.com/a", True, "2026-12-01")
    assert "(since 2026-12-01)" in _link("https://example.com/a", True, "2026-12-01")


def test_a_ranking_page_is_dated_from_the_first_period_of_its_latest_run() -> None:
    """Page A, then B twice (a period without the keyword between): B ranks since its first
    period; a keyword that never ranked has no date."""
    from orchestrator.reports.report import page_since

    periods = ["d1", "d2", "d3", "d4"]
    assert page_since(periods, ["A", "B", None, "B"]) == "d2"
    assert page_since(periods, [None, None, None, None]) is None


def week_over_week(config: Path, daily: dict[str, list[int | None]]) -> None:
    """`--by-week`: 2026-W48 (one day) against 2026-W49 (three days); a keyword's weekly rank
    is the mean of its daily ranks, rounded."""
    found = cli(
        config,
        "report",
        "--job",
        "rank",
        "--domain",
        "example.com",
        "--by-week",
        "--format",
        "json",
    )
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert (data["then"], data["now"]) == ("2026-W48", "2026-W49")
    for move in data["keywords"]:
        days = [r for r in daily[move["keyword"]][3:] if r is not None]  # 11-30 .. 12-03
        assert move["now"] == (round(sum(days) / len(days)) if days else None)
        assert move["then"] == daily[move["keyword"]][0]
