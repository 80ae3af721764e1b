"""The sink's side of `[output] url`: answers the sink has checked are gathered into parts (one
per job, period and results/failed) until `part_mb` of JSON or `part_s` seconds, then each part
is uploaded whole (asynchronously: the event loop goes on) and recorded in the ledger together
with the tasks it settles (storage/parts.py says why that is exactly once). Until then its
tasks stay *posted* and in the sink's `settling` set, so the poller does not fetch them again,
and a delivery waits for its part before it is answered.
"""

import time
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio

from orchestrator.ledger import Ledger
from orchestrator.pipeline.collected import Collected
from orchestrator.pipeline.sink import RejectedRows
from orchestrator.storage.layout import FAILED, RESULTS
from orchestrator.storage.parts import BucketRefusals, Part, PartNames, encode

if TYPE_CHECKING:
    from orchestrator.storage.bucket import Bucket  # obstore: imported only with a bucket


W = TypeVar("W")


class BucketFiles(RejectedRows):
    """A period's outputs with a bucket: refusals as failed parts, rejected rows on disk."""

    def __init__(self, folder: Path, refusals: BucketRefusals) -> None:
        super().__init__(folder)
        self.refusals = refusals

    def write_refusals(self, refused: list[tuple[str, int, str, bytes]]) -> None:
        self.refusals.write_refusals(refused)


class Gathered(Generic[W]):
    """The open parts: answers the sink has checked and not yet written, and per task who
    waits for its part (the first gathered is the one written; a duplicate only waits). A
    part taken to be written is `writing` until `finish`: its tasks still count as gathered,
    so a duplicate arriving meanwhile waits for it instead of being written again."""

    def __init__(self, part_bytes: int, part_s: float) -> None:
        self.part_bytes, self.part_s = part_bytes, part_s
        self.parts: dict[tuple[str, str, str], Part] = {}
        self.waiters: dict[str, list[W]] = {}
        self.writing: dict[str, list[W]] = {}
        self.size = 0
        self.opened = 0.0  # monotonic time of the oldest gathered answer

    def __contains__(self, task_id: object) -> bool:
        return task_id in self.waiters or task_id in self.writing

    def add(self, collected: Collected, waiter: W) -> None:
        """Gather one checked answer (`collected.job` set); a task gathered already only
        waits for its part."""
        c = collected
        for known in (self.waiters, self.writing):
            if c.task_id in known:
                known[c.task_id].append(waiter)
                return
        if not self.waiters:
            self.opened = time.monotonic()
        kind = RESULTS if c.ok else FAILED
        part = self.parts.setdefault((c.job, c.period, kind), Part(c.job, c.period, kind))
        part.lines.append(c.raw)
        if c.ok:
            part.done.append(c.task_id)
        else:
            part.failed.append((c.task_id, c.status_code, c.status_message))
        self.waiters[c.task_id] = [waiter]
        self.size += len(c.raw) + 1

    def due_in(self) -> float | None:
        """Seconds until the open parts must be written (0: now), None when there are none."""
        if not self.waiters:
            return None
        if self.size >= self.part_bytes:
            return 0.0
        return max(0.0, self.opened + self.part_s - time.monotonic())

    def take(self) -> tuple[list[Part], list[str]]:
        """The open parts, to be written, and their task ids (for `finish`)."""
        parts, ids = list(self.parts.values()), list(self.waiters)
        self.writing.update(self.waiters)
        self.parts, self.waiters, self.size = {}, {}, 0
        return parts, ids

    def finish(self, ids: list[str]) -> dict[str, list[W]]:
        """Who waited for these tasks, once their parts are recorded."""
        return {task_id: self.writing.pop(task_id) for task_id in ids}


async def upload(
    bucket: "Bucket", names: PartNames, parts: list[Part]
) -> list[tuple[str, int, Part]]:
    """Write each part whole, at once; (key, size, part) of each, in order."""
    written: list[tuple[str, int, Part]] = [("", 0, part) for part in parts]

    async def one(n: int, part: Part) -> None:
        key = names.key(part)
        body = await anyio.to_thread.run_sync(encode, part.lines, names.gzipped)
        part.lines = []  # the body holds them now
        await bucket.put(key, body)
        written[n] = (key, len(body), part)

    async with anyio.create_task_group() as tg:
        for n, part in enumerate(parts):
            tg.start_soon(one, n, part)
    return written


def record(ledger: Ledger, written: list[tuple[str, int, Part]]) -> None:
    """Record each uploaded part with the tasks it settles (the ledger's thread)."""
    for key, size, part in written:
        ledger.settle(key, size, part.done, part.failed)
