"""A ledger made by an earlier version opens, keeps every row and result, and goes on working."""

import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestrator.ledger import (
    DONE,
    FAILED,
    MISSED,
    PENDING,
    POSTED,
    POSTING,
    Ledger,
    is_url,
    migrations,
)
from orchestrator.ledger.migrations import VERSION
from orchestrator.ledger.postgres_schema import PG_ROW_TALLY
from orchestrator.storage.bucket import Bucket
from orchestrator.storage.parts import claim, part_key
from tests import pg_server, s3_server
from tests.conftest import LedgerAt

# The schema of version 0 (the first release), exactly as it shipped.
V0_SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (
    job TEXT NOT NULL,
    key TEXT NOT NULL,
    tag TEXT NOT NULL UNIQUE,
    line INTEGER NOT NULL,
    body BLOB NOT NULL,
    est_cost REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'posting', 'posted', 'done', 'failed')),
    batch_id INTEGER,
    task_id TEXT UNIQUE,
    cost REAL,
    status_code INTEGER,
    error TEXT,
    posted_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (job, key)
);
CREATE INDEX IF NOT EXISTS inputs_state ON inputs (job, state);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    exit_code INTEGER,
    reason TEXT,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""
NOV_1 = 1793491200.0  # 2026-11-01 00:00 UTC


def make_v0(path: Path) -> None:
    """A version-0 ledger mid-life: done, posted and pending rows, a settled file, a run."""
    db = sqlite3.connect(path)
    db.executescript(V0_SCHEMA)
    rows = [
        ("g", "k1", "g:k1", 1, b"{}", 0.0006, "done", 1, "id-1", 0.0006, 20000, None, NOV_1, NOV_1),
        (
            "g",
            "k2",
            "g:k2",
            2,
            b"{}",
            0.0006,
            "posted",
            1,
            "id-2",
            0.0012,
            None,
            None,
            NOV_1,
            NOV_1,
        ),
        ("g", "k3", "g:k3", 3, b"{}", 0.0006, "pending", None, None, None, None, None, None, NOV_1),
    ]
    db.executemany(f"INSERT INTO inputs VALUES ({', '.join('?' * 14)})", rows)
    db.execute("INSERT INTO files VALUES ('out/g/results.jsonl', 42)")
    db.execute(
        "INSERT INTO runs (started_at, ended_at, exit_code, reason, pid)"
        " VALUES (1, 2, 0, 'done', 7)"
    )
    db.commit()
    db.close()


def test_a_version_0_ledger_is_migrated_with_every_row_as_a_one_shot_input(tmp_path: Path) -> None:
    """Rows, states, costs, task ids, file sizes and runs survive; the old rows are period ''."""
    path = tmp_path / "state.sqlite"
    make_v0(path)
    ledger = Ledger(path)
    try:
        assert ledger.counts("g") == {
            PENDING: 1,
            "posting": 0,
            POSTED: 1,
            DONE: 1,
            "failed": 0,
            MISSED: 0,
        }
        assert ledger.spent() == pytest.approx(0.0018)
        assert ledger.month_spent("2026-11") == pytest.approx(0.0018)
        assert ledger.committed_size("out/g/results.jsonl") == 42
        assert ledger.last_run() == (1, 2, 0, "done", None, None, None, None)
        assert ledger.posted_jobs(["id-2"]) == {"id-2": ("g", "")}
        assert ledger.periods("g") == [""]
        # It goes on working: the pending row is claimed, and a period's row is a new input.
        _, claimed = ledger.claim_batch("g", "", 100)
        assert [c.tag for c in claimed] == ["g:k3"]
        assert ledger.add_inputs([("g", "2026-11-23", "k1", "g:2026-11-23:k1", 1, b"{}", 0.0006)])
        assert ledger.counts("g", "2026-11-23")[PENDING] == 1
        version = ledger._db.execute("PRAGMA user_version").fetchone()[0]
        assert version == VERSION
    finally:
        ledger.close()
    again = Ledger(path)  # opening a migrated ledger changes nothing
    assert again.counts("g")[DONE] == 1 and again.spent() == pytest.approx(0.0018)
    again.close()


