"""One simulated account: its tasks, limits, faults, webhooks and counters. The HTTP side
(app.py, routes.py) serves it; it knows nothing of HTTP but the body a postback carries, which
app.py hands it (`postback_body`)."""

import base64
import binascii
import hmac
import random
from array import array
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import anyio

from orchestrator.simulator.clock import SimClock
from orchestrator.simulator.faults import FaultPlan
from orchestrator.simulator.limits import ConcurrencyGate, SlidingWindow
from orchestrator.simulator.settings import SimulatorConfig
from orchestrator.simulator.state import SimTask, TaskStore
from orchestrator.simulator.webhooks import WebhookSender

MAX_TICK_REAL_S: Final = 0.5  # the ticker re-checks at least this often (time jumps, new posts)


class Simulator:
    """Everything one simulated account holds: tasks, limits, faults, counters."""

    def __init__(
        self,
        config: SimulatorConfig,
        postback_body: Callable[["Simulator", SimTask], bytes],
        clock: SimClock | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SimClock(config.time_scale)
        self.store = TaskStore(config, self.clock)
        self.window = SlidingWindow(config.calls_per_minute, config.rate_period_s, self.clock.real)
        self.ready_window = SlidingWindow(
            config.tasks_ready_per_minute, config.rate_period_s, self.clock.real
        )
        self.gate = ConcurrencyGate(config.max_concurrency)
        self.faults = FaultPlan(config)
        self.webhooks = WebhookSender(
            config.webhook_timeout_real_s,
            config.allow_external_webhooks,
            lambda task: postback_body(self, task),
            config.webhook_fail_rate,
            random.Random(config.seed + 2),
        )
        self.calls_total = 0
        self.started_real = self.clock.real()
        self.admitted_per_second = array("I")  # calls admitted in each real second since start
        self.calls_by_function: Counter[str] = Counter()
        self.rate_limited = 0
        self.concurrency_limited = 0
        self.unauthorized = 0
        self.faults_injected: Counter[str] = Counter()
        # While held (`hold_webhooks`), finished tasks' deliveries wait here, their bodies
        # made: a benchmark releases them at once to time the receivers, not this simulator.
        self.held: list[tuple[SimTask, bytes | None]] | None = [] if config.hold_webhooks else None
        self._credentials = f"{config.login}:{config.password}".encode()
        self._wake = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None

    def count_admitted(self) -> None:
        """Add an admitted call to the per-second timeline benchmarks read the rate from."""
        second = int(self.clock.real() - self.started_real)
        timeline = self.admitted_per_second
        if second >= len(timeline):
            timeline.extend([0] * (second + 1 - len(timeline)))
        timeline[second] += 1

    def wake(self) -> None:
        """Tell the ticker that the next completion may have moved."""
        self._wake.set()

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._credentials)

    def advance(self) -> None:
        """Complete what is due and start the webhooks it needs."""
        for task in self.store.advance():
            if self.held is not None and (task.postback_url or task.pingback_url):
                self.held.append(
                    (task, self.webhooks.postback(task) if task.postback_url else None)
                )
            elif self._task_group is not None:
                self._task_group.start_soon(self._deliver, task)

    def hold_webhooks(self, held: bool) -> None:
        """Hold deliveries from now on, or send those held (all at once) and hold no more."""
        if held:
            self.held = [] if self.held is None else self.held
            return
        waiting, self.held = self.held or [], None
        for task, body in waiting:
            if self._task_group is not None:
                self._task_group.start_soon(self._deliver, task, None, body)

    async def _deliver(
        self, task: SimTask, retries: int | None = None, body: bytes | None = None
    ) -> None:
        """One delivery, and the retries `webhook_retries` asks for (none by default)."""
        left = self.config.webhook_retries if retries is None else retries
        failure = await self.webhooks.deliver(task, body)
        if failure is None:
            self.store.delivered(task)
            return
        self.store.delivery_failed(task, failure)
        if left > 0:
            await anyio.sleep(self.clock.real_delay(self.config.webhook_retry_after_s))
            await self._deliver(task, left - 1)

    def resend(self, task: SimTask) -> None:
        """Deliver a finished task's webhook again (`/v3/appendix/webhook_resend`)."""
        if self._task_group is not None:
            self._task_group.start_soon(self._deliver, task)

    async def tick(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Complete tasks on time even when nobody calls (webhooks must fire)."""
        task_status.started()
        while True:
            self.advance()
            due = self.store.next_completion()
            wait = MAX_TICK_REAL_S
            if due is not None:
                lag = self.config.tasks_ready_lag_s
                wait = min(wait, self.clock.real_delay(due + lag - self.clock.now()))
            with anyio.move_on_after(wait):
                await self._wake.wait()
            self._wake = anyio.Event()

    def stats(self) -> dict[str, Any]:
        return {
            "calls_total": self.calls_total,
            "calls_by_function": dict(self.calls_by_function),
            "rate_limited": self.rate_limited,
            "concurrency_limited": self.concurrency_limited,
            "unauthorized": self.unauthorized,
            "faults_injected": dict(self.faults_injected),
            "tasks_created": len(self.store.tasks),
            "duplicate_tags": self.store.duplicate_tags,
            "tasks_collected": self.store.tasks_collected,
            "tasks_ready": self.store.ready_count,
            "cost_total": round(self.store.cost_total, 8),
            "balance": round(self.store.balance, 8),
            "window_peak": self.window.peak,
            "concurrency_peak": self.gate.peak,
            "webhooks_sent": self.webhooks.sent,
            "webhooks_failed": self.webhooks.failed,
            "webhooks_held": len(self.held or ()),
            "sim_time": self.clock.now(),
        }
