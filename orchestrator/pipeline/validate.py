"""`orchestrator validate` (and `run --dry-run`): every row checked and priced, nothing written
or posted. A recurring job's estimate is per period, and per month at the number of its periods
that begin in the current calendar month."""

import time
from typing import Final

from orchestrator.config import Config
from orchestrator.periods import periods_in_month
from orchestrator.pipeline.inputs import RejectedRow, check_input, read_inputs
from orchestrator.pipeline.outcome import JobReport, RunReport

MAX_EXAMPLES: Final = 5  # rejected rows a dry run shows per job (all are in rejected.jsonl)


def dry_run(config: Config, now: float | None = None) -> RunReport:
    """Validate every row and estimate the cost; nothing is written or posted."""
    now = time.time() if now is None else now
    report = RunReport()
    for job in config.jobs:
        check_input(job)  # a file-level problem: one error naming it, before any count
    for job in config.jobs:
        jr = report.jobs.setdefault(job.name, JobReport())
        if job.every is not None:
            jr.periods_per_month = periods_in_month(job.every, job.zone(config), now)
        seen: set[int] = set()  # keys as ints, as the loader holds them
        for row in read_inputs(job, config.prices):
            if isinstance(row, RejectedRow):
                jr.rejected += 1
                if len(jr.examples) < MAX_EXAMPLES:
                    jr.examples.append((row.line, row.reason))
                continue
            jr.valid += 1
            number = int(row.key, 16)
            if number in seen:  # a repeat, or a variant of a keyword: posted once, paid once
                jr.repeats += 1
                continue
            seen.add(number)
            jr.estimated_cost += row.cost
    return report


def monthly_cost(report: RunReport) -> float:
    """What the recurring jobs cost in the current month if every period runs in full."""
    return sum(
        job.estimated_cost * job.periods_per_month
        for job in report.jobs.values()
        if job.periods_per_month is not None
    )
