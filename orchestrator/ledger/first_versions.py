"""The ledger's first versions: the schema every new file ledger is first made with (version
1's), and the steps that bring a ledger file of version 0 to 3 up to version 4, the last
before a ledger could live on a server (migrations.py runs them, then the later steps).
"""

import sqlite3
from typing import Final

# Version 1's table, as version 1 made it: later versions change it by steps.
INPUTS: Final = """
CREATE TABLE inputs (
    job TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    tag TEXT NOT NULL UNIQUE,
    line INTEGER NOT NULL,
    body BLOB NOT NULL,
    est_cost REAL NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'posting', 'posted', 'done', 'failed', 'missed')),
    batch_id INTEGER,
    task_id TEXT UNIQUE,
    cost REAL,
    status_code INTEGER,
    error TEXT,
    posted_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (job, period, key)
);
"""

DERIVED: Final = """
CREATE INDEX IF NOT EXISTS inputs_by_state ON inputs (state, job, period, line);
CREATE TABLE IF NOT EXISTS tally (
    job TEXT NOT NULL,
    period TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    pruned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, period, state)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS months (
    month TEXT PRIMARY KEY,
    cost REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS tally_insert AFTER INSERT ON inputs BEGIN
    INSERT INTO tally (job, period, state, n, cost)
        VALUES (NEW.job, NEW.period, NEW.state, 1, COALESCE(NEW.cost, 0))
        ON CONFLICT (job, period, state) DO UPDATE SET n = n + 1, cost = cost + excluded.cost;
END;
CREATE TRIGGER IF NOT EXISTS tally_update AFTER UPDATE OF state, cost ON inputs
WHEN OLD.state IS NOT NEW.state OR OLD.cost IS NOT NEW.cost BEGIN
    UPDATE tally SET n = n - 1, cost = cost - COALESCE(OLD.cost, 0)
        WHERE job = OLD.job AND period = OLD.period AND state = OLD.state;
    INSERT INTO tally (job, period, state, n, cost)
        VALUES (NEW.job, NEW.period, NEW.state, 1, COALESCE(NEW.cost, 0))
        ON CONFLICT (job, period, state) DO UPDATE SET n = n + 1, cost = cost + excluded.cost;
END;
-- Pruning removes a row but not what it cost: spend stays true for the budget and history.
CREATE TRIGGER IF NOT EXISTS tally_delete AFTER DELETE ON inputs BEGIN
    UPDATE tally SET n = n - 1, pruned = pruned + 1
        WHERE job = OLD.job AND period = OLD.period AND state = OLD.state;
END;
"""

OTHERS: Final = """
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

# Columns version 0 and version 1 share, in the order both tables declare them.
_V0_COLUMNS: Final = (
    "job, key, tag, line, body, est_cost, state, batch_id, task_id, cost, status_code, error, "
    "posted_at, updated_at"
)


def v0_to_v1(db: sqlite3.Connection) -> None:
    """Periods: every existing row is a one-shot input (period ''), as it was."""
    db.execute("ALTER TABLE inputs RENAME TO inputs_v0")
    db.execute(INPUTS)
    db.execute(
        f"INSERT INTO inputs (period, {_V0_COLUMNS}) SELECT '', {_V0_COLUMNS} FROM inputs_v0"
    )
    db.execute("DROP TABLE inputs_v0")  # and its index inputs_state
    for statement in statements(DERIVED):
        db.execute(statement)
    db.execute(
        "INSERT INTO tally (job, period, state, n, cost)"
        " SELECT job, period, state, COUNT(*), COALESCE(SUM(cost), 0) FROM inputs"
        " GROUP BY job, period, state"
    )
    # Version 0 did not know the config's time zone: earlier spend is filed by UTC month.
    db.execute(
        "INSERT INTO months (month, cost)"
        " SELECT strftime('%Y-%m', posted_at, 'unixepoch'), SUM(cost) FROM inputs"
        " WHERE task_id IS NOT NULL AND posted_at IS NOT NULL GROUP BY 1"
    )


# Version 2's table: no index on `tag` (a row is found by its primary key, which the tag
# spells), task ids unique among the rows that have one, and `fetch_at`.
INPUTS_V2: Final = """
CREATE TABLE inputs (
    job TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    tag TEXT NOT NULL,
    line INTEGER NOT NULL,
    body BLOB NOT NULL,
    est_cost REAL NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'posting', 'posted', 'done', 'failed', 'missed')),
    batch_id INTEGER,
    task_id TEXT,
    cost REAL,
    status_code INTEGER,
    error TEXT,
    posted_at REAL,
    updated_at REAL NOT NULL,
    fetch_at REAL,
    PRIMARY KEY (job, period, key)
);
"""

# The tally of new rows is kept by `Ledger.add_chunk` (and `add_inputs`), once per chunk: a
# trigger per row was a fifth of the cost of loading inputs.
DERIVED_V2: Final = """
CREATE INDEX inputs_by_state ON inputs (state, job, period, line);
CREATE UNIQUE INDEX inputs_by_task ON inputs (task_id) WHERE task_id IS NOT NULL;
CREATE TRIGGER tally_update AFTER UPDATE OF state, cost ON inputs
WHEN OLD.state IS NOT NEW.state OR OLD.cost IS NOT NEW.cost BEGIN
    UPDATE tally SET n = n - 1, cost = cost - COALESCE(OLD.cost, 0)
        WHERE job = OLD.job AND period = OLD.period AND state = OLD.state;
    INSERT INTO tally (job, period, state, n, cost)
        VALUES (NEW.job, NEW.period, NEW.state, 1, COALESCE(NEW.cost, 0))
        ON CONFLICT (job, period, state) DO UPDATE SET n = n + 1, cost = cost + excluded.cost;
