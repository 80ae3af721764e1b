"""Loading: each job's input file goes into the ledger while the producer posts what is in
already, and the periods that are over are closed (their pending inputs missed, old ones
pruned).

The file is read and validated by a worker process (load_worker.py), or in this process when
it is small (IN_PROCESS_BYTES), and written here, chunk by chunk, each chunk one transaction
with the load's progress (`loads`). So a load cut short by a crash goes on after its last
committed line, and a file loaded in full is not read again while it and the job's recipe are
unchanged (`source_of`). Rows already in the ledger, or given twice, are left out by the
period's key set (ledger/loads.py).

With a ledger on a server, one run loads a period at a time (a lock of the server per job and
period): another run of the config posts what is in meanwhile, then finds the load done.

One load at a time in a run (`Run.load_lock`): a `--follow` run whose next period begins while the
last one still loads waits for it, and each load carries its period from its start to its last
chunk, so no row is stored under a period it was not read for.
"""

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import anyio
import msgspec
from anyio.streams.buffered import BufferedByteReceiveStream

from orchestrator import version
from orchestrator.errors import InputError, LoadFailed
from orchestrator.ledger import Progress
from orchestrator.pipeline.context import RunContext
from orchestrator.pipeline.load_worker import (
    FRAME,
    FRAME_HEADER,
    MAX_FRAME,
    Chunk,
    End,
    Failed,
    Request,
    known_keys,
)
from orchestrator.pipeline.load_worker import chunks as read_chunks
from orchestrator.pipeline.outcome import JobReport

if TYPE_CHECKING:
    from orchestrator.config import JobConfig

log = logging.getLogger(__name__)
WORKER: Final = [sys.executable, "-m", "orchestrator.pipeline.load_worker"]
HELD_AGAIN_S: Final = 1.0  # a period another run is loading: how often to look again
READ_AHEAD: Final = 1  # chunks read ahead while the ledger writes one (a few MB each)
# A file up to this size is read in the run's process: its rows are checked in less time than
# a worker process takes to start (about 0.15 s of CPU), and in parallel there is little to win.
IN_PROCESS_BYTES: Final = 1 << 20


def source_of(run: RunContext, job: "JobConfig") -> str:
    """What a load reads: the file (size, modification time, inode) and the recipe that
    turns its rows into tasks (the job's settings, the prices, this version's rules). A load
    of the same source is not done twice."""
    try:
        stat = os.stat(job.input)
    except OSError as exc:
        raise InputError(job.input, f"cannot read: {exc.strerror or exc}") from exc
    recipe = hashlib.blake2b(
        msgspec.json.encode([job, run.config.prices, version()]), digest_size=10
    ).hexdigest()
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}:{recipe}"


def begin(run: RunContext, name: str, period: str) -> tuple[Request | None, JobReport]:
    """Start (or go on with) the load of the job's `period`: what to read, or None when that
    file is in the ledger already, and the report the load adds up. Ledger's thread."""
    job = run.jobs[name]
    jr = run.report.jobs[name] = JobReport(period=period)
    files = run.files_for(name, period)
    source = source_of(run, job)
    record = run.ledger.load_record(name, period)
    has_rows = sum(run.ledger.counts(name, period).values()) > 0
    ledger, password = run.ledger.where() if has_rows else (None, None)
    if record is not None and record.source == source:
        jr.valid, jr.rejected, jr.estimated_cost = record.valid, record.rejected, record.est_cost
        if record.done:
            log.info("inputs_loaded_before job=%s period=%s valid=%d", name, period, jr.valid)
            return None, jr
        files.cut_rejected(record.rejected_size)
        log.info("load_resumed job=%s period=%s after_line=%d", name, period, record.through_line)
        return Request(job, run.config.prices, period, record.through_line, ledger, password), jr
    files.start_rejected()
    run.ledger.start_load(name, period, source)
    return Request(job, run.config.prices, period, 0, ledger, password), jr


def store(run: RunContext, name: str, jr: JobReport, chunk: Chunk) -> None:
    """Write one chunk of the load `jr` reports on: its rejected rows to rejected.jsonl, then
    its rows and the load's progress in one transaction. Ledger's thread."""
    files = run.files_for(name, jr.period)
    size = files.write_rejected_rows(chunk.rejected)
    progress = Progress(
        name,
        jr.period,
        chunk.through_line,
        chunk.valid,
        len(chunk.rejected),
        chunk.est_cost,
        size,
    )
    run.ledger.add_chunk(chunk.rows, chunk.new, progress)
    jr.valid += chunk.valid
    jr.rejected += len(chunk.rejected)
    jr.estimated_cost += chunk.est_cost


def load_inputs(run: RunContext, jobs: Iterable[str] | None = None) -> None:
    """Load the inputs of each job's period in this run's plan, in this thread and process,
    all before returning."""
    for name in run.jobs if jobs is None else jobs:
        request, jr = begin(run, name, run.plan.key(name))
        if request is not None:
            job, period = request.job, request.period
            known = known_keys(request)  # with the keys of rows keyed before normalising
            for chunk in read_chunks(job, request.prices, period, request.after_line, known):
                store(run, name, jr, chunk)
            run.ledger.finish_load(name, period)
        run.loaded_jobs.add(name)


