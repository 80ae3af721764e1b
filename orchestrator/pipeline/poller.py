"""The poller: walk tasks_ready (and sweep overdue tasks by id) for this ledger's own tasks,
fetch them with `max_concurrency` workers, and hand what they fetched to the sink writer
(`settle.py`) that settles it in batches. A task's result goes to the period it was posted for,
whichever period is running now. With postbacks on, the poller collects what the receiver
missed (a failed delivery leaves a task in tasks_ready), and pingbacks queue tasks here.

Collection is write-ahead like posting: the ids handed to the workers are marked in the ledger
first (one transaction a page), because task_get takes a task off tasks_ready. A task whose
answer a crash lost is fetched by id as soon as the next run starts. When tasks_ready is full
(1000 tasks, most of them other tools'), our tasks old enough to be done are fetched by id
instead of waiting for the overdue sweep, and so is a task whose task_get answered a
transient error, or whose every try the client made failed: an earlier answer may have taken
it off tasks_ready (a crash, a dropped connection the client retried), so only asking by id
again finds it. One task's bad luck does not end the run; an outage still does, through
tasks_ready and task_post.
"""

import logging
import math
import time
from typing import Final

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from orchestrator.config import JobConfig
from orchestrator.errors import RequestRejected, TransientApiError
from orchestrator.pipeline.collected import Collected, answer_of
from orchestrator.pipeline.context import RunContext, Waiting, first_of
from orchestrator.pipeline.settle import SinkWriter
from orchestrator.wire.client import first_result
from schemas.decode import TasksReadyResponse

log = logging.getLogger(__name__)
SWEEP_MIN_S: Final = 10.0  # the overdue sweep scans the ledger: not more often than this
READY_LIMIT: Final = 1000  # tasks_ready lists at most this many tasks of the whole account
PROBE_AFTER_S: Final = 30.0  # with tasks_ready full, a task this old is asked for by id ...
PROBE_AGAIN_S: Final = 30.0  # ... and asked again this long after an answer "not ready yet"
AGAIN_FIRST_S: Final = 2.0  # a task_get that answered an error is asked again after
AGAIN_MOST_S: Final = 60.0  # this long, doubling each time up to this
REST_CHECK_S: Final = 0.1  # once all is posted, how often the run asks if it is done
# An overdue task answered "still in the API's queue" is not swept again for 2 x overdue_s,
# then 4 x, and so on: tasks_ready lists it once it is done, so through a backlog of the API
# (up to 3 x overdue_s) it costs one task_get before the one that collects it, not one a sweep.
Queued = tuple[str, JobConfig, str]  # task id, its job, its period


class Poller:
    """The collecting half of a run: one poll loop, its fetch workers and the sink writer."""

    def __init__(self, run: RunContext, sink: SinkWriter) -> None:
        self.run, self.sink = run, sink
        self.queued: set[str] = set()  # task ids handed to the fetch workers, not yet settled
        self.settled = anyio.Event()  # set whenever ids leave `queued`
        self.probed: dict[str, float] = {}  # task id -> when it may be asked for by id again
        self.again: dict[str, tuple[float, str, str]] = {}  # task id -> (when, job, period)
        self.errors: dict[str, int] = {}  # task id -> task_get errors so far
        self.backlog: dict[str, tuple[float, int]] = {}  # id -> (next sweep, answers "queued")
        # Listed by tasks_ready but claimed by another live run (a shared ledger): its to fetch,
        # not claimed again each page; kept while tasks_ready still lists them.
        self.elsewhere: set[str] = set()
        self.queue: MemoryObjectSendStream[Queued] | None = None  # while collecting
        sink.on_settled.append(self.settled_ids)
        sink.on_taken.append(self.settled_ids)  # a bucket's part holds it: the sink's now
        sink.on_refused.append(self.refused)  # heard after on_settled: asked for again

    async def collect(self) -> None:
        fetch_send, fetch_receive = anyio.create_memory_object_stream[Queued](math.inf)
        async with fetch_send, anyio.create_task_group() as workers:
            for _ in range(self.run.config.api.max_concurrency):
                workers.start_soon(self.fetch_worker, fetch_receive.clone())
            fetch_receive.close()
            self.queue = fetch_send
            async with anyio.create_task_group() as polling:
                polling.start_soon(self.end_when_done, polling.cancel_scope)
                await self.poll(fetch_send)
                polling.cancel_scope.cancel()
            self.queue = None
            fetch_send.close()  # the workers finish what is queued, then end

    async def fetch_now(self, task_ids: dict[str, tuple[str, str]]) -> None:
        """Fetch these tasks by id at once (a pingback said they are ready)."""
        if self.queue is not None:
            await self.enqueue(self.queue, task_ids)

    async def poll(self, queue: MemoryObjectSendStream[Queued]) -> None:
        """Queue our ready tasks, and overdue ones by id, until nothing is in flight.

        An id stays in `queued` until its result is settled, so neither tasks_ready nor the
        sweeps can queue it twice. The next page is asked for while the workers still have
        `max_concurrency` tasks in hand, so they never wait for it. With nothing in flight and
        a producer that may post again (`--follow`), it waits for that post instead of calling
        tasks_ready.
        """
        run, api = self.run, self.run.config.api
        interval = run.poll_interval_s
        last_sweep = time.monotonic()
        await self.resume()
        while True:
            ready = _ids(await run.client.tasks_ready())
            self.elsewhere.intersection_update(ready)
            fresh = [t for t in ready if t not in self.queued and t not in self.elsewhere]
            ours = await run.db(run.ledger.posted_jobs, fresh) if fresh else {}
            saturated, listed_ours = len(ready) >= READY_LIMIT, len(ours)
            if saturated:
                ours.update(await self.probes(len(ours)))
            ours.update(self.due_again())
            if time.monotonic() - last_sweep > min(api.overdue_s, max(SWEEP_MIN_S, 5 * interval)):
                last_sweep = time.monotonic()
                overdue = await run.db(run.ledger.posted, time.time() - api.overdue_s)
                now = time.monotonic()
                ours.update(
                    (t, (j, p))
                    for t, j, p in overdue
                    if t not in self.queued and self.backlog.get(t, (0.0, 0))[0] <= now
                )
            sent = await self.enqueue(queue, ours)
            run.collect_note = self.note(len(ready), listed_ours)
            if not self.queued:
                posted = run.posted = anyio.Event()  # before the count: a post during it sets it
                if not await run.db(run.ledger.anything_in_flight, list(run.jobs)):
                    # Once the producer is done, what is still pending (over budget, or of a
                    # period that is over) cannot move this run.
                    if run.produced.is_set():
                        return
                    await first_of(posted.wait, run.produced.wait)
                    continue
            if sent:
                while len(self.queued) > api.max_concurrency:
                    self.settled = anyio.Event()
                    await self.settled.wait()
            else:
                await anyio.sleep(interval)

    async def end_when_done(self, poll: anyio.CancelScope) -> None:
        """End the poll as soon as the run has nothing left to collect: the producer is done
        and nothing is in flight, settled by this run's sink or by other workers'. Without
        this the run ended only at the poll's next look, up to an interval after its last
        settle (3 s by default) plus the wait for a tasks_ready slot (longer with workers
        sharing the window). Nothing in flight means nothing the poll does can matter."""
        run = self.run
        await run.produced.wait()
        while True:
            await anyio.sleep(REST_CHECK_S)
            if not self.queued and not await run.db(run.ledger.anything_in_flight, list(run.jobs)):
                poll.cancel()
                return

    async def resume(self) -> None:
        """Fetch again what this run (or a run it adopted) asked for and may have lost."""
        run = self.run
        resumed = await run.db(run.ledger.fetching, run.run_id)
        if resumed:
            log.warning("fetching_again tasks=%d: their answers were lost in a crash", len(resumed))
        if self.queue is not None:
            await self.enqueue(self.queue, {t: (j, p) for t, j, p in resumed}, mark=False)

    def note(self, listed: int, ours: int) -> Waiting | None:
        """What the poller waits on, if anything a progress line should say."""
        if listed >= READY_LIMIT:
            return Waiting(
                f"tasks_ready, full with {listed} of the account's tasks"
                f" ({ours} ours): asking for ours by id"
            )
        if self.again and not self.queued:
            first = min(when for when, _, _ in self.again.values())
            return Waiting(
                f"{len(self.again)} tasks whose task_get answered an error:"
                " asking for them by id again",
                time.time() + max(0.0, first - time.monotonic()),
            )
        return None

    def due_again(self) -> dict[str, tuple[str, str]]:
        """The tasks whose task_get erred that are due to be asked for again."""
        now = time.monotonic()
        due = {t: (j, p) for t, (when, j, p) in self.again.items() if when <= now}
        for task_id in due:
            del self.again[task_id]
        return due

    def ask_again(self, task_id: str, job: str, period: str) -> None:
        """A task_get answered an error, or its every try failed: ask for this task by id
        again, after a pause that doubles each time. Not left to tasks_ready, which may no
        longer list it, nor to the overdue sweep, which comes only after `overdue_s`."""
        errors = self.errors[task_id] = self.errors.get(task_id, 0) + 1
        pause = min(AGAIN_MOST_S, AGAIN_FIRST_S * 2 ** (errors - 1))
        self.again[task_id] = (time.monotonic() + pause, job, period)
        log.info("task_get_again task=%s errors=%d pause_s=%.0f", task_id, errors, pause)

    async def probes(self, found: int) -> dict[str, tuple[str, str]]:
        """With tasks_ready full, our posted tasks old enough to be done, asked for by id:
        oldest first, as many as the workers can take, none asked again too soon."""
        run, now = self.run, time.monotonic()
        room = max(0, run.config.api.max_concurrency - found)
        if not room:
            return {}
        candidates = await run.db(
            run.ledger.posted, time.time() - PROBE_AFTER_S, len(self.queued) + 4 * room
        )
        chosen = {}
        for task_id, job, period in candidates:
            if task_id in self.queued or self.probed.get(task_id, 0.0) > now:
                continue
            self.probed[task_id] = now + PROBE_AGAIN_S
            chosen[task_id] = (job, period)
            if len(chosen) == room:
                break
        return chosen

    async def enqueue(
        self,
        queue: MemoryObjectSendStream[Queued],
        ours: dict[str, tuple[str, str]],
        mark: bool = True,
    ) -> int:
        """Hand tasks to the workers, marked in the ledger first (write-ahead); returns how
        many were handed over (another run's claims are left to it)."""
        run = self.run
        now = time.monotonic()
        chosen = {
            t: jp
            for t, jp in ours.items()
            if jp[0] in run.jobs  # a job since removed from the config: left for one with it
            and t not in self.queued
            and t not in self.sink.settling
            and run.resent.get(t, 0.0) <= now  # a delivery asked for again: give it time
        }
        if not chosen:
            return 0
        # Taken before the ledger call, which yields: meanwhile the poller's start may read
        # the tasks a pingback has just marked, or tasks_ready may list them, and must find
        # them queued, not fetch them a second time.
        self.queued.update(chosen)
        if mark:  # another run may be fetching some of them: those are its to write
            claimed = set(await run.db(run.ledger.claim_fetches, list(chosen)))
            taken = [t for t in chosen if t not in claimed]
            self.elsewhere.update(taken)
            self.unqueue(taken)
            chosen = {t: jp for t, jp in chosen.items() if t in claimed}
        for task_id, (job, period) in chosen.items():
            queue.send_nowait((task_id, run.jobs[job], period))
        return len(chosen)

    def unqueue(self, task_ids: list[str]) -> None:
        """These left the workers' hands (settled, by either collector, or not ready)."""
        self.queued.difference_update(task_ids)
        for task_id in task_ids:
            self.probed.pop(task_id, None)
        self.settled.set()

    def refused(self, task_id: str, job: str, period: str) -> None:
        """The sink refused this answer (it echoed another row's tag): ask again by id."""
        self.ask_again(task_id, job, period)

    def still_queued(self, task_id: str) -> None:
        """The API says this task is not done yet: the overdue sweep leaves it for a while."""
        _, answers = self.backlog.get(task_id, (0.0, 0))
        pause = self.run.config.api.overdue_s * 2 ** (answers + 1)
        self.backlog[task_id] = (time.monotonic() + pause, answers + 1)

    def settled_ids(self, task_ids: list[str]) -> None:
        """These are settled: nothing more is asked for them."""
        for task_id in task_ids:
            self.again.pop(task_id, None)
            self.errors.pop(task_id, None)
            self.backlog.pop(task_id, None)
        self.unqueue(task_ids)

    async def fetch_worker(self, queue: MemoryObjectReceiveStream[Queued]) -> None:
        async with queue:
            async for task_id, job, period in queue:
                try:
                    collected = await fetch(self.run, task_id, job, period)
                except TransientApiError as exc:  # the client's retries ran out: later, by id
                    log.warning("task_get_failed task=%s error=%s", task_id, exc)
                    collected = False
                except RequestRejected as exc:  # this task's question, refused: it failed
                    log.warning("task_get_refused task=%s error=%s", task_id, exc)
                    collected = refused_task(task_id, job.name, period, exc)
                if isinstance(collected, Collected):
                    await self.sink.put(collected)
                    continue
                self.unqueue([task_id])
                if collected:
                    self.still_queued(task_id)
                else:  # an error, not "in queue": tasks_ready may not list it
                    self.ask_again(task_id, job.name, period)


def refused_task(task_id: str, job: str, period: str, exc: RequestRejected) -> Collected:
    """A task whose task_get the API refused as a whole (40400, 40401, ...): a failure line
    that says so, so that one task's refusal fails that task, not the run."""
    code, message = exc.status_code, exc.status_message
    raw = msgspec.json.encode({"id": task_id, "status_code": code, "status_message": message})
    return Collected(job, period, task_id, False, code, message, raw, ours=True)


async def fetch(run: RunContext, task_id: str, job: JobConfig, period: str) -> Collected | bool:
    """Get one task: its raw bytes; True if it is still in the API's queue (tasks_ready lists
    it once it is done); False if the answer was an error or not about it."""
    raw = await run.client.task_get(job.se, job.se_type, task_id, job.task_get)
    return answer_of(raw, job.name, period, task_id)


def _ids(answer: TasksReadyResponse) -> list[str]:
    return [item.id for item in first_result(answer)]