END;
CREATE TRIGGER tally_delete AFTER DELETE ON inputs BEGIN
    UPDATE tally SET n = n - 1, pruned = pruned + 1
        WHERE job = OLD.job AND period = OLD.period AND state = OLD.state;
END;
"""


def v1_to_v2(db: sqlite3.Connection) -> None:
    """Loading speed and the ledger's identity. The inputs table is rebuilt without the
    indexes that made each insert two random B-tree writes (tag, and every NULL task id), and
    with `fetch_at`: set before a task_get goes out, so a task whose answer a crash lost is
    fetched by id at the next start. `meta` holds the ledger's id (in every tag it posts, and
    in the marker of the folders it writes); batches claimed before this version posted bare
    tags, and reconciliation still knows them by that."""
    db.execute("ALTER TABLE inputs RENAME TO inputs_v1")
    db.execute(INPUTS_V2)
    db.execute(
        f"INSERT INTO inputs (period, {_V0_COLUMNS}) SELECT period, {_V0_COLUMNS} FROM inputs_v1"
    )
    db.execute("DROP TABLE inputs_v1")  # with its indexes and triggers
    for statement in statements(DERIVED_V2):
        db.execute(statement)
    db.execute("ALTER TABLE runs ADD COLUMN waiting TEXT")  # what a live run waits on, for status
    db.execute("ALTER TABLE runs ADD COLUMN waiting_until REAL")
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    legacy = db.execute("SELECT COALESCE(MAX(id), 0) FROM batches").fetchone()[0]
    db.executemany(
        "INSERT INTO meta (name, value) VALUES (?, ?)",
        [("ledger_id", new_ledger_id()), ("first_tagged_batch", str(int(legacy) + 1))],
    )


def new_ledger_id() -> str:
    """48 random bits: what tells this ledger's tasks and folders from any other's."""
    import secrets  # once in a ledger's life: not on every command's start

    return secrets.token_hex(6)


# Version 3's table: rows are found by id, the key is not indexed (see the module's docstring).
# The state's CHECK is a chain of `=`: SQLite evaluated `IN (...)` at a fifth of an insert's cost.
INPUTS_V3: Final = """
CREATE TABLE inputs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    tag TEXT NOT NULL,
    line INTEGER NOT NULL,
    body BLOB NOT NULL,
    est_cost REAL NOT NULL,
    state TEXT NOT NULL CHECK (
        state = 'pending' OR state = 'posting' OR state = 'posted'
        OR state = 'done' OR state = 'failed' OR state = 'missed'
    ),
    batch_id INTEGER,
    task_id TEXT,
    cost REAL,
    status_code INTEGER,
    error TEXT,
    posted_at REAL,
    updated_at REAL NOT NULL,
    fetch_at REAL
);
"""

# A load's progress, committed with each chunk of its rows: a load cut short by a crash goes
# on after its last committed line, and a file read in full is not read again while it and
# the job's recipe (`source`) are unchanged.
LOADS: Final = """
CREATE TABLE loads (
    job TEXT NOT NULL,
    period TEXT NOT NULL,
    source TEXT NOT NULL,
    through_line INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    valid INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    est_cost REAL NOT NULL DEFAULT 0,
    rejected_size INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, period)
) WITHOUT ROWID;
"""

_V2_COLUMNS: Final = f"period, {_V0_COLUMNS}, fetch_at"


def v2_to_v3(db: sqlite3.Connection) -> None:
    """Loading speed: the inputs table is rebuilt without its (job, period, key) primary key,
    with an id, and with an index of the posting rows' tags. Rows keep their order."""
    db.execute("ALTER TABLE inputs RENAME TO inputs_v2")
    db.execute(INPUTS_V3)
    db.execute(
        f"INSERT INTO inputs ({_V2_COLUMNS}) SELECT {_V2_COLUMNS} FROM inputs_v2 ORDER BY rowid"
    )
    db.execute("DROP TABLE inputs_v2")  # with its indexes and triggers
    for statement in statements(DERIVED_V2 + DERIVED_V3):
        db.execute(statement)
    db.execute(LOADS)


