"""The ledger's writes of new rows: loading a job's inputs, and rows rebuilt by `recover`.

One row per (job, period, key) is the unique index `inputs_identity` (migrations.py), so the
store refuses a second one whatever the caller. The loader still tells new inputs from known
ones itself (load_worker.py keeps the keys of the period it loads, seeded from `keys_of`), and
hands `add_chunk` only new rows.

`loads` records each load's progress in the transaction of each chunk, so that a load cut
short goes on after its last committed line, and a file read in full, unchanged, with the
job's recipe unchanged, is not read again (`source` says what was read).
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from orchestrator.errors import LedgerError
from orchestrator.ledger.reads import PENDING, STATES
from orchestrator.ledger.store import Store

InputRow = tuple[str, str, str, str, int, bytes, float]  # job, period, key, tag, line, body, cost
# job, period, key, tag, state, task id, cost, status code, error: a row rebuilt by `recover`
Restored = tuple[str, str, str, str, str, str | None, float, int | None, str | None]

_ALL_STATES: Final = "(" + ", ".join(f"'{s}'" for s in STATES) + ")"


@dataclass(frozen=True, slots=True)
class LoadRecord:
    """A load of one job's period, as far as it was committed."""

    source: str  # what was read: the file's identity and the job's recipe
    through_line: int  # every row up to this line of the file is in (or was rejected)
    done: bool  # the whole file is in
    valid: int
    rejected: int
    est_cost: float
    rejected_size: int  # bytes of rejected.jsonl that belong to the committed lines


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a chunk takes the load of `job`'s `period`: committed with the chunk's rows."""

    job: str
    period: str
    through_line: int
    valid: int  # rows of the chunk that were valid (duplicates included)
    rejected: int
    est_cost: float
    rejected_size: int


class LedgerLoads(Store):
    """New rows: inputs (through each period's key set) and rows restored by `recover`."""

    def load_record(self, job: str, period: str) -> LoadRecord | None:
        """The committed progress of the load of `job`'s `period`, if one began."""
        row = self._db.execute(
            "SELECT source, through_line, done, valid, rejected, est_cost, rejected_size"
            " FROM loads WHERE job = ? AND period = ?",
            (job, period),
        ).fetchone()
        if row is None:
            return None
        source, through, done, valid, rejected, cost, size = row
        return LoadRecord(str(source), int(through), bool(done), valid, rejected, cost, size)

    def start_load(self, job: str, period: str, source: str) -> None:
        """Begin the load of `job`'s `period` from `source` (a load of the same source that
        was cut short goes on instead, from its record)."""
        self._tx(
            "INSERT INTO loads (job, period, source) VALUES (?, ?, ?) ON CONFLICT (job, period)"
            " DO UPDATE SET source = excluded.source, through_line = 0, done = 0, valid = 0,"
            " rejected = 0, est_cost = 0, rejected_size = 0",
            [(job, period, source)],
        )

    def keys_of(self, job: str, period: str) -> Iterator[str]:
        """The input keys of `job`'s `period` in the ledger (pruned rows are gone)."""
        sql = f"SELECT key FROM inputs WHERE state IN {_ALL_STATES} AND job = ? AND period = ?"
        for (key,) in self._db.execute(sql, (job, period)):
            yield str(key)

    def keyed_bodies(self, job: str, period: str) -> Iterator[tuple[str, bytes]]:
        """(key, stored task body) of `job`'s `period` (pruned rows are gone). Rows rebuilt
        by `recover` hold the text '{}' (SQLite keeps it as text)."""
        sql = (
            f"SELECT key, body FROM inputs WHERE state IN {_ALL_STATES} AND job = ? AND period = ?"
        )
        for key, body in self._db.execute(sql, (job, period)):
            yield str(key), body if isinstance(body, bytes) else str(body).encode()

    def finish_load(self, job: str, period: str) -> None:
        """The whole file is in: the next run with the same source reads nothing."""
        self._db.load_mode(False)
        self._tx("UPDATE loads SET done = 1 WHERE job = ? AND period = ?", [(job, period)])

    def add_inputs(self, rows: Sequence[InputRow]) -> int:
        """Record new (job, period, key, tag, line, body, est_cost) rows as pending, in one
        transaction with the tally: the caller has left out the keys the ledger holds. A load
        goes through `add_chunk`; this is for rows made one by one. Returns rows added."""
        groups: dict[tuple[str, str], int] = {}
        for row in rows:
            groups[row[0], row[1]] = groups.get((row[0], row[1]), 0) + 1
        now = time.time()
        sql = (
            "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, updated_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, '{PENDING}', ?)"
        )
        with self._db.transaction():
            self._db.executemany(sql, ((*row, now) for row in rows))
            for (job, period), n in groups.items():
                self._tally_pending(job, period, n)
        return len(rows)

    def _tally_pending(self, job: str, period: str, n: int) -> None:
        """Count `n` new pending rows (in the caller's transaction): new rows are tallied
        once a chunk, not by a trigger per row."""
        self._db.execute(
            "INSERT INTO tally (job, period, state, n) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (job, period, state) DO UPDATE SET n = tally.n + excluded.n",
            (job, period, PENDING, n),
        )

    def add_chunk(self, rows: str, count: int, progress: Progress) -> None:
        """Record a chunk of new rows of a load as pending: `rows` is a JSON array of `count`
        [key, tag, line, body text, cost] (load_worker.py), inserted as the engine does it
        best; one transaction with the tally and the load's progress."""
        job, period = progress.job, progress.period
        self._db.load_mode(True)
        with self._db.transaction():
            added = self._db.add_input_chunk(job, period, rows, time.time())
            if added != count:
                raise LedgerError(f"{self.path}: a chunk of {count} rows inserted {added}")
            self._tally_pending(job, period, count)
            self._note_progress(progress)

    def _note_progress(self, progress: Progress) -> None:
        self._db.execute(
            "UPDATE loads SET through_line = ?, valid = valid + ?, rejected = rejected + ?,"
            " est_cost = est_cost + ?, rejected_size = ? WHERE job = ? AND period = ?",
            (
                progress.through_line,
                progress.valid,
                progress.rejected,
                progress.est_cost,
                progress.rejected_size,
                progress.job,
                progress.period,
            ),
        )

    def restore(self, rows: Sequence[Restored]) -> int:
        """Rows rebuilt from outputs and id_list (`recover`), in their settled or posted state;
        rows already known stay as they are. One transaction, the tally included. A posted row
        is marked as being fetched: its result may have been taken off tasks_ready already (a
        torn last line, a crash after task_get), so the next run asks for it by id at once."""
        now = time.time()
        sql = (
            "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state,"
            " task_id, cost, status_code, error, posted_at, updated_at, fetch_at)"
            " VALUES (?, ?, ?, ?, 0, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        added = 0
        known: dict[tuple[str, str], set[str]] = {}
        with self._db.transaction():
            for row in rows:
                job, period, key, tag, state, task_id, cost, code, error = row
                keys = known.get((job, period))
                if keys is None:
                    keys = known[job, period] = set(self.keys_of(job, period))
                if key in keys:
                    continue
                keys.add(key)
                values = (job, period, key, tag, cost, state, task_id, cost, code, error)
                fetch = now if state == "posted" else None
                self._db.execute(sql, (*values, now, now, fetch))
                added += 1
                self._db.execute(
                    "INSERT INTO tally (job, period, state, n, cost) VALUES (?, ?, ?, 1, ?)"
                    " ON CONFLICT (job, period, state)"
                    " DO UPDATE SET n = tally.n + 1, cost = tally.cost + excluded.cost",
                    (job, period, state, cost),
                )
        return added
