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
Every attempt on the wire takes its own tokens (`admit`), aiohttp's silent re-send of an
idempotent request on a dropped keep-alive connection included (the client's middleware).

Across processes: the bucket is only this process's. A sliding log of the last window's calls
is the exact bound, and it starts with the calls the previous process made in the window,
read from a small file next to the ledger (`CallLog`). With the ledger on a server, every
process of it (another host's, the next cron tick's) takes its calls' slots from one schedule
there instead (`Schedule`, ledger/rate_slots.py): no bucket, log or file of its own. Another
tool on the same account is out of our reach: the API's 40202 then pauses every call
(`slow_down`).
"""

import logging
import math
import os
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final, Protocol

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


class CallLog:
    """When recent calls were made, in a ring of fixed records in a file, so that the next
    process counts them against the window. Each record is written with one pwrite and
    no fsync: a killed process's writes are in the page cache, and only a machine crash loses
    them (a reboot takes longer than the window)."""

    RECORD: Final = struct.Struct("<dB7x")  # epoch seconds, its kind
    CALL, READY, POST = 0, 1, 2  # the kinds: a call, a tasks_ready call, a task_post
    # A task_post is still recorded as such (a version before POST records reads it as a
    # tasks_ready call, which only makes it more careful); since the ledger records each
    # POST attempt itself, nothing reads the kind but to tell tasks_ready calls apart.

    def __init__(self, path: str, slots: int) -> None:
        self.path, self.slots = path, slots
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.pos = 0
        newest = -1.0
        for index, (at, _) in enumerate(self._records()):
            if at > newest:
                newest, self.pos = at, (index + 1) % slots  # the oldest is overwritten next

    @classmethod
    def beside(cls, state_path: str, calls_per_window: int) -> "CallLog":
        """The call log of the ledger at `state_path`, shared by every command that calls
        the API with that config (run, recover, validate --check-account)."""
        os.makedirs(os.path.dirname(state_path) or ".", exist_ok=True)
        return cls(state_path + ".calls", calls_per_window + 16)

    def _records(self) -> list[tuple[float, int]]:
        """Every record in the file (a ring made for a larger limit included)."""
        raw = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        usable = len(raw) - len(raw) % self.RECORD.size
        return list(self.RECORD.iter_unpack(raw[:usable]))

    def since(self, start: float) -> list[tuple[float, bool]]:
        """(epoch seconds, tasks_ready) of the calls recorded after `start`, oldest first. A
        call recorded in the future (the clock stepped back since) counts as made now: it
        holds its place in the window, and no longer than a window."""
        now = time.time()
        return sorted(
            (min(at, now), kind == self.READY) for at, kind in self._records() if at > start
        )

    def record(self, at: float, kind: int) -> None:
        os.pwrite(self._fd, self.RECORD.pack(at, kind), self.pos * self.RECORD.size)
        self.pos = (self.pos + 1) % self.slots

    def close(self) -> None:
        os.close(self._fd)


class SlidingLog:
    """The exact count of calls in the last `window_s`: admits one only below `cap`."""

    def __init__(self, cap: int, window_s: float) -> None:
        self.cap, self.window_s = cap, window_s
        self.times: deque[float] = deque()

    def wait_s(self, now: float) -> float:
        """How long until one more call fits (0: now)."""
        while self.times and self.times[0] <= now - self.window_s:
            self.times.popleft()
        if len(self.times) < self.cap:
            return 0.0
        return self.times[len(self.times) - self.cap] + self.window_s - now


class SlotSource(Protocol):
    """Where call slots are reserved for every process of a ledger (ledger/rate_slots.py)."""

    def reserve(self, kind: str, spacing: float, count: int) -> tuple[float, float]: ...

    def reserve_when_due(
        self, spacings: dict[str, float], rare: str, within_s: float
    ) -> tuple[float, float, bool]: ...


# A reserved slot is used within this long of its time, or dropped: calls then bunch by at most
# this much, which the slots' spacing allows for.
SLOT_TOLERANCE_S: Final = 0.05
RESERVE_AHEAD_S: Final = 1.0  # the most slots reserved at once: about this long of the rate
# Slots reserved beyond the calls waiting: this long of the schedule. Less than one slot at an
# account's limits (2000 calls a minute: 30 ms apart), where a block is just the calls waiting;
# with a limit lifted far above them, one round trip to the server reserves many calls' slots,
# and what goes unused is at most this long of the schedule.
RESERVE_SPAN_S: Final = 0.005


def slot_spacing(limit: int, window_s: float) -> float:
    """Seconds between slots of one kind so that no `window_s` holds more than `limit` calls
    used up to SLOT_TOLERANCE_S late: a window then reaches slots of `window_s + tolerance`."""
    return (window_s + SLOT_TOLERANCE_S) / max(1, limit - 1)


class Schedule:
    """This process's share of a schedule of call slots kept on the ledger's server: slots are
    reserved in small blocks (as many as calls are waiting or RESERVE_SPAN_S of the schedule,
    up to RESERVE_AHEAD_S of it), each used at its time or dropped once past SLOT_TOLERANCE_S.
    A block's slots are `general_s` apart, so it is kept as its first slot, its size and how
    many of it are used or dropped."""

    def __init__(
        self,
        source: SlotSource,
        general_s: float,
        ready_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._source, self._clock = source, clock
        self._general_s, self._ready_s = general_s, ready_s
        # The block of general slots last reserved, in this clock: `_block_size` of them,
        # `general_s` apart from `_block_first`; the first `_block_taken` are used or dropped
        self._block_first, self._block_size, self._block_taken = 0.0, 0, 0
        self._lock = anyio.Lock()
        self.waiting = 0
        self.dropped = 0  # slots reserved and not used in time
        self.until_wall = 0.0  # while a call waits for its slot: until when (epoch seconds)

    async def take(self, tasks_ready: bool) -> float:
        """Wait for this call's slot; returns how long it waited."""
        self.waiting += 1
        started = self._clock()
        try:
            if tasks_ready:  # a slot of both kinds, reserved once tasks_ready's is due
                await self._sleep_until(await self._both_when_due())
            else:
                async with self._lock:
                    await self._sleep_until(await self._next_general())
        finally:
            self.waiting -= 1
        return self._clock() - started

    async def _both_when_due(self) -> float:
        """A slot of both kinds for one tasks_ready call. Waiting for its own kind's turn
        holds neither the lock nor the other calls of any process: only a slot that is due
        is reserved (SharedWindow.reserve_when_due), within one general spacing."""
        spacings = {"general": self._general_s, "ready": self._ready_s}
        while True:
            async with self._lock:
                first, server_now, reserved = await anyio.to_thread.run_sync(
                    self._source.reserve_when_due, spacings, "ready", self._general_s
                )
                at = self._in_this_clock(first, server_now)
            if reserved:
                return at
            await anyio.sleep(at - self._clock())  # tasks_ready's own limit: not the window's

    async def _sleep_until(self, at: float) -> None:
        wait = at - self._clock()
        if wait > 0:
            self.until_wall = time.time() + wait
            await anyio.sleep(wait)
            self.until_wall = 0.0

    async def _next_general(self) -> float:
        while True:
            oldest = self._clock() - SLOT_TOLERANCE_S  # a slot before this is dropped
            past = math.ceil((oldest - self._block_first) / self._general_s)  # slots before
            missed = min(self._block_size, max(self._block_taken, past)) - self._block_taken
            self._block_taken += missed
            self.dropped += missed
            if self._block_taken < self._block_size:
                self._block_taken += 1
                return self._block_first + (self._block_taken - 1) * self._general_s
            most = max(1, int(RESERVE_AHEAD_S / self._general_s))
            spanned = int(RESERVE_SPAN_S / self._general_s)
            await self._reserve_general(min(max(self.waiting, spanned), most))

    async def _reserve_general(self, count: int) -> None:
        """Reserve a block of `count` general slots on the server."""
        first, server_now = await anyio.to_thread.run_sync(
            self._source.reserve, "general", self._general_s, count
        )
        self._block_first = self._in_this_clock(first, server_now)
        self._block_size, self._block_taken = count, 0

    def _in_this_clock(self, at: float, server_now: float) -> float:
        """A moment of the server's clock in this process's. The server's `now` is read
        inside the reserving transaction, so a slot is never early here (at most the round
        trip late)."""
        return self._clock() - server_now + at


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
        history: CallLog | None = None,
        shared: SlotSource | None = None,
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
        self._log = SlidingLog(max(1, calls_per_window - 1), shaped_window)
        self._ready_log = SlidingLog(max(1, tasks_ready_per_window - 1), shaped_window)
        self._history = history
        self.inherited = 0  # calls of a previous process still in the window at start
        if history is not None:
            wall, mono = time.time(), clock()
            for at, was_ready in history.since(wall - shaped_window):
                then = mono - max(0.0, wall - at)  # never ahead of now (CallLog.since)
                self._log.times.append(then)
                if was_ready:
                    self._ready_log.times.append(then)
                self.inherited += 1
        self.admitted = 0  # requests this process let reach the wire
        self._full_until_wall = 0.0  # while a call waits for room in the window: until when
        self._window_s = window_s
        self._clock = clock
        self._paused_until = 0.0
        self.paused_until_wall = 0.0  # the same moment in epoch seconds, for the progress line
        self.slowdowns = 0
        self.schedule: Schedule | None = None
        if shared is not None:  # the window is the server's: no bucket or log of our own
            self.schedule = Schedule(
                shared,
                slot_spacing(calls_per_window, shaped_window),
                slot_spacing(tasks_ready_per_window, shaped_window),
                clock,
            )

    @property
    def full_until_wall(self) -> float:
        """While a call waits for room in the window: until when (epoch seconds)."""
        if self.schedule is not None:
            return self.schedule.until_wall
        return self._full_until_wall

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a concurrency slot for one exchange, once no 40202 pause holds every call.
        Each attempt inside it takes its tokens with `admit`."""
        async with self._slots:
            while True:  # a timer, re-armed if another 40202 extends the pause meanwhile
                pause = self._paused_until - self._clock()
                if pause <= 0:
                    break
                await anyio.sleep(pause)
            yield

    async def admit(self, tasks_ready: bool = False, post: bool = False) -> None:
        """Take the tokens of one request (a task_post if `post`), right before it goes on
        the wire."""
        if self.schedule is not None:
            await self.schedule.take(tasks_ready)
            self.admitted += 1
            return
        if tasks_ready:
            await self._ready.acquire()
        await self._general.acquire()
        while True:  # the exact bound, with the previous process's calls counted
            now = self._clock()
            wait = self._log.wait_s(now)
            if tasks_ready:
                wait = max(wait, self._ready_log.wait_s(now))
            if wait <= 0:
                break
            self._full_until_wall = time.time() + wait
            await anyio.sleep(wait)
        self._full_until_wall = 0.0
        self._log.times.append(now)
        if tasks_ready:
            self._ready_log.times.append(now)
        self.admitted += 1
        wall = time.time()
        if self._history is not None:
            kind = CallLog.READY if tasks_ready else CallLog.POST if post else CallLog.CALL
            self._history.record(wall, kind)

    @asynccontextmanager
    async def call(self, tasks_ready: bool = False) -> AsyncIterator[None]:
        """Hold a slot and the tokens for one request; send it inside the block."""
        async with self.slot():
            await self.admit(tasks_ready)
            yield

    @classmethod
    def for_api(
        cls, api: ApiConfig, history: CallLog | None = None, shared: SlotSource | None = None
    ) -> "AccountLimiter":
        """The limiter an [api] config section describes."""
        return cls(
            api.calls_per_minute,
            api.rate_period_s,
            api.tasks_ready_per_minute,
            api.max_concurrency,
            jitter_s=api.rate_jitter_s,
            history=history,
            shared=shared,
        )

    def slow_down(self, endpoint: str) -> None:
        """The server said 40202 anyway (another tool on the account?): pause every call."""
        self.slowdowns += 1
        pause = self._window_s * SLOW_DOWN_SHARE
        self._paused_until = max(self._paused_until, self._clock() + pause)
        self.paused_until_wall = max(self.paused_until_wall, time.time() + pause)
        log.warning(
            "rate_limited_by_server endpoint=%s pause_s=%.1f count=%d",
            endpoint,
            pause,
            self.slowdowns,
        )