DERIVED_V3: Final = """
CREATE INDEX inputs_posting ON inputs (tag) WHERE state = 'posting';
"""

# Each POST attempt, as recorded: times in the server's clock when `server_clock` is 1, else
# in the local clock of the process that recorded them (batches of version 3, whose claim time
# stands for their send). `outcome` is NULL while the attempt is in flight, or if its process
# was killed; `run_id` tells which.
ATTEMPT_COLUMNS: Final = (
    "run_id INTEGER",
    "sent_at REAL",
    "server_clock INTEGER NOT NULL DEFAULT 0",
    "ended_at REAL",
    "outcome TEXT CHECK (outcome IN ('answered', 'ambiguous', 'short'))",
    "error TEXT",
    "absent_checks INTEGER NOT NULL DEFAULT 0",
    "absent_at REAL",
)


def v3_to_v4(db: sqlite3.Connection) -> None:
    """Identity and recorded attempts. Rows that version 3 stored twice under one (job,
    period, key) (two loads at once in a `--follow` run) are kept, the later ones under the key
    `<key>~<row id>`, so nothing paid for is forgotten while the constraint holds. A batch
    claimed by version 3 had no send record: its claim time stands for it, in the local clock."""
    twins = db.execute(
        "UPDATE inputs SET key = key || '~' || id WHERE id IN (SELECT id FROM (SELECT id,"
        " ROW_NUMBER() OVER (PARTITION BY job, period, key ORDER BY id) AS n FROM inputs)"
        " WHERE n > 1)"
    ).rowcount
    if twins:
        db.execute("INSERT INTO meta (name, value) VALUES ('v4_renamed_twins', ?)", (str(twins),))
    for statement in statements(DERIVED_V4):
        db.execute(statement)
    for column in ATTEMPT_COLUMNS:
        db.execute(f"ALTER TABLE batches ADD COLUMN {column}")
    db.execute("UPDATE batches SET sent_at = created_at")
    db.execute(JOB_HOMES)


# Which config each job of the ledger belongs to and where it writes, both relative to the
# ledger's folder (a moved project keeps them): a second config on the same ledger with a job
# of the same name, writing elsewhere, is refused instead of posting the first one's rows.
JOB_HOMES: Final = """
CREATE TABLE job_homes (
    job TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    output TEXT NOT NULL
) WITHOUT ROWID
"""


DERIVED_V4: Final = """
CREATE UNIQUE INDEX inputs_identity ON inputs (job, period, key);
"""


def statements(script: str) -> list[str]:
    """Split a script of statements (triggers hold `;` inside BEGIN ... END)."""
    out, buffer = [], ""
    for line in script.strip().splitlines():
        if line.startswith("--"):
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    return out
