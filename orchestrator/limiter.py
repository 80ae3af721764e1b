"""One limiter shared by every call: the account's rate limit, the tasks_ready limit, and the
cap on simultaneous requests.

A leaky bucket of capacity `burst` leaking `rate` calls per second admits at most
`burst + rate * window` calls in any `window` seconds. aiolimiter's `AsyncLimiter(2000, 60)`
is such a bucket with burst 2000 and so admits close to 4000 in its first minute. Here the
bucket is shaped so that `burst + rate * window == limit`, with a small burst, so no window of
the API's strict sliding count ever exceeds the limit, while the steady rate is
`(limit - burst) / window`, within `burst_share` of the limit.

A call takes its concurrency slot first and its rate token last, right before it is sent:
a token taken while waiting for a slot could be spent later, in a bunch, and break the bound.
"""

import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import anyio
from aiolimiter import AsyncLimiter

from orchestrator.config import ApiConfig

log = logging.getLogger(__name__)

# A burst of 0.5% of the limit: the steady rate is the rest. With one call under the limit and
# the jitter allowance (api.rate_jitter_s) about 1% of the limit goes unused at 2000 per 60 s.
DEFAULT_BURST_SHARE: Final = 0.005
SLOW_DOWN_SHARE: Final = 0.1  # after a 40202, pause a tenth of the window


@dataclass(frozen=True, slots=True)
class BucketShape:
    """Capacity and refill period of a leaky bucket (aiolimiter's max_rate, time_period)."""

    burst: int
    period_s: float

    @property
    def rate_per_s(self) -> float:
        return self.burst / self.period_s


def shape_bucket(
    limit: int, window_s: float, burst_share: float = DEFAULT_BURST_SHARE
) -> BucketShape:
    """The bucket that never admits more than `limit` calls in any `window_s` seconds."""
    if limit < 1 or window_s <= 0:
        raise ValueError("limit must be >= 1 and window_s > 0")
    if limit == 1:
        return BucketShape(1, window_s)  # one call, then a full window: the only safe shape
    burst = max(1, min(limit - 1, math.floor(limit * burst_share)))
    rate = (limit - burst) / window_s
    return BucketShape(burst, burst / rate)


class AccountLimiter:
    """Admits calls within the account's limits; `slow_down` after a 40202 pauses all calls."""

    def __init__(
        self,
        calls_per_window: int,
        window_s: float,
        tasks_ready_per_window: int,
        max_concurrency: int,
        jitter_s: float = 0.0,
        clock: Callable[[], float] = anyio.current_time,
        burst_share: float = DEFAULT_BURST_SHARE,
    ) -> None:
        # Calls admitted here reach the server a little unevenly (network, reconnects, a busy
        # event loop): shaping for a window `jitter_s` longer absorbs that bunching. One call
        # under the limit as well: at 20 per minute, the burst share is less than one call.
        shaped_window = window_s + jitter_s
        general = shape_bucket(max(1, calls_per_window - 1), shaped_window, burst_share)
        ready = shape_bucket(max(1, tasks_ready_per_window - 1), shaped_window, burst_share)
        self.general_shape, self.ready_shape = general, ready
        self._general = AsyncLimiter(general.burst, general.period_s)
        self._ready = AsyncLimiter(ready.burst, ready.period_s)
        self._slots = anyio.CapacityLimiter(max_concurrency)
        self._window_s = window_s
        self._clock = clock
        self._paused_until = 0.0
        self.slowdowns = 0

    @asynccontextmanager
    async def call(self, tasks_ready: bool = False) -> AsyncIterator[None]:
        """Hold a slot and a token for one HTTP call; send it inside the block."""
        async with self._slots:
            while True:  # a timer, re-armed if another 40202 extends the pause meanwhile
                pause = self._paused_until - self._clock()
                if pause <= 0:
                    break
                await anyio.sleep(pause)
            if tasks_ready:
                await self._ready.acquire()
            await self._general.acquire()
            yield

    @classmethod
    def for_api(cls, api: ApiConfig) -> "AccountLimiter":
        """The limiter an [api] config section describes."""
        return cls(
            api.calls_per_minute,
            api.rate_period_s,
            api.tasks_ready_per_minute,
            api.max_concurrency,
            jitter_s=api.rate_jitter_s,
        )

    def slow_down(self, endpoint: str) -> None:
        """The server said 40202 anyway (another tool on the account?): pause every call."""
        self.slowdowns += 1
        pause = self._window_s * SLOW_DOWN_SHARE
        self._paused_until = max(self._paused_until, self._clock() + pause)
        log.warning(
            "rate_limited_by_server endpoint=%s pause_s=%.1f count=%d",
            endpoint,
            pause,
            self.slowdowns,
        )
