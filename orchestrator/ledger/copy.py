"""Moving a SQLite ledger to a PostgreSQL server with its history (`orchestrator ledger copy`).

Every table is copied as it is, row ids included, in one transaction of the target: inputs in
every state, the record of each POST attempt, runs, loads, spend by month, output files' sizes
and the ledger's identity (the id in every tag it posted and in its folders' markers). So the
copy carries on the file's work: nothing is posted again, every posted task is collected.

Both ledgers are opened for a run while this goes on (each engine's lock), so no run changes
either. Once the copy is committed and checked, the file is marked as moved and refused from
then on; a copy cut short leaves the target as it was, and can be run again.
"""

import os
from dataclasses import dataclass
from typing import Final

from orchestrator.errors import LedgerError
from orchestrator.ledger.store import Engine

# Parents before children is not needed (no foreign keys); the order is the order of a report.
TABLES: Final = (
    "meta",
    "inputs",
    "batches",
    "runs",
    "tally",
    "months",
    "files",
    "loads",
    "bucket_folders",
)
HOMES: Final = "job_homes"
# Meta rows each engine keeps for itself: the schema's version, and a file's forwarding note.
OWN_META: Final = ("schema_version", "moved_to")
COPIED_META_NAMES: Final = ("ledger_id", "first_tagged_batch")


@dataclass(frozen=True, slots=True)
class Copied:
    """What a copy moved: rows per table, and the spend both ledgers agree on."""

    rows: dict[str, int]
    spent: float
    already: bool  # the target held this very copy already (a copy cut before its last step)


def columns_of(db: Engine, table: str) -> list[str]:
    """The table's columns, by asking for none of its rows."""
    cursor = db.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    description = getattr(cursor, "description", None) or []
    return [str(column[0]) for column in description]


def _count(db: Engine, table: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _meta(db: Engine) -> dict[str, str]:
    return {str(n): str(v) for n, v in db.execute("SELECT name, value FROM meta").fetchall()}


def _spent(db: Engine) -> float:
    return round(float(db.execute("SELECT COALESCE(SUM(cost), 0) FROM tally").fetchone()[0]), 9)


def holds_work(db: Engine) -> bool:
    """A ledger with inputs, runs or attempts: not an empty target."""
    return any(_count(db, table) for table in ("inputs", "runs", "batches"))


def same_copy(source: Engine, target: Engine) -> bool:
    """The target is a finished copy of the source: same identity, same rows."""
    if _meta(source).get("ledger_id") != _meta(target).get("ledger_id"):
        return False
    return all(_count(source, t) == _count(target, t) for t in TABLES if t != "meta")


def copy_ledger(source: Engine, target: Engine, source_home: str, config_home: str) -> Copied:
    """Copy every row of `source` into the empty `target` and check the result. The jobs'
    homes (config and output, relative to the ledger's folder in a file) are made relative
    to `config_home`, the folder a ledger on a server counts them from."""
    if holds_work(target):
        if same_copy(source, target):
            return Copied({t: _count(target, t) for t in TABLES}, _spent(target), already=True)
        raise LedgerError(
            f"{target.name}: holds another ledger's work; copy into an empty database"
        )
    copied: dict[str, int] = {}
    with target.transaction():
        for table in TABLES:
            copied[table] = _copy_table(source, target, table)
        copied[HOMES] = _copy_homes(source, target, source_home, config_home)
        target.restart_identities()
        _check(source, target, copied)
    return Copied(copied, _spent(target), already=False)


def _copy_table(source: Engine, target: Engine, table: str) -> int:
    names = columns_of(source, table)
    if sorted(names) != sorted(columns_of(target, table)):
        raise LedgerError(
            f"{target.name}: table {table} has columns {columns_of(target, table)}, the file's"
            f" has {names}: both must be of this orchestrator's schema"
        )
    rows = source.execute(f"SELECT {', '.join(names)} FROM {table}")
    if table == "meta":
        target.execute(f"DELETE FROM meta WHERE name IN {_names(COPIED_META_NAMES)}")
        kept = [row for row in rows if row[0] not in OWN_META]
        return target.copy_in(table, names, kept)
    if table == "inputs":
        at = names.index("body")
        return target.copy_in(table, names, (_bytes_body(row, at) for row in rows))
    return target.copy_in(table, names, rows)


def _names(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _bytes_body(row: tuple[object, ...], at: int) -> tuple[object, ...]:
    """A body as bytes: rows rebuilt by `recover` hold the text '{}'."""
    body = row[at]
    if isinstance(body, bytes):
        return row
    return (*row[:at], str(body).encode(), *row[at + 1 :])


def _copy_homes(source: Engine, target: Engine, source_home: str, config_home: str) -> int:
    rows = []
    for job, config, output in source.execute(f"SELECT job, config, output FROM {HOMES}"):
        moved = [
            os.path.relpath(os.path.join(source_home, p), config_home) for p in (config, output)
        ]
        rows.append((job, *moved))
    return target.copy_in(HOMES, ["job", "config", "output"], rows)


def _check(source: Engine, target: Engine, copied: dict[str, int]) -> None:
    """Row counts, spend and identity agree, or nothing is committed."""
    for table, n in copied.items():
        if table != "meta" and _count(target, table) != n:
            raise LedgerError(
                f"{target.name}: {table}: {n} rows copied, {_count(target, table)} found"
            )
    if _count(source, "inputs") != copied["inputs"]:
        raise LedgerError(f"{target.name}: inputs: the file's count changed during the copy")
    if _spent(source) != _spent(target):
        raise LedgerError(f"{target.name}: spend {_spent(target)} differs from {_spent(source)}")
    if _meta(source)["ledger_id"] != _meta(target)["ledger_id"]:
        raise LedgerError(f"{target.name}: the ledger's identity was not copied")
