"""The ledger's schema, and the steps that bring a ledger made by an earlier version up to it.

`PRAGMA user_version` holds the schema version. Version 0 is the first release (no periods),
version 1 added periods, version 2 the ledger's identity and write-ahead fetches, version 3
loads a million inputs without a random-key index (`loads`, and rows found by id), version 4
makes one row per (job, period, key) a constraint again and records each POST attempt (when it
went on the wire, in the server's clock, how it ended, what id_list said since), version 5 counts
each run's postback deliveries and the tasks it collected by polling instead. A new ledger
is made as version 1 and brought up by the same steps an old one takes; all of it runs in one
transaction, so a crash mid-migration leaves the old ledger intact. Version 1's schema and the
steps up to version 4 are in first_versions.py; the later ones, which a ledger on a server
shares (postgres_schema.py), are here.

Why the schema looks as it does (a ledger of a daily 100k-keyword job grows to 36M rows a year):
- `tally` keeps counts and spend per (job, period, state), in the same transaction as every
  change (triggers, and `add_chunk` or `add_inputs` for new rows), so status, progress and
  budgets never scan `inputs`.
- `inputs_by_state` leads with the state, so the run's queries for rows still in flight
  (pending, posting, posted) seek straight to them, however many settled rows there are. (A
  partial index of open rows would be smaller, but SQLite uses one only when a query repeats
  its WHERE clause exactly: `state = 'posting'` does not count.)
- One row per (job, period, key) is the unique index `inputs_identity` (version 4; version 3
  had dropped it for speed, and a race of two loads then stored a period twice). Its random
  keys dirty most of its leaf pages in every commit, so a load commits 50k rows at a time,
  sorted by key (load_worker.py), which keeps loading above 50k rows/s. The loader still tells
  new inputs from loaded ones by its own key set, and a posting row is found by its tag in
  `inputs_posting`, an index of the few rows in flight.
- `batches` is the record of each POST attempt (version 4): what `repost.py` decides from.
"""

import sqlite3
from collections.abc import Callable
from typing import Final

from orchestrator.errors import NewerLedger
from orchestrator.ledger.first_versions import (
    DERIVED,
    INPUTS,
    OTHERS,
    statements,
    v0_to_v1,
    v1_to_v2,
    v2_to_v3,
    v3_to_v4,
)

VERSION: Final = 10
OPEN_STATES_SQL: Final = "('pending', 'posting', 'posted')"

# Version 5: a run's postback deliveries and what it collected by polling instead (NULL for a
# run without postbacks), so that `status` shows whether deliveries reach the receiver. The same
# statements bring a PostgreSQL ledger of version 4 up (postgres_engine.py).
V5_STATEMENTS: Final = (
    "ALTER TABLE runs ADD COLUMN delivered INTEGER",
    "ALTER TABLE runs ADD COLUMN polled INTEGER",
)


# The API's free lists (a search engine's locations and languages), kept so that `validate
# --check-locations` asks for each once a week, not on every check.
API_LISTS: Final = """
CREATE TABLE api_lists (
    se TEXT NOT NULL,
    kind TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (se, kind)
)
"""


def _v4_to_v5(db: sqlite3.Connection) -> None:
    for statement in V5_STATEMENTS:
        db.execute(statement)
    db.execute(API_LISTS)


# Version 6: the account's rate window as a schedule of call slots every process of a ledger
# on a server reserves from (ledger/rate_slots.py): the next free slot per kind ('general',
# 'ready'), in epoch seconds of the server's clock. A file ledger has one run at a time, whose
# window is kept in its call log (wire/limiter.py); the table is made there too, and unused,
# so both engines have one schema.
RATE_SLOTS: Final = "CREATE TABLE rate_slots (kind TEXT PRIMARY KEY, next_at {real} NOT NULL)"


def _v5_to_v6(db: sqlite3.Connection) -> None:
    db.execute(RATE_SLOTS.format(real="REAL"))


