"""The account's rate window kept on the ledger's server, for every process of the ledger: a
schedule of call slots, `spacing` seconds apart per kind, that each process reserves from in
one short transaction (its own connection, so that the run's ledger calls never wait on it).

Why a schedule and not a count: slots of one kind are at least `spacing` apart in the server's
clock, whoever reserved them, so any window of W seconds holds at most W / spacing + 1 of
them, and `spacing` is chosen (wire/limiter.py) so that this is within the limit. A process
uses a slot at its time or drops it, never later than its tolerance; it keeps no count of its
own, so a new process, a restart or a second host is bound by the same schedule from its first
call, with no file on a local disk to lose.
"""

from typing import Any, Final

import psycopg

from orchestrator.errors import MachineError

GENERAL, READY = "general", "ready"
_HINT: Final = "check that the ledger's server is up, then run again"


class SharedWindow:
    """Reservations of call slots on the ledger's server (the ledger must exist: the run
    opened it first, which made its schema)."""

    def __init__(self, url: str, password: str | None) -> None:
        self.name = url
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                url, password=password, autocommit=True
            )
            self._conn.execute(
                "INSERT INTO rate_slots (kind, next_at) VALUES (%s, 0), (%s, 0)"
                " ON CONFLICT (kind) DO NOTHING",
                (GENERAL, READY),
            )
        except psycopg.Error as exc:
            raise MachineError(url, _first_line(exc), _HINT) from None

    def reserve(self, kind: str, spacing: float, count: int) -> tuple[float, float]:
        """Reserve `count` slots of `kind`, `spacing` seconds apart, the first at the later of
        its next free slot and the server's now. Returns (the first slot, the server's now),
        in epoch seconds. One statement: one round trip, the row locked only while it runs."""
        span = count * spacing
        try:
            row = self._conn.execute(
                "WITH c AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)"
                " UPDATE rate_slots SET next_at = greatest(next_at, c.now) + %s FROM c"
                " WHERE kind = %s RETURNING next_at, c.now",
                (span, kind),
            ).fetchone()
        except psycopg.Error as exc:
            raise MachineError(self.name, _first_line(exc), _HINT) from None
        if row is None:  # the run made both rows when it opened the window
            raise MachineError(self.name, f"no rate_slots row of kind {kind!r}", _HINT)
        return float(row[0]) - span, float(row[1])

    def reserve_when_due(
        self, spacings: dict[str, float], rare: str, within_s: float
    ) -> tuple[float, float, bool]:
        """One slot of every kind in `spacings` (kind -> seconds apart) at the same time, the
        latest of the kinds' next free slots and the server's now, but only once the `rare`
        kind's next free slot is due: within `within_s` of the server's now and of the other
        kinds' next ones. Reserved earlier, a slot of the rare kind (tasks_ready's, a few a
        minute) would move the busy kind's schedule (every call's) on to its own time, and
        the busy kind's slots in between would be lost to every process. Returns (the slot,
        or when the rare kind is due; the server's now; whether it was reserved). One
        transaction; the rows are locked in a fixed order."""
        kinds = sorted(spacings)
        try:
            with self._conn.transaction():
                rows = self._conn.execute(
                    "SELECT kind, next_at, extract(epoch FROM clock_timestamp())::float8"
                    " FROM rate_slots WHERE kind = ANY(%s) ORDER BY kind FOR UPDATE",
                    (kinds,),
                ).fetchall()
                now = float(rows[0][2])
                next_ats = {kind: float(next_at) for kind, next_at, _ in rows}
                others = [at for kind, at in next_ats.items() if kind != rare]
                if next_ats[rare] > max(now, *others) + within_s:
                    return next_ats[rare], now, False
                first = max(now, *next_ats.values())
                self._conn.cursor().executemany(
                    "UPDATE rate_slots SET next_at = %s WHERE kind = %s",
                    [(first + spacings[kind], kind) for kind in kinds],
                )
        except psycopg.Error as exc:
            raise MachineError(self.name, _first_line(exc), _HINT) from None
        return first, now, True

    def close(self) -> None:
        self._conn.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
