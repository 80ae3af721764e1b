"""The life cycle of simulated tasks: created at task_post, queued, handed, completed (or
failed), listed in tasks_ready until collected or 3 days old, fetchable for 30 days.

All state lives in one `TaskStore`, driven by simulated time. Completions are kept in a heap
(ordered by completion time) and moved into an insertion-ordered `ready` map when due, so
listing tasks_ready costs O(page), not O(all tasks).
"""

import bisect
import heapq
import itertools
import random
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from orchestrator.simulator.clock import SimClock
from orchestrator.simulator.settings import (
    FIX_DELAY_S,
    FIXED_RETENTION_S,
    HTML_RETENTION_S,
    RESULTS_RETENTION_S,
    TASKS_READY_PAGE,
    TASKS_READY_RETENTION_S,
    SimulatorConfig,
)
from schemas import status

_MASK48: Final = (1 << 48) - 1
_GOLDEN: Final = 0x9E3779B97F4A7C15  # odd multiplier: a bijection mod 2**48, so ids never repeat
_ENCODER: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Failure:
    """A webhook delivery that failed, as `/v3/serp/errors` lists it."""

    function: str  # "postback_url" or "pingback_url"
    url: str
    method: str
    http_code: int  # 0: no answer (refused, timed out)
    message: str


class SimTask:
    """One posted task; `params` is the JSON of the echoed `data` minus api/function."""

    __slots__ = (
        "collected",
        "complete_at",
        "cost",
        "done",
        "fixed_at",
        "handed_at",
        "id",
        "outcome",
        "params",
        "pingback_url",
        "postback_data",
        "postback_url",
        "posted_at",
        "se",
        "se_type",
        "tag",
    )

    def __init__(self, task_id: str, se: str, se_type: str, params: bytes, tag: str) -> None:
        self.id = task_id
        self.se = se
        self.se_type = se_type
        self.params = params
        self.tag = tag
        self.posted_at = 0.0
        self.handed_at = 0.0
        self.complete_at = 0.0
        self.outcome = status.OK
        self.cost = 0.0
        self.done = False
        self.fixed_at = 0.0  # when its SERP was re-parsed (tasks_fixed); 0: never
        self.collected = False
        self.pingback_url: str | None = None
        self.postback_url: str | None = None
        self.postback_data: str | None = None

    def data(self, function: str) -> msgspec.Raw:
        """`data` as the API echoes it: api and function first, then the posted parameters."""
        head = b'{"api":"serp","function":"' + function.encode() + b'",'
        return msgspec.Raw(head + self.params[1:])

    def status_at(self, now: float, variant: str = "advanced") -> int:
        """The task_get status code at simulated time `now` (HTML is kept for less long)."""
        if now < self.handed_at:
            return status.TASK_IN_QUEUE
        if not self.done:
            return status.TASK_HANDED
        kept = HTML_RETENTION_S if variant == "html" else RESULTS_RETENTION_S
        if now - self.complete_at > kept:
            return status.RESULTS_EXPIRED
        return self.outcome


