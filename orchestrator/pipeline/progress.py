"""What a run tells the person (or the log) watching it: a live per-job display on a terminal,
cut to its width, a compact line every N seconds otherwise (cron), and one summary line at the
end; as text or as JSON lines for log shippers, each with its UTC time. Numbers come from the
ledger, so they are the ones `status` would show; `spent` is what this run spent, the ledger's
total beside it. Only counts, costs and rates are printed: never a credential.
"""

import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal, TextIO

import anyio

from orchestrator.pipeline.deliveries import deliveries

Mode = Literal["live", "log", "off"]
Format = Literal["text", "json"]
LIVE_REFRESH_S: Final = 1.0


@dataclass
class JobProgress:
    """One job's inputs: `posted` counts every task the API has seen (done and failed too)."""

    total: int
    posted: int
    collected: int
    failed: int
    rejected: int
    missed: int = 0  # inputs of a period that ended before they were posted
    period: str = ""  # the period this run posts ('' for a one-shot job)

    @property
    def outstanding(self) -> int:
        return self.total - self.collected - self.failed - self.missed

    def label(self, name: str) -> str:
        return f"{name} [{self.period}]" if self.period else name


@dataclass
class Snapshot:
    jobs: dict[str, JobProgress]
    spent_usd: float  # by this run
    calls: int  # HTTP calls made by this run so far
    spent_total_usd: float | None = None  # the ledger's, every run
    at: float = field(default_factory=time.monotonic)
    waiting_for: str | None = None  # what the run is waiting on, when it waits
    waiting_until: float | None = None  # epoch seconds
    delivered: int | None = None  # with postbacks: tasks settled from deliveries
    polled: int | None = None  # with postbacks: tasks collected by polling instead

    def waiting(self) -> str | None:
        """`waiting for X (in 5h12m)`, or None when the run is not waiting."""
        if self.waiting_for is None:
            return None
        text = f"waiting for {self.waiting_for}"
        if self.waiting_until is not None:
            text += f" (in {duration(max(0.0, self.waiting_until - time.time()))})"
        return text

    @property
    def settled(self) -> int:
        return sum(j.collected + j.failed for j in self.jobs.values())

    @property
    def outstanding(self) -> int:
        return sum(j.outstanding for j in self.jobs.values())


def stamp(epoch: float | None = None) -> str:
    """`2026-11-23T13:20:05Z`: the UTC time every progress and summary line starts with."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def spent(snap: Snapshot) -> str:
    """`spent $0.0120 (ledger $3.4560)`: this run's, and the total beside it."""
    text = f"spent ${snap.spent_usd:.4f}"
    if snap.spent_total_usd is not None:
        text += f" (ledger ${snap.spent_total_usd:.4f})"
    return text


