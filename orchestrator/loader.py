"""Loading: stream each job's input file into the ledger, validated, in chunks of
INSERT_CHUNK rows (one transaction each) while the producer posts what is in already; and
close the periods that are over (their pending inputs are missed, old ones pruned)."""

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

import anyio

from orchestrator.inputs import RejectedRow, read_inputs
from orchestrator.ledger import InputRow
from orchestrator.outcome import JobReport

if TYPE_CHECKING:
    from orchestrator.run import Run

log = logging.getLogger(__name__)
INSERT_CHUNK: Final = 10_000  # rows a transaction: the producer is woken after each


def chunks_of(run: "Run", name: str) -> Iterator[list[InputRow]]:
    """The job's rows of its period in this run's plan, validated, in ledger-sized chunks;
    rejected rows go to rejected.jsonl on the way. Call in the ledger's thread (it opens
    the period's files); iterate anywhere."""
    job = run.jobs[name]
    period = run.plan.key(name)
    jr = run.report.jobs[name] = JobReport(period=period)
    files = run.files_for(name, period)
    files.start_rejected()

    def chunks() -> Iterator[list[InputRow]]:
        chunk: list[InputRow] = []
        for row in read_inputs(job, run.config.prices, period):
            if isinstance(row, RejectedRow):
                jr.rejected += 1
                files.write_rejected(row.line, row.reason, row.raw)
                continue
            jr.valid += 1
            jr.estimated_cost += row.cost
            chunk.append((row.job, row.period, row.key, row.tag, row.line, row.body, row.cost))
            if len(chunk) == INSERT_CHUNK:
                yield chunk
                chunk = []
        yield chunk

    return chunks()


def load_inputs(run: "Run", jobs: Iterable[str] | None = None) -> None:
    """Stream the rows of each job's period in this run's plan into the ledger (known keys
    are ignored), all before returning."""
    for name in run.jobs if jobs is None else jobs:
        for chunk in chunks_of(run, name):
            run.ledger.add_inputs(chunk)
        run.loaded_jobs.add(name)


async def load(run: "Run") -> None:
    """Load the inputs not loaded yet while the producer posts what is in: reading and
    validating run in a worker thread, each chunk of 10k is one transaction, and the
    producer is woken after each. A SIGTERM waits for one chunk at most."""
    for name in run.jobs:
        if name in run.loaded_jobs:
            continue
        chunks = await run.db(chunks_of, run, name)
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            await run.db(run.ledger.add_inputs, chunk)
            run.more_inputs.set()
        run.loaded_jobs.add(name)
        run.more_inputs.set()
    await run.db(close_periods, run)  # the newest period now exists: prune as configured


def close_periods(run: "Run", jobs: Iterable[str] | None = None) -> None:
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