# Version 7: several runs of one ledger on a server at once (ledger/workers.py). A run holds a
# lease it renews (`lease_until`, the database's clock); a run found dead is adopted by one live
# run (`adopted_by`), which settles its open attempts and fetches. `fetcher` is the run that
# claimed a posted task's answer: only it writes that answer. A file ledger has one run at a
# time and fills the columns the same way.
V7_STATEMENTS: Final = (
    "ALTER TABLE runs ADD COLUMN lease_until {real}",
    "ALTER TABLE runs ADD COLUMN adopted_by {int}",
    "ALTER TABLE inputs ADD COLUMN fetcher {int}",
)


def _v6_to_v7(db: sqlite3.Connection) -> None:
    for statement in V7_STATEMENTS:
        db.execute(statement.format(real="REAL", int="INTEGER"))


def _v7_to_v8(db: sqlite3.Connection) -> None:
    """Version 8 keeps a server's tally once a statement (postgres_schema.py); SQLite has
    triggers of a row only, and a file's tally stays as it is."""


# Version 9: the jobs a run works on (a JSON list), so that a dead run is adopted by a run of
# its own config, the one that can fetch its answers and cut its files (ledger/workers.py).
# Runs of earlier versions have none recorded, and any run may adopt them, as before.
V9_STATEMENTS: Final = ("ALTER TABLE runs ADD COLUMN jobs TEXT",)


def _v8_to_v9(db: sqlite3.Connection) -> None:
    for statement in V9_STATEMENTS:
        db.execute(statement)


# Version 10: the partitions of a bucket each run wrote parts in, noted before its first part
# there, so that a start lists only those of runs no longer live (ledger/bucket_folders.py),
# not the job's whole history. Each job of an earlier ledger gets a row asking for one listing
# of its whole prefix ('*', run 0), as every start made before.
BUCKET_FOLDERS: Final = (
    "CREATE TABLE bucket_folders (job TEXT NOT NULL, period TEXT NOT NULL, run_id {int} NOT NULL,"
    " PRIMARY KEY (job, period, run_id))"
)
V10_LEGACY: Final = (
    "INSERT INTO bucket_folders (job, period, run_id) SELECT DISTINCT job, '*', 0 FROM tally"
)


def _v9_to_v10(db: sqlite3.Connection) -> None:
    db.execute(BUCKET_FOLDERS.format(int="INTEGER"))
    db.execute(V10_LEGACY)


STEPS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {
    1: v0_to_v1,
    2: v1_to_v2,
    3: v2_to_v3,
    4: v3_to_v4,
    5: _v4_to_v5,
    6: _v5_to_v6,
    7: _v6_to_v7,
    8: _v7_to_v8,
    9: _v8_to_v9,
    10: _v9_to_v10,
}


def version(db: sqlite3.Connection) -> int:
    """The schema version of an open ledger; -1 for an empty file."""
    has_inputs = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inputs'"
    ).fetchone()
    return int(db.execute("PRAGMA user_version").fetchone()[0]) if has_inputs else -1


def refuse_newer(found: int) -> None:
    """A ledger of a newer schema is never read or written: this version would misread it."""
    if found > VERSION:
        raise NewerLedger(
            f"ledger schema version {found} is newer than this orchestrator's ({VERSION}):"
            " upgrade the orchestrator"
        )


def migrate(db: sqlite3.Connection) -> tuple[int, int]:
    """Create or upgrade the schema; returns (version found, version now). -1: a new file."""
    found = version(db)
    refuse_newer(found)
    db.execute("BEGIN IMMEDIATE")
    try:
        found = version(db)  # again, under the write lock
        if found == -1:
            for statement in statements(INPUTS + DERIVED):
                db.execute(statement)
        for statement in statements(OTHERS):
            db.execute(statement)
        start = 1 if found == -1 else found  # a new ledger is made as version 1
        for step in range(start + 1, VERSION + 1):
            STEPS[step](db)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found, VERSION
