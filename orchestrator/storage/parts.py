"""Results in a bucket, exactly once: immutable part objects, each written whole and then
recorded in the ledger, in the transaction that settles its tasks.

    <prefix>/<job>/period=2026-11-23/results-000012-000003.jsonl.gz   run 12's third part
    <prefix>/<job>/period=2026-11-23/failed-000012-000001.jsonl.gz
    <prefix>/<job>/.orchestrator-ledger                                 whose ledger writes here

A part's tasks stay *posted* until its object is in the bucket and recorded: a crash before the
upload loses only memory (those tasks are fetched again; task_get is free for 30 days), and a
crash between upload and record leaves an object no reader takes, because readers read the
ledger's list of parts, never a listing. The next run deletes such orphans (parts of earlier
runs the ledger never recorded). Across SIGKILLs, every input is one line over the recorded
parts.

Object stores have no append, so the sink gathers settled answers into a part and closes it at
`part_mb` of JSON or `part_s` seconds after its first answer, whichever comes first; a delivery
is answered 200 only once its part is recorded, so `part_s` bounds that wait.
"""

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Final

from orchestrator.errors import ForeignOutput
from orchestrator.ledger import Ledger
from orchestrator.ledger.bucket_folders import EVERYWHERE
from orchestrator.storage.layout import FAILED, MARKER, PARTITION, RESULTS, Exists

if TYPE_CHECKING:
    from orchestrator.storage.bucket import Bucket  # obstore: imported only with a bucket

PART: Final = re.compile(r"(?:^|/)(results|failed)-(\d{6,})-(\d{6,})\.jsonl(?:\.gz)?$")
_HINT: Final = (
    "a run writes only where its own ledger has written: point [output] url elsewhere,"
    " or move those objects away"
)


def folder_key(job: str, period: str) -> str:
    """A job's period partition in the bucket ('g/period=2026-11-23/'; 'g/' for one-shot)."""
    return f"{job}/{PARTITION}{period}/" if period else f"{job}/"


def part_key(job: str, period: str, kind: str, run_id: int, seq: int, gzipped: bool) -> str:
    suffix = ".jsonl.gz" if gzipped else ".jsonl"
    return f"{folder_key(job, period)}{kind}-{run_id:06d}-{seq:06d}{suffix}"


def period_of(key: str, job: str) -> str | None:
    """The period of a part's key ('' for a one-shot job's), None if not a results part."""
    found = PART.search(key)
    if found is None or found.group(1) != RESULTS:
        return None
    folder = key[: found.start() + (key[found.start()] == "/")].removeprefix(f"{job}/")
    return folder.removeprefix(PARTITION).rstrip("/")


def encode(lines: list[bytes], gzipped: bool) -> bytes:
    """A part's body. gzip's fastest level: SERP JSON shrinks 6.6x at 5.8 s of CPU a GB,
    against 8.5x at 20.8 s at the default level 6 (depth-100 Google answers)."""
    body = b"".join(line + b"\n" for line in lines)
    return gzip.compress(body, compresslevel=1, mtime=0) if gzipped else body


def decode(chunks: Iterator[bytes], gzipped: bool) -> Iterator[bytes]:
    """The non-blank lines of a part, streamed from its chunks."""
    import zlib

    inflate = zlib.decompressobj(wbits=31) if gzipped else None
    rest = b""
    for chunk in chunks:
        data = rest + (inflate.decompress(chunk) if inflate is not None else chunk)
        *lines, rest = data.split(b"\n")
        yield from (line for line in lines if line.strip())
    if rest.strip():
        yield rest


