"""The ledger's record of runs (for `status`: when each began and ended, what it waits on)
and of which config each job belongs to."""

import logging
import os
import time

from orchestrator.ledger.store import Store

log = logging.getLogger(__name__)


class LedgerRuns(Store):
    """Runs and the jobs' homes; each write is one short transaction."""

    def end_run(self, run_id: int, exit_code: int, reason: str) -> None:
        self._tx(
            "UPDATE runs SET ended_at = ?, exit_code = ?, reason = ?, waiting = NULL WHERE id = ?",
            [(time.time(), exit_code, reason, run_id)],
        )

    def note_waiting(self, run_id: int, what: str | None, until: float | None) -> None:
        """What a run is waiting on now (None: nothing), for `status` to tell."""
        self._tx(
            "UPDATE runs SET waiting = ?, waiting_until = ? WHERE id = ?", [(what, until, run_id)]
        )

    def note_deliveries(self, run_id: int, delivered: int, polled: int) -> None:
        """A run with postbacks: tasks its receiver settled, and tasks it collected by polling
        instead (deliveries that did not reach it), for `status` to tell."""
        self._tx(
            "UPDATE runs SET delivered = ?, polled = ? WHERE id = ?", [(delivered, polled, run_id)]
        )

    def api_list(self, se: str, kind: str) -> tuple[float, bytes] | None:
        """(when fetched, body) of a search engine's free list kept from an earlier check."""
        row = self._db.execute(
            "SELECT fetched_at, body FROM api_lists WHERE se = ? AND kind = ?", (se, kind)
        ).fetchone()
        return None if row is None else (float(row[0]), bytes(row[1]))

    def keep_api_list(self, se: str, kind: str, body: bytes) -> None:
        self._tx(
            "INSERT INTO api_lists (se, kind, fetched_at, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (se, kind) DO UPDATE SET fetched_at = excluded.fetched_at,"
            " body = excluded.body",
            [(se, kind, time.time(), body)],
        )

    def claim_home(self, job: str, config_file: str, output_dir: str) -> str | None:
        """Record which config `job` belongs to and where it writes. Returns the other config
        when another config file with this job name writes elsewhere; the same config with
        a new [output] dir (or a renamed config with the same one) is recorded anew."""
        # Relative to the ledger's folder, or for a ledger on a server to the config's own
        here = self._db.home or os.path.dirname(os.path.abspath(config_file))
        config = os.path.relpath(config_file, here)
        output = output_dir if "://" in output_dir else os.path.relpath(output_dir, here)
        with self._db.transaction():
            row = self._db.execute(
                "SELECT config, output FROM job_homes WHERE job = ?", (job,)
            ).fetchone()
            if row is not None and row[0] != config and row[1] != output:
                return str(row[0])
            if row is not None and row[1] != output:
                log.warning("job_output_moved job=%s from=%s to=%s", job, row[1], output)
            self._db.execute(
                "INSERT INTO job_homes (job, config, output) VALUES (?, ?, ?) ON CONFLICT (job)"
                " DO UPDATE SET config = excluded.config, output = excluded.output",
                (job, config, output),
            )
        return None

    def hold_window_until(self, at: float) -> None:
        """No call slot of the server's schedule before `at` (epoch seconds): the calls of a
        ledger file moved here are still in the account's window until then."""
        self._tx(
            "INSERT INTO rate_slots (kind, next_at) VALUES (?, ?) ON CONFLICT (kind)"
            " DO UPDATE SET next_at = CASE WHEN excluded.next_at > rate_slots.next_at"
            " THEN excluded.next_at ELSE rate_slots.next_at END",
            [("general", at), ("ready", at)],
        )
