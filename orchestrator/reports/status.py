"""`orchestrator status`: what the ledger says, without calling the API or taking the lock (a
run may be going on; SQLite's WAL lets us read its last committed state)."""

import time
from dataclasses import dataclass, field
from typing import Final

from orchestrator.config import Config, ledger_password
from orchestrator.ledger import DONE, FAILED, MISSED, Ledger
from orchestrator.pipeline.schedule import current_period

LATEST_PERIODS: Final = 4  # periods `status` shows per recurring job


@dataclass
class PeriodStatus:
    """One period of a recurring job: its counts, spend and what is still outstanding."""

    period: str
    counts: dict[str, int]
    spent_usd: float
    outstanding: int
    pruned: int  # settled rows removed by pruning (their spend is still counted)


@dataclass
class JobStatus:
    """One job as the ledger sees it."""

    counts: dict[str, int]
    spent_usd: float
    oldest_outstanding_id: str | None = None
    oldest_outstanding_age_s: float | None = None
    every: str | None = None
    current_period: str | None = None  # the period that holds "now", for a recurring job
    periods: list[PeriodStatus] = field(default_factory=list)  # newest first


@dataclass
class LastRun:
    started_at: float
    ended_at: float | None
    exit_code: int | None
    reason: str | None  # None: still running, or killed before it could record its end
    waiting: str | None = None  # what it was waiting on when last seen (while it runs)
    waiting_until: float | None = None
    # With postbacks: tasks the receiver settled, and tasks collected by polling instead
    delivered: int | None = None
    polled: int | None = None


@dataclass
class Status:
    ledger: str
    jobs: dict[str, JobStatus] = field(default_factory=dict)
    spent_usd: float = 0.0
    last_run: LastRun | None = None


def read_status(config: Config, now: float | None = None) -> Status:
    """Per job: counts by state, spend, the oldest posted task and its age; and the last run."""
    now = time.time() if now is None else now
    ledger = Ledger.reader(config.state.location, ledger_password(config.state))
    try:
        status = Status(ledger=ledger.path, spent_usd=round(ledger.spent(), 6))
        configured = {job.name: job for job in config.jobs}
        names = list(configured)
        names += [name for name in ledger.jobs() if name not in names]  # removed from config
        for name in names:
            job = JobStatus(ledger.counts(name), round(ledger.job_spent(name), 6))
            spec = configured.get(name)
            if spec is not None and spec.every is not None:
                job.every = spec.every
                period = current_period(config, spec, now)
                job.current_period = None if period is None else period.key
            keys = [p for p in ledger.periods(name, LATEST_PERIODS + 1) if p]
            if job.current_period and job.current_period not in keys:
                keys.insert(0, job.current_period)
            for key in sorted(keys, reverse=True)[:LATEST_PERIODS]:
                counts, spent, pruned = ledger.period_summary(name, key)
                settled = counts[DONE] + counts[FAILED] + counts[MISSED]
                outstanding = sum(counts.values()) - settled
                job.periods.append(PeriodStatus(key, counts, round(spent, 6), outstanding, pruned))
            oldest = ledger.oldest_posted(name)
            if oldest is not None:
                job.oldest_outstanding_id = oldest[0]
                job.oldest_outstanding_age_s = max(0.0, now - oldest[1])
            status.jobs[name] = job
        last = ledger.last_run()
        if last is not None:
            status.last_run = LastRun(*last)
    finally:
        ledger.close()
    return status


__all__ = ["JobStatus", "LastRun", "PeriodStatus", "Status", "read_status"]