def duration(seconds: float | None) -> str:
    """`12s`, `1m12s` or `5h12m` (`?` when unknown)."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Shows snapshots as they come; `watch` takes one every interval until cancelled."""

    def __init__(
        self,
        out: TextIO,
        mode: Mode,
        fmt: Format,
        interval_s: float,
        columns: Callable[[], int] | None = None,
    ) -> None:
        self.out, self.mode, self.fmt = out, mode, fmt
        self.columns = columns or self._width  # asked at each redraw: a window may be resized
        self.interval_s = LIVE_REFRESH_S if mode == "live" else interval_s
        self.started = time.monotonic()
        self._first: Snapshot | None = None
        self._last: Snapshot | None = None
        self._drawn = 0  # lines of the live display on screen

    async def watch(self, take: Callable[[], Awaitable[Snapshot]]) -> None:
        if self.mode == "off":
            return
        self._first = self._last = await take()  # the baseline the first rates are taken from
        while True:
            await anyio.sleep(self.interval_s)
            self.show(await take())

    def rates(self, now: Snapshot) -> tuple[float, float | None]:
        """(calls per minute over the last interval, seconds left at this run's settle rate)."""
        if self._first is None:
            self._first = now
        last = self._last or self._first
        span = now.at - last.at
        calls_per_min = (now.calls - last.calls) / span * 60 if span > 0 else 0.0
        settled = now.settled - self._first.settled
        elapsed = now.at - self.started
        eta = now.outstanding / (settled / elapsed) if settled > 0 and elapsed > 0 else None
        self._last = now
        return calls_per_min, (0.0 if now.outstanding == 0 else eta)

    def show(self, snap: Snapshot) -> None:
        calls_per_min, eta = self.rates(snap)
        elapsed = snap.at - self.started
        if self.fmt == "json":
            record = {
                "ts": stamp(),
                "event": "progress",
                "elapsed_s": round(elapsed, 1),
                "spent_usd": round(snap.spent_usd, 6),
                "spent_total_usd": _rounded(snap.spent_total_usd),
                "calls_per_min": round(calls_per_min),
                "eta_s": None if eta is None else round(eta),
                "waiting_for": snap.waiting_for,
                "waiting_until": snap.waiting_until,
                "jobs": {name: asdict(job) for name, job in snap.jobs.items()},
            }
            self._write(json.dumps(record))
            return
        waiting = snap.waiting()
        tail = (
            f"{spent(snap)} · {calls_per_min:.0f} calls/min · "
            f"{waiting if waiting else f'ETA {duration(eta)}'} · {duration(elapsed)} elapsed"
        )
        if self.mode == "live":
            width = max(len(j.label(name)) for name, j in snap.jobs.items()) if snap.jobs else 0
            lines = [
                f"{j.label(name):<{width}}  posted {j.posted}/{j.total}  collected {j.collected}  "
                f"failed {j.failed}  rejected {j.rejected}"
                + (f"  missed {j.missed}" if j.missed else "")
                for name, j in snap.jobs.items()
            ]
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            # A line wider than the terminal would wrap, and moving up by lines would then
            # leave copies behind: each is cut to the width (the last column left free).
            width = max(20, self.columns() - 1)
            shown = [line[:width] for line in [*lines, f"{stamp()} {tail}"]]
            self.out.write(up + "".join(f"{line}\x1b[K\n" for line in shown))
            self.out.flush()
            self._drawn = len(lines) + 1
            return
        jobs = "; ".join(
            f"{j.label(name)} {j.collected}/{j.total} collected, {j.failed} failed, "
            f"{j.posted} posted, {j.rejected} rejected"
            + (f", {j.missed} missed" if j.missed else "")
            for name, j in snap.jobs.items()
        )
        self._write(f"{stamp()} progress: {jobs}; {tail}")

    def summary(self, reason: str, exit_code: int, snap: Snapshot | None) -> None:
        """One line at the end (JSON: one object), whatever the mode but `off`. On a terminal
        the live lines are drawn once more first, so they show where the run ended, not where
        it stood at the last refresh up to a second before."""
        if self.mode == "off":
            return
        if self.mode == "live" and snap is not None and self._drawn:
            self.show(snap)
        elapsed = time.monotonic() - self.started
        jobs = snap.jobs if snap is not None else {}
        if self.fmt == "json":
            record = {
                "ts": stamp(),
                "event": "run_ended",
                "reason": reason,
                "exit_code": exit_code,
                "elapsed_s": round(elapsed, 1),
                "spent_usd": None if snap is None else round(snap.spent_usd, 6),
                "spent_total_usd": None if snap is None else _rounded(snap.spent_total_usd),
                "outstanding": None if snap is None else snap.outstanding,
                "postbacks_delivered": None if snap is None else snap.delivered,
                "postbacks_polled": None if snap is None else snap.polled,
                "jobs": {name: asdict(job) for name, job in jobs.items()},
            }
            self._write(json.dumps(record))
            return
        if snap is None:
            self._write(f"{stamp()} run ended ({reason}) after {duration(elapsed)}")
            return
        collected = sum(j.collected for j in jobs.values())
        failed = sum(j.failed for j in jobs.values())
        rejected = sum(j.rejected for j in jobs.values())
        per_job = ", ".join(
            f"{j.label(n)} {j.collected + j.failed}/{j.total}" for n, j in jobs.items()
        )
        postbacks = ""
        if snap.delivered is not None and snap.polled is not None:
            postbacks = f"; postbacks: {deliveries(snap.delivered, snap.polled)}"
        self._write(
            f"{stamp()} run ended ({reason}) after {duration(elapsed)}: {collected} collected, "
            f"{failed} failed, {snap.outstanding} outstanding, {rejected} rejected, "
            f"{spent(snap)}; {per_job}{postbacks}"
        )

    def _width(self) -> int:
        """The width of the terminal drawn on (not $COLUMNS, which may be stale or another's)."""
        try:
            return os.get_terminal_size(self.out.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return shutil.get_terminal_size().columns

    def note(self, message: str) -> None:
        """A line of what the run does besides posting and collecting (JSON: a `note` object);
        nothing when the mode is `off`."""
        if self.mode == "off":
            return
        if self.fmt == "json":
            self._write(json.dumps({"ts": stamp(), "event": "note", "message": message}))
        else:
            self._write(f"{stamp()} {message}")

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
