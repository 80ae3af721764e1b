"""`report --by-week`: a daily job week over week, each ISO week the average of its
collected days; a week without any is a gap in the history, as a missed day is."""

from datetime import date, timedelta

from orchestrator.config import Config, JobConfig
from orchestrator.errors import ConfigError
from orchestrator.reports.period_table import read_view
from orchestrator.reports.period_view import PeriodView, merged
from orchestrator.reports.rankings_table import complete_periods
from orchestrator.reports.report import (
    HISTORY,
    Report,
    check_collected,
    compared,
    followed_key,
    selected,
)


def week_of(day: str) -> str:
    """The ISO week key of a day key: 2026-12-03 -> 2026-W49."""
    iso = date.fromisoformat(day).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def build_weekly(
    config: Config,
    job: JobConfig,
    source: str,
    domain: str | None,
    then: str | None,
    now: str | None,
    tag: tuple[str, str] | None,
    movers: int,
    title: str | None,
) -> Report:
    """Week over week of a daily job: `--from/--to` name days (their weeks are compared),
    else the last two weeks with collected days; a week is the average of its days."""
    if job.every != "day":
        raise ConfigError(source, "--by-week", f"job {job.name!r} runs every {job.every}, not day")
    keys = selected(config, job, source, tag)
    days = complete_periods(config, job)
    weeks: dict[str, list[str]] = {}
    for day in days:
        weeks.setdefault(week_of(day), []).append(day)
    available = sorted(weeks)
    if then is None or now is None:
        if (len(available) < 2 and then is None and now is None) or not available:
            raise ConfigError(
                source,
                "--by-week",
                f"job {job.name!r} has {len(available)} week(s) with results; a report compares"
                " two",
            )
    check_collected(config, job, source, {k: v for k, v in (("--from", then), ("--to", now)) if v})
    now_week = week_of(now) if now else available[-1]
    then_week = (
        week_of(then) if then else max((w for w in available if w < now_week), default=available[0])
    )
    tracked = followed_key(domain)

    def read(week: str, charted: tuple[str, ...] | None = None) -> PeriodView:
        days = weeks.get(week, [])
        return merged(week, [read_view(config, job, d, tracked, keys, charted) for d in days])

    order = week_calendar(available[0], now_week)[-HISTORY:]
    return compared(job.name, tracked, then_week, now_week, read, available, order, movers, title)


def week_calendar(first: str, last: str) -> list[str]:
    """Every ISO week key from `first` to `last`, those without collected days included."""
    year, week = (int(part) for part in first.split("-W"))
    monday = date.fromisocalendar(year, week, 1)
    keys = []
    while (key := week_of(monday.isoformat())) <= last:
        keys.append(key)
        monday += timedelta(days=7)
    return keys
