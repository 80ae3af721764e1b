"""The one sink both collectors feed: the poller (tasks fetched by task_get) and the receiver
(tasks pushed by postback). Tasks are settled in batches, one append, one fsync and one
transaction for as many as are waiting, so a burst of deliveries costs one fsync, not one each.
A collector that must not answer before its task is on disk (the receiver: the API forgets a
delivery that got its 200) waits for the batch that holds it.
"""

import dataclasses
import logging
import time
from collections.abc import Callable, Container
from typing import Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from orchestrator.pipeline.bucket_sink import Gathered, record, upload
from orchestrator.pipeline.collected import Collected
from orchestrator.pipeline.context import RunContext
from orchestrator.pipeline.deliveries import deliveries, falling_back
from orchestrator.pipeline.sink import JobFiles
from orchestrator.pipeline.tags import is_rows
from orchestrator.storage.parts import Part

log = logging.getLogger(__name__)
SINK_BATCH: Final = 200  # most tasks settled by one append + fsync + transaction
PARTS_WRITING: Final = 2  # a bucket's parts uploaded at once while the next one gathers
LULL_S: Final = 0.2  # a part is closed early when no answer came for this long


def _wait_s(due_in: float | None) -> float | None:
    """How long the sink waits for answers: until its open part is due, or a lull."""
    return None if due_in is None else min(due_in, LULL_S)


def checked(
    run: RunContext, batch: list[Collected], gathered: Container[str] = ()
) -> tuple[list[Collected], dict[str, tuple[str, str]]]:
    """Of one batch, the answers to write (runs in the ledger's thread): only tasks still
    *posted* and claimed by this run (ledger/workers.py), once each, and not among those
    `gathered` for a part already. An answer whose echoed tag is not its row's (another task's
    result under this id) is refused. A task of job "" gets the job and period the ledger says
    (one query for the batch). Returns the answers to write and the (job, period) of each id
    refused."""
    open_ = run.ledger.claim_answers([c.task_id for c in batch if c.task_id not in gathered])
    found: dict[str, Collected] = {}
    refused: dict[str, tuple[str, str]] = {}
    for c in batch:
        if c.task_id not in open_:
            continue
        job, period, row_tag = open_[c.task_id]
        if not c.ours and not is_rows(c.tag, row_tag, run.ledger.id):
            log.warning(
                "foreign_answer task=%s echoed_tag=%r row=%s: not written, asked again",
                c.task_id,
                c.tag,
                row_tag,
            )
            refused[c.task_id] = (job, period)
            continue
        found[c.task_id] = c if c.job else dataclasses.replace(c, job=job, period=period)
    return list(found.values()), refused


def settle(run: RunContext, batch: list[Collected]) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """Append and settle one batch in local files, per job, period and file (runs in the
    ledger's thread): a task both collectors got (a postback while its task_get was under way)
    is written once, and one not ours not at all. Returns the task ids written and the (job,
    period) of each id refused."""
    batch, refused = checked(run, batch)
    places = dict.fromkeys((c.job, c.period) for c in batch)
    for job, period in places:
        files = run.files_for(job, period)
        assert isinstance(files, JobFiles)
        mine = [c for c in batch if c.job == job and c.period == period]
        files.write_results([(c.task_id, c.raw) for c in mine if c.ok])
        files.write_failures(
            [(c.task_id, c.status_code, c.status_message, c.raw) for c in mine if not c.ok]
        )
    return {c.task_id for c in batch}, refused