class TaskStore:
    """Every task of the simulated account, plus the counters `/_sim/stats` reports."""

    def __init__(self, config: SimulatorConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(config.seed)
        self.tasks: dict[str, SimTask] = {}
        self.by_post_time: list[SimTask] = []
        self._post_times: list[float] = []
        self._pending: list[tuple[float, int, SimTask]] = []
        self._ready: OrderedDict[str, SimTask] = OrderedDict()
        self._fixed: dict[str, SimTask] = {}  # re-parsed or to be, not collected since
        # Failed deliveries, oldest first, for /v3/serp/errors: (when, task, what failed).
        self.webhook_errors: list[tuple[float, SimTask, Failure]] = []
        self._seq = itertools.count(1)
        self.tag_counts: Counter[str] = Counter()
        self.duplicate_tags = 0
        self.tasks_collected = 0
        self.cost_total = 0.0
        self.balance = config.balance_usd

    def new_id(self, now: float) -> str:
        """UUID-shaped id whose first group is MMDDhhmm, like the real ones (treat as opaque)."""
        stamp = self.clock_format(now)
        serial = (next(self._seq) * _GOLDEN) & _MASK48
        a, b = self.rng.getrandbits(16), self.rng.getrandbits(16)
        return f"{stamp}-{a:04x}-{b:04x}-0000-{serial:012x}"

    @staticmethod
    def clock_format(now: float) -> str:
        t = time.gmtime(now)
        return f"{t.tm_mon:02d}{t.tm_mday:02d}{t.tm_hour:02d}{t.tm_min:02d}"

    def create(self, se: str, se_type: str, params: dict[str, Any], cost: float) -> SimTask:
        """Record a task posted now; draws its completion time and outcome."""
        now = self.clock.now()
        tag = str(params.get("tag") or "")
        task = SimTask(self.new_id(now), se, se_type, _ENCODER.encode(params), tag)
        task.pingback_url = params.get("pingback_url")
        task.postback_url = params.get("postback_url")
        task.postback_data = params.get("postback_data")
        task.cost = cost
        task.posted_at = now
        delays = self.config.delay_high if params.get("priority") == 2 else self.config.delay_normal
        delay = self.rng.uniform(delays.low_s, delays.high_s)
        task.handed_at = now + delay * self.config.queued_share
        task.complete_at = now + delay
        roll = self.rng.random()
        shares = (
            (self.config.share_no_results, status.NO_RESULTS),
            (self.config.share_se_error, status.SE_SERVER_ERROR),
            (self.config.share_failed, status.EXECUTION_FAILED),
        )
        for share, code in shares:
            if roll < share:
                task.outcome = code
                break
            roll -= share
        self.tasks[task.id] = task
        self.by_post_time.append(task)
        self._post_times.append(now)
        heapq.heappush(self._pending, (task.complete_at, next(self._seq), task))
        self.cost_total += cost
        self.balance -= cost
        if tag:
            # The orchestrator posts each attempt as `input tag@ledger.batch`: the same input
            # posted in two attempts is the duplicate this counts.
            tag = tag.partition("@")[0]
            self.tag_counts[tag] += 1
            if self.tag_counts[tag] == 2:
                self.duplicate_tags += 1
        return task

    def next_completion(self) -> float | None:
        """Simulated time of the next task to complete, if any."""
        return self._pending[0][0] if self._pending else None

    def advance(self) -> list[SimTask]:
        """Complete every task that is due; returns those that need a webhook sent."""
        now = self.clock.now()
        due_before = now - self.config.tasks_ready_lag_s
        webhooks: list[SimTask] = []
        while self._pending and self._pending[0][0] <= due_before:
            _, _, task = heapq.heappop(self._pending)
            task.done = True
            if self.rng.random() < self.config.share_fixed:
                # Re-parsed later (INFERRED: minutes to hours after completion)
                task.fixed_at = task.complete_at + self.rng.uniform(*FIX_DELAY_S)
                self._fixed[task.id] = task
            if task.pingback_url or task.postback_url:
                webhooks.append(task)
            if not task.postback_url:
                self._ready[task.id] = task  # a postback task is listed only if delivery fails
        while self._ready:
            oldest = next(iter(self._ready.values()))
            if now - oldest.complete_at <= TASKS_READY_RETENTION_S:
                break
            self._ready.popitem(last=False)
        return webhooks

    def delivery_failed(self, task: SimTask, failure: Failure) -> None:
        """A failed postback leaves the task in tasks_ready, as the API does, and every
        failed delivery is listed by /v3/serp/errors."""
        self.webhook_errors.append((self.clock.now(), task, failure))
        if not task.collected:
            self._ready[task.id] = task

    def delivered(self, task: SimTask) -> None:
        """A postback accepted (a re-sent one too): the task is no longer in tasks_ready."""
        if task.postback_url:
            self._ready.pop(task.id, None)

    def find(self, task_id: str) -> SimTask | None:
        return self.tasks.get(task_id)

    def ready(self, se: str | None, se_type: str | None) -> Iterator[SimTask]:
        """Completed, uncollected tasks, oldest first, at most one page."""
        found = 0
        for task in self._ready.values():
            if (se is None or task.se == se) and (se_type is None or task.se_type == se_type):
                yield task
                found += 1
                if found == TASKS_READY_PAGE:
                    return

    def fixed(self, se: str | None, se_type: str | None) -> Iterator[SimTask]:
        """Tasks re-parsed in the last 24 hours and not collected since, oldest fix first, at
        most one page (tasks_fixed)."""
        now, found = self.clock.now(), 0
        for task in sorted(self._fixed.values(), key=lambda t: t.fixed_at):
            if task.fixed_at > now:
                break
            if now - task.fixed_at > FIXED_RETENTION_S:
                self._fixed.pop(task.id, None)
                continue
            if (se is None or task.se == se) and (se_type is None or task.se_type == se_type):
                yield task
                found += 1
                if found == TASKS_READY_PAGE:
                    return

    def collect(self, task: SimTask) -> None:
        """A task_get with results removes the task from tasks_ready, and from tasks_fixed
        once its SERP was re-parsed."""
        self._ready.pop(task.id, None)
        if task.fixed_at and task.fixed_at <= self.clock.now():
            self._fixed.pop(task.id, None)
        if not task.collected:
            task.collected = True
            self.tasks_collected += 1

    def posted_between(self, start: float, end: float) -> list[SimTask]:
        """Tasks posted in [start, end], in posting order."""
        lo = bisect.bisect_left(self._post_times, start)
        hi = bisect.bisect_right(self._post_times, end)
        return self.by_post_time[lo:hi]

    @property
    def ready_count(self) -> int:
        return len(self._ready)