def test_status_reads_a_version_0_ledger_by_upgrading_it_first(tmp_path: Path) -> None:
    """`status` before the first run of the new version still answers (it upgrades once)."""
    path = tmp_path / "state.sqlite"
    make_v0(path)
    reader = Ledger.reader(path)
    try:
        assert reader.counts("g")[DONE] == 1
    finally:
        reader.close()


def test_a_ledger_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    """An older orchestrator never rewrites a ledger it does not understand."""
    path = tmp_path / "state.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {VERSION + 1}")
    db.commit()
    db.close()
    from orchestrator.errors import LedgerError

    with pytest.raises(LedgerError, match="newer than this orchestrator"):
        Ledger(path)
    with pytest.raises(LedgerError, match="newer than this orchestrator"):
        Ledger.reader(path)  # status and export read through this: they refuse it too


def test_a_crash_during_migration_leaves_the_old_ledger_intact(tmp_path: Path) -> None:
    """The migration is one transaction: killed half-way, the file is still version 0."""
    path = tmp_path / "state.sqlite"
    make_v0(path)
    probe = (
        "import sqlite3, sys, os\n"
        "from orchestrator.ledger import migrations\n"
        "real = migrations.STEPS[1]\n"
        "def dying(db):\n"
        "    real(db)\n"
        "    os._exit(9)  # killed after the copy, before the commit\n"
        "migrations.STEPS[1] = dying\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "migrations.migrate(db)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", probe, str(path)], cwd=root, timeout=60)
    assert done.returncode == 9
    db = sqlite3.connect(path)
    columns = [r[1] for r in db.execute("PRAGMA table_info(inputs)")]
    assert "period" not in columns and db.execute("SELECT COUNT(*) FROM inputs").fetchone() == (3,)
    db.close()
    ledger = Ledger(path)  # and the next open migrates it for real
    assert ledger.counts("g")[DONE] == 1
    ledger.close()


def make_v1(path: Path, out: Path, body: bytes) -> None:
    """A version-1 ledger: one settled row with its results file, and one row whose POST (a
    bare tag, as version 1 posted) went out just before a crash."""
    db = sqlite3.connect(path)
    db.executescript(migrations.INPUTS + migrations.DERIVED + migrations.OTHERS)
    now = time.time()
    db.execute(
        "INSERT INTO batches (id, job, created_at) VALUES (1, 'g', ?), (2, 'g', ?)", (now, now)
    )
    db.execute(
        "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, batch_id,"
        " task_id, cost, status_code, posted_at, updated_at)"
        " VALUES ('g', '', 'k1', 'g:k1', 1, '{}', 0.0006, 'done', 1, 'id-1', 0.0006, 20000, ?, ?)",
        (now, now),
    )
    db.execute(
        "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, batch_id,"
        " updated_at) VALUES ('g', '', ?, ?, 2, ?, 0.0006, 'posting', 2, ?)",
        (input_key_of(body), json.loads(body)["tag"], body, now),
    )
    (out / "g").mkdir(parents=True)
    (out / "g" / "results.jsonl").write_bytes(b'{"id":"id-1"}\n')
    db.execute("INSERT INTO files (path, size) VALUES (?, 14)", (str(out / "g" / "results.jsonl"),))
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def input_key_of(body: bytes) -> str:
    return str(json.loads(body)["tag"]).split(":")[-1]


def test_a_version_1_ledger_keeps_its_outputs_and_settles_a_bare_tagged_post(
    tmp_path: Path,
) -> None:
    """Version 2 adds the ledger's identity and write-ahead fetches. A version-1 ledger keeps
    writing to the folder it wrote (no marker yet), and a POST it made just before the upgrade
    (a bare tag) is found by id_list, not posted again."""
    from tests.test_e2e_run import run, running_simulator, stats

    with running_simulator("--seed", "1") as url:
        # The input as version 1 would have stored it, with its POST already on the account.
        (tmp_path / "kw.txt").write_text("pizza\n")
        config = tmp_path / "jobs.toml"
        config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"
[output]
dir = "{tmp_path / "out"}"
[state]
path = "{tmp_path / "state.sqlite"}"
[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
location_code = 2840
language_code = "en"
""")
        from orchestrator.config import load_config
        from orchestrator.pipeline.inputs import ValidInput, read_inputs

        loaded = load_config(config)
        (row,) = [
            r for r in read_inputs(loaded.jobs[0], loaded.prices) if isinstance(r, ValidInput)
        ]
        request = urllib.request.Request(
            f"{url}/v3/serp/google/organic/task_post", data=b"[" + row.body + b"]"
        )
        request.add_header("Authorization", "Basic c2ltOnNpbQ==")
        urllib.request.urlopen(request, timeout=10).close()
        make_v1(tmp_path / "state.sqlite", tmp_path / "out", row.body)
        ledger = Ledger(tmp_path / "state.sqlite")
        assert len(ledger.id) == 12 and ledger.first_tagged_batch == 3
        columns = [r[1] for r in ledger._db.execute("PRAGMA table_info(inputs)")]
        assert "fetch_at" in columns
        ledger.close()
        done = run(config)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
        assert numbers["tasks_created"] == 1 and numbers["duplicate_tags"] == 0
        lines = (tmp_path / "out" / "g" / "results.jsonl").read_text().splitlines()
        assert len(lines) == 2 and json.loads(lines[0]) == {"id": "id-1"}
        assert json.loads(lines[1])["data"]["keyword"] == "pizza"


def test_a_version_2_ledger_keeps_its_rows_and_a_load_adds_only_new_inputs(
    tmp_path: Path,
) -> None:
    """Version 3 drops the (job, period, key) primary key. A version-2 ledger mid-life keeps
    every row, state, tally and order; its posting row is still found by tag; and a load of
    the same file adds only the keyword it did not hold."""
    from orchestrator.pipeline.inputs import ValidInput, read_inputs
    from tests.test_loading import new_run, write_config

    (tmp_path / "kw.txt").write_text("pizza\nsushi\nramen\n")
    config = write_config(tmp_path)
    first = new_run(config)  # only to read the job as a run would
    job, prices = first.config.jobs[0], first.config.prices
    first.ledger.close()
    (tmp_path / "state.sqlite").unlink()
    made = [r for r in read_inputs(job, prices) if isinstance(r, ValidInput)]
    db = sqlite3.connect(tmp_path / "state.sqlite", isolation_level=None)
    db.executescript(migrations.INPUTS + migrations.DERIVED + migrations.OTHERS)
    db.execute("BEGIN")
    migrations.STEPS[2](db)  # version 2, exactly as that version's step made it
    db.execute("PRAGMA user_version = 2")
    db.execute("COMMIT")
    states = [("done", "id-1", 0.0006), ("posting", None, None), ("pending", None, None)]
    for row, (state, task_id, cost) in zip(made[:2], states, strict=False):
        db.execute(
            "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, batch_id,"
            " task_id, cost, updated_at) VALUES ('g', '', ?, ?, ?, ?, ?, ?, 7, ?, ?, 0)",
            (row.key, row.tag, row.line, row.body, row.cost, state, task_id, cost),
        )
    db.execute("INSERT INTO tally (job, period, state, n, cost) VALUES ('g', '', 'done', 1, 6e-4)")
    db.execute("INSERT INTO tally (job, period, state, n) VALUES ('g', '', 'posting', 1)")
    db.close()

    ledger = Ledger(tmp_path / "state.sqlite")
    try:
        assert ledger._db.execute("PRAGMA user_version").fetchone() == (VERSION,)
        assert ledger._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        found = ledger._db.execute("SELECT id, key, state FROM inputs ORDER BY id").fetchall()
        assert found == [(1, made[0].key, "done"), (2, made[1].key, "posting")]
        assert ledger.counts("g")[DONE] == 1 and ledger.spent() == pytest.approx(0.0006)
        [(attempt, tags)] = ledger.open_attempts(live_run=None)
        assert (attempt.batch, attempt.sent, tags) == (7, 0.0, [made[1].tag])
        assert ledger.mark_posted([(made[1].tag, "id-2", 0.0006)], "2026-11") == 1
        indexes = {r[1] for r in ledger._db.execute("PRAGMA index_list(inputs)")}
        assert indexes == {"inputs_by_state", "inputs_by_task", "inputs_posting", "inputs_identity"}
    finally:
        ledger.close()

    run = new_run(config)
    run.load_inputs()
    run.ledger.close()
    db = sqlite3.connect(tmp_path / "state.sqlite")
    rows = db.execute("SELECT key, state FROM inputs ORDER BY id").fetchall()
    db.close()
    assert rows == [(made[0].key, "done"), (made[1].key, "posted"), (made[2].key, "pending")]


def test_a_version_3_ledger_keeps_its_twins_and_its_posting_batch_as_a_local_attempt(
    tmp_path: Path,
) -> None:
    """Version 4 makes one row per (job, period, key) a constraint again and records attempts.
    A version-3 ledger mid-life, with two rows of one key (a `--follow` race of two loads) and
    a batch left posting by a crash: every row stays, the later twin under `<key>~<id>`, the
    store then refuses a third, and the batch becomes an attempt sent at its claim, in the
    local clock (so id_list's window around it is reconcile_slack_s wider)."""
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(migrations.INPUTS + migrations.DERIVED + migrations.OTHERS)
    db.execute("BEGIN")
    for step in (2, 3):
        migrations.STEPS[step](db)  # version 3, exactly as those steps made it
    db.execute("PRAGMA user_version = 3")
    db.execute("COMMIT")
    db.execute("INSERT INTO batches (id, job, created_at) VALUES (5, 'g', ?)", (NOV_1,))
    rows = [
        ("k1", "g:2026-11-01:k1", "done", None, "id-1", 0.0006),
        ("k1", "g:2026-11-01:k1", "posted", None, "id-2", 0.0006),  # the twin
        ("k2", "g:2026-11-01:k2", "posting", 5, None, None),
    ]
    for key, tag, state, batch, task_id, cost in rows:
        db.execute(
            "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, batch_id,"
            " task_id, cost, updated_at) VALUES ('g', '2026-11-01', ?, ?, 1, '{}', 0.0006, ?,"
            " ?, ?, ?, 0)",
            (key, tag, state, batch, task_id, cost),
        )
    db.close()

    ledger = Ledger(path)
    try:
        assert ledger._db.execute("PRAGMA user_version").fetchone() == (VERSION,) == (10,)
        assert ledger._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        found = ledger._db.execute("SELECT id, key, state FROM inputs ORDER BY id").fetchall()
        assert found == [(1, "k1", "done"), (2, "k1~2", "posted"), (3, "k2", "posting")]
        from orchestrator.errors import LedgerError

        with pytest.raises(LedgerError, match="UNIQUE"):
            ledger.add_inputs([("g", "2026-11-01", "k2", "g:2026-11-01:k2", 9, b"{}", 0.0006)])
        [(attempt, tags)] = ledger.open_attempts(live_run=None)
        assert (attempt.batch, attempt.sent, attempt.server_clock) == (5, NOV_1, False)
        assert tags == ["g:2026-11-01:k2"]
    finally:
        ledger.close()


def test_a_postgres_ledger_of_version_4_is_brought_up_with_its_rows(
    pg: pg_server.Server,
) -> None:
    """A ledger made on a server by version 4 (this release's first on PostgreSQL): `status`
    upgrades it once, rows and runs stay, and a run records its deliveries in it."""
    url = pg.url()
    made = Ledger(url, pg_server.PASSWORD)
    made.add_inputs([("g", "", "k1", "g:k1", 1, b"{}", 0.0006)])
    run_id = made.start_run()
    made.close()
    database = url.rsplit("/", 1)[1]
    pg.psql(  # the schema as version 4 made it
        ROW_TALLY_BACK
        + "; ALTER TABLE runs DROP COLUMN delivered; ALTER TABLE runs DROP COLUMN polled;"
        " DROP TABLE api_lists; DROP TABLE rate_slots; ALTER TABLE runs DROP COLUMN lease_until;"
        " ALTER TABLE runs DROP COLUMN adopted_by; ALTER TABLE runs DROP COLUMN jobs;"
        " ALTER TABLE inputs DROP COLUMN fetcher; DROP TABLE bucket_folders;"
        " UPDATE meta SET value = '4' WHERE name = 'schema_version'",
        database,
    )
    reader = Ledger.reader(url, pg_server.PASSWORD)
    try:
        assert reader.counts("g")[PENDING] == 1
        last = reader.last_run()
        assert last is not None and last[6:] == (None, None)
    finally:
        reader.close()
    assert pg.psql("SELECT value FROM meta WHERE name = 'schema_version'", database) == str(VERSION)
    ledger = Ledger(url, pg_server.PASSWORD)
    ledger.note_deliveries(run_id, 7, 2)
    last = ledger.last_run()
    ledger.close()
    assert last is not None and last[6:] == (7, 2)


def test_a_version_4_ledger_of_the_last_release_opens_and_keeps_working(tmp_path: Path) -> None:
    """The schema as the last release made it (version 4: no run delivery counts, no kept API
    lists): a run of this version brings it up with its rows, runs and spend, then records
    deliveries and keeps lists in it."""
    path = tmp_path / "state.sqlite"
    made = Ledger(path)
    made.add_inputs([("g", "", "k1", "g:k1", 1, b"{}", 0.0006)])
    _, claimed = made.claim_batch("g", "", 10)
    made.mark_posted([(claimed[0].tag, "id-1", 0.0006)], "2026-11")
    run_id = made.start_run()
    made.close()
    db = sqlite3.connect(path)
    db.executescript(
        "ALTER TABLE runs DROP COLUMN delivered; ALTER TABLE runs DROP COLUMN polled;"
        " DROP TABLE api_lists; DROP TABLE rate_slots; ALTER TABLE runs DROP COLUMN lease_until;"
        " ALTER TABLE runs DROP COLUMN adopted_by; ALTER TABLE runs DROP COLUMN jobs;"
        " ALTER TABLE inputs DROP COLUMN fetcher; DROP TABLE bucket_folders;"
        " PRAGMA user_version = 4;"
    )
    db.close()
    ledger = Ledger(path)
    try:
        assert ledger._db.execute("PRAGMA user_version").fetchone() == (VERSION,)
        assert ledger.counts("g")[POSTED] == 1 and ledger.spent() == pytest.approx(0.0006)
        ledger.note_deliveries(run_id, 3, 1)
        last = ledger.last_run()
        assert last is not None and last[6:] == (3, 1)
        ledger.keep_api_list("google", "locations", b"[]")
        kept = ledger.api_list("google", "locations")
        assert kept is not None and kept[1] == b"[]"
    finally:
        ledger.close()


def test_a_version_5_ledger_of_the_last_release_gets_its_rate_schedule_on_both_engines(
    where: LedgerAt,
) -> None:
    """The schema as the last release made it (version 5: no rate_slots): opened by this
    version, it keeps its rows and spend, and a schedule of call slots can be reserved in it
    on a server."""
    made = where.open()
    made.add_inputs([("g", "", "k1", "g:k1", 1, b"{}", 0.0006)])
    _, claimed = made.claim_batch("g", "", 10)
    made.mark_posted([(claimed[0].tag, "id-1", 0.0006)], "2026-11")
    made.close()
    as_version(where, 5)
    ledger = where.open()
    try:
        assert ledger.counts("g")[POSTED] == 1 and ledger.spent() == pytest.approx(0.0006)
        assert ledger._db.execute("SELECT COUNT(*) FROM rate_slots").fetchone() == (0,)
    finally:
        ledger.close()
    if is_url(where.location):
        from orchestrator.ledger.rate_slots import SharedWindow

        window = SharedWindow(where.location, where.password)
        try:
            first, now = window.reserve("general", 0.5, 2)
            again, _ = window.reserve("general", 0.5, 1)
        finally:
            window.close()
        assert first >= now and again == pytest.approx(first + 1.0)


V7_COLUMNS = (("runs", "lease_until"), ("runs", "adopted_by"), ("inputs", "fetcher"))


ROW_TALLY_BACK = (
    "DROP TRIGGER tally_update ON inputs; DROP FUNCTION tally_changed();"
    " DROP TRIGGER tally_delete ON inputs; DROP FUNCTION tally_deleted();" + PG_ROW_TALLY
)


def as_version(where: LedgerAt, version: int) -> None:
    """Take a ledger of this version back to the schema `version` (9, 8, 7, 6 or 5) had."""
    db = Ledger(where.location, where.password)._db
    try:
        db.execute("DROP TABLE bucket_folders")  # version 10's
        if version < 9:
            db.execute("ALTER TABLE runs DROP COLUMN jobs")
        if is_url(where.location) and version < 8:
            db.execute(ROW_TALLY_BACK)
        if version < 7:
            for table, column in V7_COLUMNS:
                db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        if version < 6:
            db.execute("DROP TABLE rate_slots")
        if is_url(where.location):
            db.execute(f"UPDATE meta SET value = '{version}' WHERE name = 'schema_version'")
        else:
            db.execute(f"PRAGMA user_version = {version}")
    finally:
        db.close()


def test_a_version_6_ledger_of_the_last_release_has_its_crashed_run_taken_over(
    where: LedgerAt,
) -> None:
    """The schema as the last release made it (version 6: no leases): a run killed with a
    batch cut short and an answer asked for. This version's first run takes the dead run over
    on both engines: the batch is its to reconcile, the answer its to fetch again, and it
    writes, beside a file, in results.jsonl (the files the last release wrote)."""
    made = where.open()
    old_run = made.start_run()
    made.add_inputs([("g", "", f"k{i}", f"g:k{i}", i, b"{}", 0.0006) for i in (1, 2)])
    _, first = made.claim_batch("g", "", 1, old_run)
    made.mark_posted([(first[0].tag, "id-1", 0.0006)], "2026-11")
    made.claim_fetches(["id-1"])
    made.claim_batch("g", "", 1, old_run)  # cut short by the kill: still posting
    made.close()
    as_version(where, 6)
    ledger = where.open()
    try:
        assert ledger.counts("g")[POSTED] == 1 and ledger.spent() == pytest.approx(0.0006)
        worker = ledger.start_worker(30.0)
        assert worker.run_id > old_run
        assert ledger.adopt_dead() == [old_run]
        [(attempt, tags)] = ledger.open_attempts(live_run=worker.run_id)
        assert tags == ["g:k2"] and attempt.outcome is None
        assert ledger.fetching(worker.run_id) == [("id-1", "g", "")]
    finally:
        ledger.close()


def test_a_version_7_ledger_keeps_its_tally_and_counts_every_move_after_the_upgrade(
    where: LedgerAt,
) -> None:
    """Version 8 keeps a server's tally once a statement. A ledger of the last release (its
    tally kept row by row) mid-life, upgraded: its counts and spend are the same, and every
    post, settle and prune after it is counted as before, with nothing left over."""
    made = where.open()
    made.add_inputs([("g", "", f"k{i}", f"g:k{i}", i, b"{}", 0.0006) for i in range(300)])
    _, claimed = made.claim_batch("g", "", 200)
    made.mark_posted([(c.tag, f"id-{c.tag}", 0.0006) for c in claimed[:150]], "2026-11")
    made.settle("results.jsonl", 10, [f"id-{c.tag}" for c in claimed[:100]], [])
    before = (made.counts("g"), made.spent())
    made.close()
    as_version(where, 7)
    ledger = where.open()
    try:
        assert (ledger.counts("g"), ledger.spent()) == before
        assert before[0] == {**before[0], PENDING: 100, POSTING: 50, POSTED: 50, DONE: 100}
        ledger.mark_posted([(c.tag, f"id-{c.tag}", 0.0012) for c in claimed[150:]], "2026-11")
        ledger.settle("results.jsonl", 20, [f"id-{c.tag}" for c in claimed[100:180]], [])
        failed = [(f"id-{c.tag}", 40501, "Invalid Field") for c in claimed[180:]]
        ledger.settle("failed.jsonl", 20, [], failed)
        ledger.release([c.tag for c in claimed[:5]])  # settled already: nothing moves
        counts = ledger.counts("g")
        assert counts == {**counts, PENDING: 100, POSTING: 0, POSTED: 0, DONE: 180, FAILED: 20}
        assert ledger.spent() == pytest.approx(150 * 0.0006 + 50 * 0.0012)
    finally:
        ledger.close()


def test_a_version_8_ledger_has_its_crashed_run_taken_over_and_runs_record_their_jobs(
    where: LedgerAt,
) -> None:
    """Version 9 records the jobs of each run. A run of the last release killed with an
    answer claimed recorded none: the first run of this version, whatever its jobs, takes it
    over as before; its own jobs are recorded, so that only a run of them adopts it."""
    made = where.open()
    old_run = made.start_run()
    made.add_inputs([("g", "", "k1", "g:k1", 1, b"{}", 0.0006)])
    _, claimed = made.claim_batch("g", "", 1, old_run)
    made.mark_posted([(claimed[0].tag, "id-1", 0.0006)], "2026-11")
    made.claim_fetches(["id-1"])
    made.close()
    as_version(where, 8)
    ledger = where.open()
    try:
        worker = ledger.start_worker(30.0, ["g", "h"])
        assert ledger.adopt_dead(["g", "h"]) == [old_run]
        assert ledger.fetching(worker.run_id) == [("id-1", "g", "")]
        jobs = ledger._db.execute("SELECT jobs FROM runs WHERE id = ?", (worker.run_id,)).fetchone()
        assert jobs[0] == '["g","h"]'
    finally:
        ledger.close()


def test_a_version_9_ledger_sweeps_each_jobs_whole_prefix_once_then_only_what_runs_note(
    where: LedgerAt, s3: s3_server.S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 10 notes the partitions each run writes parts in, and a start lists only
    those. A ledger of the last release noted none: a part its killed run wrote and never
    recorded, in any partition, is found by its first start after the upgrade, which lists
    the job's whole prefix once, as every start did before; then nothing is left to list."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    store = Bucket(f"s3://{s3.bucket()}/serp", s3.endpoint)
    made = where.open()
    killed = made.start_run()
    made.add_inputs([("g", "2025-03-01", "k1", "g:k1", 1, b"{}", 0.0006)])
    assert claim(store, "g", made) == []  # the marker of the last release's first run
    orphan = part_key("g", "2025-03-01", "results", killed, 1, True)
    store.put_sync(orphan, b"x")  # killed before its record
    made.close()
    as_version(where, 9)
    ledger = where.open()
    try:
        assert ledger.bucket_folders("g") == [("*", 0)]
        assert ledger.bucket_folders("h") == []  # a job it never held has nothing of it
        ledger.start_run()
        assert claim(store, "g", ledger) == [orphan]
        assert ledger.bucket_folders("g") == []
    finally:
        ledger.close()