class Ack:
    """A collector's wait for its task's batch, and whether its task was written."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.written = False


Entry = tuple[Collected, Ack | None]


class SinkWriter:
    """Settles what the collectors hand it, as much as is waiting (up to SINK_BATCH) at once.
    `on_settled` hears the task ids of each settled batch (the poller unqueues them), and
    `on_refused` the ids whose answer was refused (the poller asks for them again)."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.send: MemoryObjectSendStream[Entry]
        self.receive: MemoryObjectReceiveStream[Entry]
        self.send, self.receive = anyio.create_memory_object_stream[Entry](SINK_BATCH)
        self.on_settled: list[Callable[[list[str]], None]] = []
        self.on_refused: list[Callable[[str, str, str], None]] = []  # task id, job, period
        # With a bucket: ids gathered into a part, which only the sink can settle now (they
        # stay in `settling` until it is recorded, so no collector takes them up again)
        self.on_taken: list[Callable[[list[str]], None]] = []
        self.settling: set[str] = set()  # handed in, not yet on disk: never twice in a batch
        self.delivered = 0  # tasks written from a delivery (the receiver's way in)
        self.polled = 0  # tasks written from a task_get (the poller's)
        self._warned = False

    async def put(self, collected: Collected) -> None:
        """Hand a task over; return once it is queued (the poller's way)."""
        self.settling.add(collected.task_id)
        await self.send.send((collected, None))

    async def put_and_wait(self, collected: Collected) -> bool:
        """Hand a task over; return once its batch is written, fsynced and settled (the
        receiver's way): True if this task was written, False if it is not an open task of
        this ledger (unknown, not yet recorded as posted, or settled already)."""
        ack = Ack()
        self.settling.add(collected.task_id)
        await self.send.send((collected, ack))
        await ack.event.wait()
        return ack.written

    async def write(self) -> None:
        """Settle batches until the stream is closed (`close`) and drained: appended to local
        files, or gathered into a bucket's parts."""
        async with self.receive:
            if self.run.bucket is not None:
                await self._write_parts()
                return
            while (entries := await self._entries(None)) is not None:
                batch = [collected for collected, _ in entries]
                written, refused = await self.run.db(settle, self.run, batch)
                self._done([(c.task_id, ack, c.task_id in written) for c, ack in entries])
                self._heard_refused(refused)  # after: the poller unqueues, then asks again

    async def _entries(self, wait_s: float | None) -> list[Entry] | None:
        """What is waiting, up to SINK_BATCH, waiting up to `wait_s` (None: for ever) for the
        first: [] if none came, None once the stream is closed and drained."""
        with anyio.move_on_after(wait_s):
            try:
                entries = [await self.receive.receive()]
            except anyio.EndOfStream:
                return None
            while len(entries) < SINK_BATCH:
                try:
                    entries.append(self.receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            return entries
        return []

    async def _write_parts(self) -> None:
        """Gather checked answers into parts; write and record them when one is full, its
        time is up, no answer came for LULL_S (the end of a run, a lull), and at the end. Up
        to PARTS_WRITING are written at once while the next gathers, so an upload does not
        hold the collectors back."""
        output = self.run.config.output
        gathered: Gathered[Ack | None] = Gathered(int(output.part_mb * 1e6), output.part_s)
        slots = anyio.Semaphore(PARTS_WRITING)
        async with anyio.create_task_group() as writers:
            while (entries := await self._entries(_wait_s(gathered.due_in()))) is not None:
                if entries:
                    await self._gather(gathered, entries)
                if gathered.due_in() == 0 or (not entries and gathered.due_in() is not None):
                    await slots.acquire()
                    writers.start_soon(self._flush, gathered, gathered.take(), slots)
            if gathered.due_in() is not None:
                await slots.acquire()
                writers.start_soon(self._flush, gathered, gathered.take(), slots)

    async def _gather(self, gathered: "Gathered[Ack | None]", entries: list[Entry]) -> None:
        """Check a batch and gather what is to be written; answer the rest at once."""
        batch = [collected for collected, _ in entries]
        found, refused = await self.run.db(checked, self.run, batch, gathered)
        chosen = {c.task_id: c for c in found}
        missed = []
        for collected, ack in entries:
            if collected.task_id in gathered:
                gathered.add(collected, ack)
            elif collected.task_id in chosen:
                gathered.add(chosen[collected.task_id], ack)
            else:
                missed.append((collected.task_id, ack, False))
        self._done(missed)
        self._heard_refused(refused)  # after: the poller unqueues, then asks again
        taken = [c.task_id for c in found]
        for listener in self.on_taken:
            listener(taken)

    async def _flush(
        self,
        gathered: "Gathered[Ack | None]",
        taken: tuple[list[Part], list[str]],
        slots: anyio.Semaphore,
    ) -> None:
        """Upload the parts taken, then record them with their tasks."""
        parts, ids = taken
        names = self.run.part_names
        try:
            assert self.run.bucket is not None
            await self.run.db(names.note_folders, self.run.ledger, parts)
            written = await upload(self.run.bucket, names, parts)
            await self.run.db(record, self.run.ledger, written)
        finally:
            slots.release()
        waiters = gathered.finish(ids)
        self._done(
            [(tid, ack, n == 0) for tid, acks in waiters.items() for n, ack in enumerate(acks)]
        )

    def _heard_refused(self, refused: dict[str, tuple[str, str]]) -> None:
        for task_id, (job, period) in refused.items():
            for heard in self.on_refused:
                heard(task_id, job, period)

    def _done(self, outcomes: list[tuple[str, Ack | None, bool]]) -> None:
        """Tasks are off the sink: (task id, its collector's wait, whether it was written)."""
        if not outcomes:
            return
        ids = [task_id for task_id, _, _ in outcomes]
        self.settling.difference_update(ids)
        self.run.last_settled = time.monotonic()
        for listener in self.on_settled:
            listener(ids)
        for _, ack, written in outcomes:
            if ack is not None:
                ack.written = written
                ack.event.set()
                self.delivered += written
            else:
                self.polled += written
        self._warn_once()

    def _warn_once(self) -> None:
        """With postbacks on, say once when the poller collects what deliveries should have."""
        if self.run.config.postback is None or self._warned:
            return
        if falling_back(self.delivered, self.polled):
            self._warned = True
            log.warning("postbacks_falling_back %s", deliveries(self.delivered, self.polled))

    def close(self) -> None:
        self.send.close()
