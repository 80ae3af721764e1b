"""The one sink both collectors feed: the poller (tasks fetched by task_get) and the receiver
(tasks pushed by postback). Tasks are settled in batches, one append, one fsync and one
transaction for as many as are waiting, so a burst of deliveries costs one fsync, not one each.
A collector that must not answer before its task is on disk (the receiver: the API forgets a
delivery that got its 200) waits for the batch that holds it.
"""

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from orchestrator.errors import Disposition, classify
from orchestrator.pipeline.context import RunContext
from orchestrator.pipeline.deliveries import deliveries, falling_back
from orchestrator.pipeline.sink import TASK_GET_HEAD, TASK_HEAD
from orchestrator.pipeline.tags import is_rows

log = logging.getLogger(__name__)
SINK_BATCH: Final = 200  # most tasks settled by one append + fsync + transaction


@dataclass(frozen=True, slots=True)
class Collected:
    """A task's answer on its way to the sink: its raw bytes and where they go."""

    job: str
    period: str
    task_id: str
    ok: bool  # results.jsonl if true, failed.jsonl if not
    status_code: int
    status_message: str
    raw: bytes
    tag: str | None = None  # the tag the answer echoes: it must be the row's
    ours: bool = False  # made here, not an answer (a refused task_get): no tag to check


def collected_of(
    raw: bytes, job: str = "", period: str = "", task_id: str | None = None
) -> Collected | None:
    """A task_get/advanced answer (or a postback, the same envelope) as a Collected: None if
    the task is not finished, or the answer is not about `task_id` (given). A job of ""
    leaves its job and period for the sink to find in the ledger."""
    answer = answer_of(raw, job, period, task_id)
    return answer if isinstance(answer, Collected) else None


def answer_of(
    raw: bytes, job: str = "", period: str = "", task_id: str | None = None
) -> Collected | bool:
    """`collected_of`, and when nothing is collected, whether the answer says the task is
    not finished yet (True: 40601, 40602), which unlike an error (False: a transient code, no
    task, another task's answer) cannot have taken it off tasks_ready."""
    tasks = TASK_GET_HEAD.decode(raw).tasks or []
    if not tasks:
        return False
    task_raw = bytes(tasks[0])
    head = TASK_HEAD.decode(task_raw)
    if task_id is None:
        task_id = head.id
    if not task_id or (head.id and head.id != task_id):
        return False
    disposition = classify(head.status_code)
    if disposition not in (Disposition.SUCCESS, Disposition.TASK_FAILED, Disposition.REJECTED):
        return disposition is Disposition.PENDING
    ok = disposition is Disposition.SUCCESS
    tag = head.data.tag if head.data is not None else None
    return Collected(job, period, task_id, ok, head.status_code, head.status_message, task_raw, tag)


def settle(run: RunContext, batch: list[Collected]) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """Append and settle one batch, per job, period and file (runs in the ledger's thread).
    Only tasks still *posted* are written: a task both collectors got (a postback while its
    task_get was under way) is written once, and one not ours not at all. An answer whose
    echoed tag is not its row's (another task's result under this id) is refused. A task of
    job "" goes where the ledger says (one query for the batch). Returns the task ids written
    and the (job, period) of each id refused."""
    open_ = run.ledger.posted_rows([c.task_id for c in batch])
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
    batch = list(found.values())
    places = dict.fromkeys((c.job, c.period) for c in batch)
    for job, period in places:
        files = run.files_for(job, period)
        mine = [c for c in batch if c.job == job and c.period == period]
        files.write_results([(c.task_id, c.raw) for c in mine if c.ok])
        files.write_failures(
            [(c.task_id, c.status_code, c.status_message, c.raw) for c in mine if not c.ok]
        )
    return set(found), refused


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
        """Settle batches until the stream is closed (`close`) and drained."""
        async with self.receive:
            async for first in self.receive:
                entries = [first]
                while len(entries) < SINK_BATCH:
                    try:
                        entries.append(self.receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                batch = [collected for collected, _ in entries]
                written, refused = await self.run.db(settle, self.run, batch)
                ids = [c.task_id for c in batch]
                self.settling.difference_update(ids)
                self.run.last_settled = time.monotonic()
                for listener in self.on_settled:
                    listener(ids)
                for task_id, (job, period) in refused.items():
                    for heard in self.on_refused:
                        heard(task_id, job, period)
                for collected, ack in entries:
                    if ack is not None:
                        ack.written = collected.task_id in written
                        ack.event.set()
                        self.delivered += ack.written
                    else:
                        self.polled += collected.task_id in written
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