async def load(run: RunContext) -> None:
    """Load the inputs not loaded yet of each job's period in the plan as it is when this
    load gets its turn, while the producer posts what is in: the producer is woken after each
    chunk. A SIGTERM waits for the chunk being written at most."""
    async with run.load_lock:
        periods = {name: run.plan.key(name) for name in run.jobs}
        for name, period in periods.items():
            if name in run.loaded_jobs:
                continue
            key = f"load:{name}:{period}"
            while not await run.db(run.ledger.try_hold, key):  # another run loads it
                await anyio.sleep(HELD_AGAIN_S)
                run.more_inputs.set()  # what it loaded so far is there to post
            try:
                request, jr = await run.db(begin, run, name, period)
                if request is not None:
                    if _small(request.job.input):
                        await here(run, name, request, jr)
                    else:
                        await from_worker(run, name, request, jr)
                    await run.db(run.ledger.finish_load, name, period)
            finally:
                with anyio.CancelScope(shield=True):
                    await run.db(run.ledger.let_go, key)
            if run.plan.key(name) == period:  # not if a new period began meanwhile
                run.loaded_jobs.add(name)
            run.more_inputs.set()
        await run.db(close_periods, run)  # the newest period now exists: prune as configured


async def here(run: RunContext, name: str, request: Request, jr: JobReport) -> None:
    """Read a small file in this process, a chunk at a time in the ledger's thread, and store
    each chunk as it comes: the same chunks as the worker's, without its process to start."""
    job, period = request.job, request.period
    chunks = read_chunks(job, request.prices, period, request.after_line, known_keys(request))
    while (chunk := await run.db(next, chunks, None)) is not None:
        await run.db(store, run, name, jr, chunk)
        run.more_inputs.set()


def _small(path: str) -> bool:
    try:
        return os.path.getsize(path) <= IN_PROCESS_BYTES
    except OSError:  # gone since: the worker says so as for any file it cannot read
        return False


async def from_worker(run: RunContext, name: str, request: Request, jr: JobReport) -> None:
    """Run the load worker on one job's period and store its chunks as they come."""
    send, receive = anyio.create_memory_object_stream[Chunk | End | Failed](READ_AHEAD)
    last: Chunk | End | Failed | None = None
    async with await anyio.open_process(
        WORKER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as worker:
        assert worker.stdin is not None and worker.stdout is not None
        try:
            await worker.stdin.send(msgspec.msgpack.encode(request))
            await worker.stdin.aclose()
            async with anyio.create_task_group() as tg, receive:
                tg.start_soon(_read_frames, worker, send)
                async for last in receive:
                    if not isinstance(last, Chunk):
                        break
                    await run.db(store, run, name, jr, last)
                    run.more_inputs.set()
                tg.cancel_scope.cancel()
            if isinstance(last, Failed):
                raise InputError(last.path, last.message, last.line)
            if not isinstance(last, End):
                raise LoadFailed(await _died(worker, request.job.input))
        finally:
            if worker.returncode is None:
                worker.kill()


async def _read_frames(
    worker: anyio.abc.Process, send: anyio.abc.ObjectSendStream[Chunk | End | Failed]
) -> None:
    """Frames from the worker's stdout, until its End, a Failed, or its output ends."""
    assert worker.stdout is not None
    stream = BufferedByteReceiveStream(worker.stdout)
    async with send:
        while True:
            try:
                (size,) = FRAME_HEADER.unpack(await stream.receive_exactly(FRAME_HEADER.size))
                if size > MAX_FRAME:
                    return
                frame = FRAME.decode(await stream.receive_exactly(size))
            except (anyio.EndOfStream, anyio.IncompleteRead, msgspec.DecodeError):
                return  # the receiver sees the stream end without an End
            await send.send(frame)
            if not isinstance(frame, Chunk):
                return


async def _died(worker: anyio.abc.Process, path: str) -> str:
    """Why the worker stopped: the last line it wrote on stderr, or its exit status."""
    errors = b""
    if worker.stderr is not None:
        async for block in worker.stderr:
            errors += block
    code = await worker.wait()
    last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {code}"]
    return f"{path}: the load worker stopped ({last[0]}); run again to go on from its last line"


def close_periods(run: RunContext, jobs: Iterable[str] | None = None) -> None:
    """Pending inputs of periods that are over become *missed*, and old periods are pruned
    as `[state] keep_periods` says. Called after reconciliation, which may release rows."""
    keep = run.config.state.keep_periods
    for name in run.jobs if jobs is None else jobs:
        if run.jobs[name].every is None:
            continue
        missed = run.ledger.mark_missed(name, run.plan.keep(name))
        if missed:
            log.warning("period_missed job=%s inputs=%d", name, missed)
        if keep is not None:
            pruned = run.ledger.prune(name, keep=keep)
            if pruned:
                log.info("pruned job=%s rows=%d keep_periods=%d", name, pruned, keep)