def claim(bucket: "Bucket", job: str, ledger: Ledger) -> list[str]:
    """Make sure a run may write under `job/`: its marker names this ledger, or there is none
    and no part this ledger did not record (then the marker is written, create-only). Deletes
    the parts the ledger never recorded of runs no longer live (ledger/workers.py): a live
    run's part may be between its write and its record. Returns their keys. Raises
    ForeignOutput when the prefix is another ledger's."""
    where = f"{bucket.url}/{job}"
    marker_key = f"{job}/{MARKER}"
    for _ in range(2):
        marker = bucket.get(marker_key)
        if marker is not None:
            owner = _owner(marker, where)
            if owner.get("ledger_id") != ledger.id:
                raise ForeignOutput(
                    where,
                    f"written by another ledger ({owner.get('ledger', '?')}, id"
                    f" {owner.get('ledger_id')}); {_HINT}",
                )
            return _sweep(bucket, job, ledger)
        objects = bucket.sizes(f"{job}/")
        recorded = ledger.recorded_files(f"{job}/")
        unrecorded = [key for key in objects if PART.search(key) and key not in recorded]
        if unrecorded:
            names = ", ".join(sorted(unrecorded)[:3])
            raise ForeignOutput(where, f"holds parts this ledger did not write ({names}); {_HINT}")
        record = json.dumps({"ledger_id": ledger.id, "ledger": ledger.path}).encode()
        try:
            bucket.put_sync(marker_key, record + b"\n", create_only=True)
            return []
        except Exists:
            continue  # another run claimed it meanwhile: look again
    raise ForeignOutput(where, f"{MARKER} changed while being read; {_HINT}")


def _sweep(bucket: "Bucket", job: str, ledger: Ledger) -> list[str]:
    """Delete the parts no run recorded of the runs no longer live, listing only the
    partitions those runs noted (ledger/bucket_folders.py; all of the job's for a ledger of
    an earlier version). Returns their keys."""
    live = ledger.live_runs()  # a live run's part may be written and not yet recorded
    noted = [
        (period, run_id) for period, run_id in ledger.bucket_folders(job) if run_id not in live
    ]
    periods = {period for period, _ in noted}
    if EVERYWHERE in periods or "" in periods:  # a one-shot job's folder is the job's own
        prefixes = [f"{job}/"]
    else:
        prefixes = sorted(folder_key(job, period) for period in periods)
    orphans = []
    for prefix in prefixes:
        recorded = ledger.recorded_files(prefix)
        orphans += [
            key
            for key in bucket.sizes(prefix)
            if PART.search(key) and key not in recorded and _run_of(key) not in live
        ]
    bucket.delete(orphans)
    ledger.forget_bucket_folders(job, noted)
    return orphans


def _run_of(key: str) -> int:
    """The run that wrote a part, from its name."""
    found = PART.search(key)
    return -1 if found is None else int(found.group(2))


def _owner(marker: bytes, where: str) -> dict[str, str]:
    try:
        found = json.loads(marker)
    except ValueError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("ledger_id"), str):
        raise ForeignOutput(where, f"{MARKER} names no ledger: remove it or fix it")
    return {str(k): str(v) for k, v in found.items()}


@dataclass
class Part:
    """Answers gathered for one object: results or failures of one job's period."""

    job: str
    period: str
    kind: str
    lines: list[bytes] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    refused: list[tuple[str, int, str]] = field(default_factory=list)


class PartNames:
    """Keys for one run's parts: its run id, a count of the parts it wrote, and the
    partitions the ledger knows it writes in (`note_folders`)."""

    def __init__(self, run_id: int, gzipped: bool) -> None:
        self.run_id, self.gzipped = run_id, gzipped
        self._seq = count(1)
        self._noted: set[tuple[str, str]] = set()

    def note_folders(self, ledger: Ledger, parts: list["Part"]) -> None:
        """Tell the ledger the partitions of these parts it does not know this run writes in
        (ledger/bucket_folders.py): before any of them is written. In the ledger's thread."""
        folders = {(part.job, part.period) for part in parts} - self._noted
        if folders:
            ledger.note_bucket_folders(folders)
            self._noted |= folders

    def key(self, part: Part) -> str:
        return part_key(
            part.job, part.period, part.kind, self.run_id, next(self._seq), self.gzipped
        )


class BucketRefusals:
    """A period's refusals (inputs task_post refused): a failed part each, written from the
    ledger's thread (they are rare and small) and recorded with the inputs they settle."""

    def __init__(self, bucket: "Bucket", ledger: Ledger, names: PartNames, job: str, period: str):
        self.bucket, self.ledger, self.names = bucket, ledger, names
        self.job, self.period = job, period

    def write_refusals(self, refused: list[tuple[str, int, str, bytes]]) -> None:
        if refused:
            part = Part(self.job, self.period, FAILED, [r[3] for r in refused])
            self.names.note_folders(self.ledger, [part])
            key = self.names.key(part)
            body = encode(part.lines, self.names.gzipped)
            self.bucket.put_sync(key, body)
            self.ledger.settle(key, len(body), [], [], [r[:3] for r in refused])
