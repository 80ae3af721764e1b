"""Simulated time: `time_scale` simulated seconds pass per real second, plus manual jumps.

Time-dependent code takes a `clock` callable (real seconds) so tests can step it.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime


def format_datetime(epoch_s: float) -> str:
    """The API's datetime format: `2019-11-15 12:06:09 +00:00`."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S +00:00")


def parse_datetime(text: str) -> float:
    """Inverse of `format_datetime`; raises ValueError on another format."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").timestamp()


class SimClock:
    """Maps real time onto simulated epoch seconds."""

    def __init__(
        self,
        time_scale: float,
        clock: Callable[[], float] = time.monotonic,
        start_epoch: float | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._clock = clock
        self._real_start = clock()
        self._epoch_start = time.time() if start_epoch is None else start_epoch
        self._offset = 0.0

    def now(self) -> float:
        """Simulated epoch seconds."""
        elapsed = (self._clock() - self._real_start) * self.time_scale
        return self._epoch_start + elapsed + self._offset

    def real(self) -> float:
        """Real seconds of the underlying clock (for rate windows)."""
        return self._clock()

    def advance(self, sim_seconds: float) -> None:
        """Jump simulated time forward (tests: results expiry without waiting)."""
        if sim_seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += sim_seconds

    def real_delay(self, sim_seconds: float) -> float:
        """Real seconds until `sim_seconds` of simulated time have passed."""
        return max(0.0, sim_seconds / self.time_scale)
