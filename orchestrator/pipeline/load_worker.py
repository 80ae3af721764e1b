"""The load worker: reads and validates one job's input file in its own process, and sends
the rows in chunks, so that checking a million rows (Python, one core) and writing them to
the ledger (SQLite, in the run's process) go on side by side instead of taking turns on one
interpreter's lock.

`python -m orchestrator.pipeline.load_worker` reads one `Request` (msgpack) on stdin and
writes frames on stdout: a 4-byte big-endian length, then a msgpack `Chunk`, and last an `End`
or a `Failed`. It writes nothing else, touches no file but the input, and ignores SIGINT and
SIGTERM: the run stops it (kill, or the pipe closing) when the run stops.

`chunks` is the same work in-process, for callers that load synchronously.
"""

import gc
import signal
import struct
import sys
from collections.abc import Iterable, Iterator
from typing import Final

import msgspec

from orchestrator.config import JobConfig
from orchestrator.errors import InputError
from orchestrator.pipeline.inputs import KEY_BYTES, RejectedRow, input_key, input_rows
from orchestrator.pipeline.normalise import normalised
from schemas.pricing import PriceTable

FIRST_CHUNK_ROWS: Final = 10_000  # rows read for the first chunk: the first post comes soon
# ... and for each later one (one ledger transaction): the identity index's random keys dirty
# most of its leaf pages in any commit, so bigger commits cost less a row (about 2.5x at 1M
# rows from 10k to 50k, sorted by key)
CHUNK_ROWS: Final = 50_000
FRAME_HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 1 << 31  # a chunk of 10k rows is a few MB; more is not a frame of ours


class Request(msgspec.Struct, frozen=True):
    job: JobConfig
    prices: PriceTable
    period: str
    after_line: int
    ledger: str | None  # where to read the keys the period holds already (None: it holds none)
    ledger_password: str | None = None  # a ledger on a server: sent through the pipe, not argv


class Chunk(msgspec.Struct, tag="chunk", array_like=True):
    """Rows read up to `through_line`: the new valid ones, as one JSON array of [key, tag,
    line, body text, cost] (the ledger inserts it in one statement), how many those are and
    how many were valid (repeats of a known key included), the rejected ones (line, reason,
    raw text), and what the valid ones cost."""

    rows: str
    new: int
    valid: int
    rejected: list[tuple[int, str, str]]
    through_line: int
    est_cost: float


class End(msgspec.Struct, tag="end", array_like=True):
    """The whole file was read."""


class Failed(msgspec.Struct, tag="failed", array_like=True):
    """The file cannot be read (an InputError: path, message, line)."""

    path: str
    message: str
    line: int | None


Frame = Chunk | End | Failed
FRAME: Final = msgspec.msgpack.Decoder(Frame)


def chunks(
    job: JobConfig, prices: PriceTable, period: str, after_line: int, known: Iterable[str] = ()
) -> Iterator[Chunk]:
    """The job's rows after `after_line`, validated, CHUNK_ROWS read at a time (the first
    chunk FIRST_CHUNK_ROWS), each chunk's rows sorted by key; a row whose key is `known` (in
    the ledger) or came before in the file is counted, not sent. Raises InputError for a file
    that cannot be read.

    The keys seen are held as 80-bit ints in a set (about 70 bytes each: 70 MB for a million
    inputs, for the length of one load): exact, and a tenth of the cost of any on-disk set.
    """
    seen: set[int | str] = {_compact(key) for key in known}
    rows: list[tuple[str, str, int, str, float]] = []
    rejected: list[tuple[int, str, str]] = []
    valid, cost, line, read = 0, 0.0, after_line, 0
    size = FIRST_CHUNK_ROWS
    for item in input_rows(job, prices, period, after_line):
        read += 1
        if isinstance(item, RejectedRow):
            line = item.line
            rejected.append((line, item.reason, item.raw))
        else:
            line, key, tag, body, row_cost = item
            valid += 1
            cost += row_cost
            number = int(key, 16)
            if number not in seen:
                seen.add(number)
                rows.append((key, tag, line, body.decode(), row_cost))
        if read == size:
            yield Chunk(_json(rows), len(rows), valid, rejected, line, cost)
            rows, rejected, valid, cost, read, size = [], [], 0, 0.0, 0, CHUNK_ROWS
    if read:
        yield Chunk(_json(rows), len(rows), valid, rejected, line, cost)


def _json(rows: list[tuple[str, str, int, str, float]]) -> str:
    rows.sort()  # by key: the identity index takes them in order
    return msgspec.json.encode(rows).decode()


def _compact(key: str) -> int | str:
    """An input key as the int it spells (keys made by `input_key`), or as it is (a key of
    another form, from an older version or a test, is never equal to an int)."""
    if len(key) == KEY_BYTES * 2:
        try:
            return int(key, 16)
        except ValueError:
            pass
    return key


def known_keys(request: Request) -> Iterator[str]:
    """The keys of the request's period the ledger holds (read-only, beside the run). A row
    keyed before keywords were normalised also counts under the key its keyword has now, so
    `Running Shoes` loaded by an earlier version is not posted again as `running shoes`."""
    if request.ledger is None:
        return
    from orchestrator.ledger import Ledger

    job = request.job
    ledger = Ledger.reader(request.ledger, request.ledger_password)
    try:
        if not job.normalise_keywords:
            yield from ledger.keys_of(job.name, request.period)
            return
        for key, body in ledger.keyed_bodies(job.name, request.period):
            yield key
            now = rekeyed(job.se, body)
            if now is not None:
                yield now
    finally:
        ledger.close()


def rekeyed(se: str, body: bytes) -> str | None:
    """The key of a stored task with its keyword normalised; None when that changes nothing
    (or the body is not an object with a keyword)."""
    try:
        task = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(task, dict) or not isinstance(task.get("keyword"), str):
        return None
    keyword = normalised(se, task["keyword"])
    if keyword == task["keyword"]:
        return None
    task["keyword"] = keyword
    task.pop("tag", None)
    return input_key(task)


def main() -> int:
    # No cycles are made here (rows, structs and strings die young or stay in the chunk), and
    # the collector's passes over a million young objects cost up to a fifth of the load.
    gc.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run stops this process itself
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    request = msgspec.msgpack.decode(sys.stdin.buffer.read(), type=Request)
    out = sys.stdout.buffer
    encoder = msgspec.msgpack.Encoder()

    def send(frame: Frame) -> None:
        data = encoder.encode(frame)
        out.write(FRAME_HEADER.pack(len(data)))
        out.write(data)
        out.flush()

    try:
        known = known_keys(request)
        job, prices, period, after = request.job, request.prices, request.period, request.after_line
        for chunk in chunks(job, prices, period, after, known):
            send(chunk)
    except InputError as exc:
        send(Failed(exc.path, exc.message, exc.line))
        return 0
    except BrokenPipeError:  # the run is gone: nobody to tell
        return 0
    send(End())
    return 0


if __name__ == "__main__":
    sys.exit(main())
