"""The schedule: which period each job posts now, and when the next one begins.

A one-shot job always posts in the period "" (each input once for the ledger's life). A
recurring job posts in the period that holds "now" in its time zone, or in the one `--period`
names. Pending inputs of any other period are never posted: a past SERP cannot be had later.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from orchestrator.config import Config, JobConfig
from orchestrator.errors import ConfigError
from orchestrator.periods import ONE_SHOT, Period, PeriodError, parse_key, period_at


@dataclass(frozen=True, slots=True)
class Plan:
    """The period each job posts in this batch, and the real current one of each job."""

    posting: Mapping[str, Period | None]  # job -> period to post (None: one-shot)
    current: Mapping[str, Period | None]  # job -> the period that holds "now"
    zones: Mapping[str, ZoneInfo]

    def key(self, job: str) -> str:
        period = self.posting[job]
        return ONE_SHOT if period is None else period.key

    def keep(self, job: str) -> set[str]:
        """Periods whose pending inputs may still be posted: this batch's and the current."""
        return {p.key for p in (self.posting[job], self.current[job]) if p is not None}

    @property
    def recurring(self) -> bool:
        return any(p is not None for p in self.current.values())

    def next_start(self) -> tuple[float, str, str] | None:
        """(instant, job, key) of the earliest period after the current ones to begin."""
        upcoming = [(period.end, job) for job, period in self.current.items() if period is not None]
        if not upcoming:
            return None
        when, job = min(upcoming)
        period = self.current[job]
        assert period is not None
        return when, job, period_at(period.every, self.zones[job], when).key


def plan(config: Config, now: float, requested: str | None, source: str) -> Plan:
    """The periods of a run started at `now`; `requested` is `--period KEY` (checked against
    every recurring job's `every`: a mismatch is a ConfigError naming the job)."""
    posting: dict[str, Period | None] = {}
    current: dict[str, Period | None] = {}
    zones = {job.name: job.zone(config) for job in config.jobs}
    for job in config.jobs:
        period = current_period(config, job, now)
        current[job.name] = period
        posting[job.name] = period
        if requested is not None and job.every is not None:
            try:
                posting[job.name] = parse_key(job.every, job.zone(config), requested)
            except PeriodError as exc:
                raise ConfigError(source, "--period", f"job {job.name!r}: {exc}") from None
    if requested is not None and not any(job.every for job in config.jobs):
        raise ConfigError(source, "--period", "no job has `every`: there are no periods to name")
    return Plan(posting, current, zones)


def current_period(config: Config, job: JobConfig, now: float) -> Period | None:
    """The period of `job` that holds `now`, or None for a one-shot job."""
    if job.every is None:
        return None
    return period_at(job.every, job.zone(config), now)


def local_time(config: Config, job: str, epoch: float) -> str:
    """`epoch` as a person in the job's zone reads it: `2026-11-24 00:00 Europe/Berlin`."""
    found = next(j for j in config.jobs if j.name == job)
    tz = found.zone(config)
    return f"{datetime.fromtimestamp(epoch, tz):%Y-%m-%d %H:%M} {tz.key}"
