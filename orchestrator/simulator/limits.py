"""The account limits the simulator enforces: a strict sliding window of calls, and a cap on
simultaneous requests.

The window is the most conservative reading of "2000 calls per minute": at no instant may the
last `period` seconds hold more than `limit` accepted calls. Rejected calls are not counted.
"""

from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """Admits at most `limit` calls in any `period` seconds of `clock`."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._accepted: deque[float] = deque()
        self.peak = 0  # most calls ever seen inside one window

    def _expire(self, now: float) -> None:
        while self._accepted and self._accepted[0] <= now - self.period:
            self._accepted.popleft()

    def would_admit(self) -> bool:
        """True if a call now would fit (nothing is recorded)."""
        self._expire(self._clock())
        return len(self._accepted) < self.limit

    def admit(self) -> bool:
        """Record a call if it fits; False means it is over the limit."""
        now = self._clock()
        self._expire(now)
        if len(self._accepted) >= self.limit:
            return False
        self._accepted.append(now)
        self.peak = max(self.peak, len(self._accepted))
        return True


class ConcurrencyGate:
    """Counts requests in flight; refuses the one past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.peak = 0

    def enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return True

    def leave(self) -> None:
        self.in_flight -= 1
