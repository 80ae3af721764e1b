"""`orchestrator status`: what the ledger says, without calling the API or taking the lock (a
run may be going on; SQLite's WAL lets us read its last committed state)."""

import time
from dataclasses import dataclass, field

from orchestrator.config import Config
from orchestrator.ledger import Ledger


@dataclass
class JobStatus:
    """One job as the ledger sees it."""

    counts: dict[str, int]
    spent_usd: float
    oldest_outstanding_id: str | None = None
    oldest_outstanding_age_s: float | None = None


@dataclass
class LastRun:
    started_at: float
    ended_at: float | None
    exit_code: int | None
    reason: str | None  # None: still running, or killed before it could record its end


@dataclass
class Status:
    ledger: str
    jobs: dict[str, JobStatus] = field(default_factory=dict)
    spent_usd: float = 0.0
    last_run: LastRun | None = None


def read_status(config: Config, now: float | None = None) -> Status:
    """Per job: counts by state, spend, the oldest posted task and its age; and the last run."""
    now = time.time() if now is None else now
    ledger = Ledger.reader(config.state.path)
    try:
        status = Status(ledger=config.state.path, spent_usd=round(ledger.spent(), 6))
        names = [job.name for job in config.jobs]
        names += [name for name in ledger.jobs() if name not in names]  # removed from config
        for name in names:
            job = JobStatus(ledger.counts(name), round(ledger.job_spent(name), 6))
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


__all__ = ["JobStatus", "LastRun", "Status", "read_status"]
