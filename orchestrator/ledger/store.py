"""What every part of the ledger stands on: its one connection, its path for messages, and one
transaction of many rows."""

import sqlite3
from collections.abc import Iterable, Sequence

from orchestrator.errors import LedgerError


class Store:
    """The connection the Ledger opens, shared by its parts (reads, loads, attempts, runs)."""

    _db: sqlite3.Connection
    path: str

    def _tx(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run `sql` for each row in one transaction; returns rows changed."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                cursor = self._db.executemany(sql, rows)
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc
