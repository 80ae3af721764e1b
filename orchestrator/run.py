"""One run: read inputs into the ledger, settle what a crash left open, then post and collect
until every input is done or failed, or the run's time is up. One task group owns both stages.

The producer posts one batch at a time: a batch whose answer was lost is reconciled through
id_list before anything else is posted, which is only sound while no other POST is in flight.
The account limit, not the producer, sets the pace (100 tasks a call).
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from orchestrator.client import AmbiguousPost, ApiClient
from orchestrator.config import Config, JobConfig
from orchestrator.errors import Disposition, RequestRejected, TransientApiError, classify
from orchestrator.inputs import RejectedRow, ValidInput, read_inputs
from orchestrator.ledger import Ledger
from orchestrator.progress import JobProgress, Snapshot
from orchestrator.sink import TASK_GET_HEAD, TASK_HEAD, JobFiles, refusal_line
from schemas.envelope import Response
from schemas.requests import MAX_TASKS_PER_POST

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
INSERT_CHUNK: Final = 1000
MAX_EXAMPLES: Final = 5  # rejected rows a dry run shows per job (all are in rejected.jsonl)
SWEEP_MIN_S: Final = 10.0  # the overdue sweep scans the ledger: not more often than this
SINK_BATCH: Final = 200  # most tasks settled by one append + fsync + transaction
ID_LIST_FMT: Final = "%Y-%m-%d %H:%M:%S +00:00"


@dataclass
class JobReport:
    """What happened to one job's inputs."""

    valid: int = 0
    rejected: int = 0
    estimated_cost: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[int, str]] = field(default_factory=list)  # first rejected rows


@dataclass
class RunReport:
    """The outcome of a run, for the summary and the exit code."""

    jobs: dict[str, JobReport] = field(default_factory=dict)
    spent: float = 0.0
    outstanding: int = 0
    timed_out: bool = False
    budget_stopped: bool = False


def dry_run(config: Config) -> RunReport:
    """Validate every row and estimate the cost; nothing is written or posted."""
    report = RunReport()
    for job in config.jobs:
        jr = report.jobs.setdefault(job.name, JobReport())
        for row in read_inputs(job, config.prices):
            if isinstance(row, RejectedRow):
                jr.rejected += 1
                if len(jr.examples) < MAX_EXAMPLES:
                    jr.examples.append((row.line, row.reason))
            else:
                jr.valid += 1
                jr.estimated_cost += row.cost
    return report


@dataclass(frozen=True, slots=True)
class Collected:
    """A fetched task on its way to the sink: its raw bytes and where they go."""

    job: str
    task_id: str
    ok: bool  # results.jsonl if true, failed.jsonl if not
    status_code: int
    status_message: str
    raw: bytes


class Run:
    """Wires inputs, ledger, client, producer, poller and sink for one config."""

    def __init__(self, config: Config, ledger: Ledger, client: ApiClient) -> None:
        self.config = config
        self.ledger = ledger
        self.client = client
        self.jobs = {job.name: job for job in config.jobs}
        self.files = {
            job.name: JobFiles(config.output.dir, job.name, ledger, config.output.gzip)
            for job in config.jobs
        }
        self.report = RunReport()
        self._db = anyio.CapacityLimiter(1)  # one SQLite connection: one thread at a time
        self._produced = anyio.Event()
        self._queued: set[str] = set()  # task ids handed to the fetch workers, not yet settled
        self._settled = anyio.Event()  # set whenever ids leave `_queued`

    def snapshot_sync(self) -> Snapshot:
        """Progress numbers from the ledger (call in the ledger's thread, or after the loop)."""
        jobs = {}
        for job in self.config.jobs:
            c = self.ledger.counts(job.name)
            report = self.report.jobs.get(job.name)
            jobs[job.name] = JobProgress(
                total=sum(c.values()),
                posted=c["posted"] + c["done"] + c["failed"],
                collected=c["done"],
                failed=c["failed"],
                rejected=report.rejected if report is not None else 0,
            )
        return Snapshot(jobs, self.ledger.spent(), self.client.calls)

    async def snapshot(self) -> Snapshot:
        return await self.db(self.snapshot_sync)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a ledger call off the event loop, shielded so a cancel cannot tear a commit."""
        with anyio.CancelScope(shield=True):
            result = await anyio.to_thread.run_sync(partial(fn, *args), limiter=self._db)
        return result

    def load_inputs(self) -> None:
        """Stream every job's rows into the ledger (known keys are ignored)."""
        for job in self.config.jobs:
            jr = self.report.jobs.setdefault(job.name, JobReport())
            files = self.files[job.name]
            files.start_rejected()
            chunk: list[tuple[str, str, str, int, bytes, float]] = []
            for row in read_inputs(job, self.config.prices):
                if isinstance(row, RejectedRow):
                    jr.rejected += 1
                    files.write_rejected(row.line, row.reason, row.raw)
                    continue
                jr.valid += 1
                jr.estimated_cost += row.cost
                chunk.append(_ledger_row(row))
                if len(chunk) == INSERT_CHUNK:
                    self.ledger.add_inputs(chunk)
                    chunk.clear()
            self.ledger.add_inputs(chunk)

    async def reconcile(self) -> None:
        """Settle posting rows: ask id_list which of their tags exist (a crash or lost answer)."""
        if not await self.db(self.ledger.posting_tags):
            return
        now = datetime.now(UTC)
        start = (now - timedelta(days=30)).strftime(ID_LIST_FMT)
        end = (now + timedelta(days=365)).strftime(ID_LIST_FMT)
        created: dict[str, tuple[str, float]] = {}
        offset = 0
        while True:
            page = _first_result(await self.client.id_list(start, end, offset))
            for item in page:
                tag = (item.metadata or {}).get("tag")
                if isinstance(tag, str):
                    created[tag] = (item.id, item.cost)
            if len(page) < 1000:
                break
            offset += len(page)
        found, released = await self.db(self.ledger.reconcile, created)
        log.warning("reconciled found=%d released=%d", found, released)

    async def produce(self) -> None:
        """Post every pending input, 100 a call, within the budget."""
        try:
            for job in self.config.jobs:
                await self._produce_job(job)
        finally:
            self._produced.set()

    async def _produce_job(self, job: JobConfig) -> None:
        cap = self.config.budget.max_cost_usd
        while True:
            _, claimed = await self.db(self.ledger.claim_batch, job.name, MAX_TASKS_PER_POST)
            if not claimed:
                return
            if cap is not None:
                room = cap - await self.db(self.ledger.spent)
                affordable = []
                for item in claimed:
                    if item.est_cost > room + 1e-9:
                        break
                    room -= item.est_cost
                    affordable.append(item)
                if len(affordable) < len(claimed):
                    await self.db(self.ledger.release, [c.tag for c in claimed[len(affordable) :]])
                    self.report.budget_stopped = True
                    log.warning("budget_reached job=%s max_cost_usd=%s", job.name, cap)
                if not affordable:
                    return
                claimed = affordable
            tags = [c.tag for c in claimed]
            bodies = {c.tag: c.body for c in claimed}
            files = self.files[job.name]
            try:
                answer = await self.client.task_post(job.se, job.se_type, [c.body for c in claimed])
            except AmbiguousPost as exc:
                log.warning("post_answer_lost job=%s error=%s", job.name, exc)
                await self.reconcile()
                continue
            except RequestRejected as exc:
                code, message = exc.status_code, exc.status_message
                refused = [
                    (t, code, message, refusal_line(None, code, message, bodies[t])) for t in tags
                ]
                await self.db(files.write_refusals, refused)
                continue
            except TransientApiError:
                await self.db(self.ledger.release, tags)
                raise
            created, refused = [], []
            retry = tags[len(answer.tasks or []) :]  # no answer for these: not created
            for tag, task in zip(tags, answer.tasks or [], strict=False):
                disposition = classify(task.status_code)
                if disposition is Disposition.SUCCESS:
                    created.append((tag, task.id, task.cost))
                elif disposition is Disposition.TRANSIENT:
                    retry.append(tag)  # 50301/50401 on a task: it was not created
                else:
                    code, message = task.status_code, task.status_message
                    line = refusal_line(task.id, code, message, bodies[tag])
                    refused.append((tag, code, message, line))
            await self.db(self.ledger.mark_posted, created)
            await self.db(files.write_refusals, refused)
            await self.db(self.ledger.release, retry)

    async def collect(self) -> None:
        """Poll tasks_ready into a queue that fetch workers drain; one sink writer settles what
        they fetched in batches (one fsync and one transaction for many tasks)."""
        fetch_send, fetch_receive = anyio.create_memory_object_stream[tuple[str, JobConfig]](
            math.inf
        )
        sink_send, sink_receive = anyio.create_memory_object_stream[Collected](SINK_BATCH)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._write_sink, sink_receive)
            async with sink_send, fetch_send, anyio.create_task_group() as workers:
                for _ in range(self.config.api.max_concurrency):
                    workers.start_soon(self._fetch_worker, fetch_receive.clone(), sink_send.clone())
                fetch_receive.close()
                await self._poll(fetch_send)
                fetch_send.close()  # the workers finish what is queued, then end

    async def _poll(self, queue: MemoryObjectSendStream[tuple[str, JobConfig]]) -> None:
        """Queue our ready tasks, and overdue ones by id, until nothing is in flight.

        An id stays in `_queued` until its result is settled, so neither tasks_ready nor the
        overdue sweep can queue it twice. The next page is asked for while the workers still
        have `max_concurrency` tasks in hand, so they never wait for it.
        """
        api = self.config.api
        interval = api.rate_period_s / api.tasks_ready_per_minute
        last_sweep = time.monotonic()
        while True:
            ready = _first_result(await self.client.tasks_ready())
            fresh = [item.id for item in ready if item.id not in self._queued]
            ours = await self.db(self.ledger.posted_jobs, fresh) if fresh else {}
            if time.monotonic() - last_sweep > min(api.overdue_s, max(SWEEP_MIN_S, 5 * interval)):
                last_sweep = time.monotonic()
                overdue = await self.db(self.ledger.posted, time.time() - api.overdue_s)
                ours.update((t, j) for t, j in overdue if t not in self._queued)
            for task_id, job in ours.items():
                if job not in self.jobs:
                    continue  # a job since removed from the config: left for a config that has it
                self._queued.add(task_id)
                queue.send_nowait((task_id, self.jobs[job]))
            # Once the producer is done, what is still pending (over budget) cannot move this run.
            if (
                self._produced.is_set()
                and not self._queued
                and await self.db(self.ledger.in_flight, list(self.jobs)) == 0
            ):
                return
            if ours:
                while len(self._queued) > api.max_concurrency:
                    self._settled = anyio.Event()
                    await self._settled.wait()
            else:
                await anyio.sleep(interval)

    def _unqueue(self, task_ids: list[str]) -> None:
        self._queued.difference_update(task_ids)
        self._settled.set()

    async def _fetch_worker(
        self,
        queue: MemoryObjectReceiveStream[tuple[str, JobConfig]],
        sink: MemoryObjectSendStream[Collected],
    ) -> None:
        async with queue, sink:
            async for task_id, job in queue:
                collected = await self.fetch(task_id, job)
                if collected is None:
                    self._unqueue([task_id])  # not finished after all: a later sweep retries
                else:
                    await sink.send(collected)

    async def fetch(self, task_id: str, job: JobConfig) -> Collected | None:
        """Get one task; its raw bytes, unless it is still pending."""
        raw = await self.client.task_get(job.se, job.se_type, task_id)
        tasks = TASK_GET_HEAD.decode(raw).tasks or []
        if not tasks:
            return None
        task_raw = bytes(tasks[0])
        head = TASK_HEAD.decode(task_raw)
        disposition = classify(head.status_code)
        if disposition is Disposition.SUCCESS:
            return Collected(
                job.name, task_id, True, head.status_code, head.status_message, task_raw
            )
        if disposition in (Disposition.TASK_FAILED, Disposition.REJECTED):
            return Collected(
                job.name, task_id, False, head.status_code, head.status_message, task_raw
            )
        return None

    async def _write_sink(self, receive: MemoryObjectReceiveStream[Collected]) -> None:
        """Settle what the workers fetched, as much as is waiting (up to SINK_BATCH) at once."""
        async with receive:
            async for first in receive:
                batch = [first]
                while len(batch) < SINK_BATCH:
                    try:
                        batch.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self.db(self._settle, batch)
                self._unqueue([c.task_id for c in batch])

    def _settle(self, batch: list[Collected]) -> None:
        """Append and settle one batch, per job and file (runs in the ledger's thread)."""
        for name, files in self.files.items():
            done = [(c.task_id, c.raw) for c in batch if c.job == name and c.ok]
            failed = [
                (c.task_id, c.status_code, c.status_message, c.raw)
                for c in batch
                if c.job == name and not c.ok
            ]
            files.write_results(done)
            files.write_failures(failed)

    async def execute(self, max_runtime_s: float | None) -> RunReport:
        """Reconcile, then post and collect concurrently until done or out of time."""
        with anyio.move_on_after(max_runtime_s) as scope:
            await self.reconcile()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.produce)
                tg.start_soon(self.collect)
        self.report.timed_out = scope.cancelled_caught
        for name, jr in self.report.jobs.items():
            jr.counts = await self.db(self.ledger.counts, name)
        self.report.spent = await self.db(self.ledger.spent)
        self.report.outstanding = await self.db(self.ledger.outstanding)
        return self.report


def _first_result(answer: Response[R]) -> list[R]:
    """`tasks[0].result` of a one-task answer, or [] when it is empty or null."""
    if not answer.tasks or not answer.tasks[0].result:
        return []
    return answer.tasks[0].result


def _ledger_row(row: ValidInput) -> tuple[str, str, str, int, bytes, float]:
    return (row.job, row.key, row.tag, row.line, row.body, row.cost)
