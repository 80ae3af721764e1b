"""Periods of a recurring job: which period an instant falls in, its key, and when the next
one begins, in the job's own time zone.

Keys sort in time order within one `every` and name the period as a person would:

    hour   2026-11-23T14     (local hour; the repeated hour of a DST change is one period)
    day    2026-11-23
    week   2026-W48          (ISO 8601 week, Monday first; the year is the ISO year)
    month  2026-11

A one-shot job (no `every`) has the period key "" everywhere: its tasks' identity and outputs
stay as they were before periods existed.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Every = Literal["hour", "day", "week", "month"]
EVERY: Final[tuple[Every, ...]] = ("hour", "day", "week", "month")
ONE_SHOT: Final = ""

_FORMS: Final[dict[str, re.Pattern[str]]] = {
    "hour": re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})$"),
    "day": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "week": re.compile(r"^(\d{4})-W(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
}
_EXAMPLES: Final = {
    "hour": "2026-11-23T14",
    "day": "2026-11-23",
    "week": "2026-W48",
    "month": "2026-11",
}


class PeriodError(ValueError):
    """A period key that cannot be parsed, or does not fit the job's `every`."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; PeriodError if the system does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(
            f"unknown time zone {name!r} (an IANA name like 'Europe/Berlin')"
        ) from exc


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a schedule: its key and the instants it starts and ends (UTC epochs)."""

    every: Every
    key: str
    start: float
    end: float


def _start_of(every: Every, local: datetime) -> datetime:
    """The local wall-clock start of the period holding `local` (naive, in the job's zone)."""
    if every == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if every == "day":
        return midnight
    if every == "week":
        return midnight - timedelta(days=local.weekday())
    return midnight.replace(day=1)


def _next_start(every: Every, start: datetime) -> datetime:
    if every == "hour":
        return start + timedelta(hours=1)
    if every == "day":
        return start + timedelta(days=1)
    if every == "week":
        return start + timedelta(days=7)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _key(every: Every, start: datetime) -> str:
    if every == "hour":
        return start.strftime("%Y-%m-%dT%H")
    if every == "day":
        return start.strftime("%Y-%m-%d")
    if every == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return start.strftime("%Y-%m")


def _epoch(wall: datetime, tz: ZoneInfo) -> float:
    """A local wall-clock time as an epoch. A time skipped by a DST change (02:30 on the day
    clocks go forward) resolves to the zone's transition itself, the first instant after the
    gap, whatever its length (Australia/Lord_Howe moves 30 minutes), so a period never starts
    before its predecessor."""
    aware = wall.replace(tzinfo=tz)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back == wall:
        return aware.timestamp()
    # In the gap: fold=0 reads it with the offset before the change (an instant at or after
    # the transition), fold=1 with the offset after (an instant before it).
    after = int(wall.replace(tzinfo=tz, fold=0).timestamp())
    before = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    new_offset = datetime.fromtimestamp(after, tz).utcoffset()
    while after - before > 1:  # the transition is the first second with the new offset
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == new_offset:
            after = middle
        else:
            before = middle
    return float(after)


def period_at(every: Every, tz: ZoneInfo, epoch: float) -> Period:
    """The period of `every` in zone `tz` that holds the instant `epoch`."""
    local = datetime.fromtimestamp(epoch, tz).replace(tzinfo=None)
    start = _start_of(every, local)
    end = _next_start(every, start)
    return Period(every, _key(every, start), _epoch(start, tz), _epoch(end, tz))


def parse_key(every: Every, tz: ZoneInfo, key: str) -> Period:
    """The period a key names; PeriodError if it is malformed or of another `every`."""
    for form, pattern in _FORMS.items():
        match = pattern.match(key)
        if match is None:
            continue
        if form != every:
            raise PeriodError(
                f"{key!r} is a {form} key, but the job runs every {every} "
                f"(a {every} key looks like {_EXAMPLES[every]})"
            )
        numbers = [int(part) for part in match.groups()]
        try:
            if every == "week":
                monday = date.fromisocalendar(numbers[0], numbers[1], 1)
                start = datetime(monday.year, monday.month, monday.day)
            elif every == "month":
                start = datetime(numbers[0], numbers[1], 1)
            elif every == "day":
                start = datetime(numbers[0], numbers[1], numbers[2])
            else:
                start = datetime(numbers[0], numbers[1], numbers[2], numbers[3])
        except ValueError as exc:
            raise PeriodError(f"{key!r} is not a real {every}: {exc}") from exc
        end = _next_start(every, start)
        return Period(every, _key(every, start), _epoch(start, tz), _epoch(end, tz))
    raise PeriodError(
        f"{key!r} is not a period key (hour 2026-11-23T14, day 2026-11-23, week 2026-W48, "
        "month 2026-11)"
    )


def month_key(tz: ZoneInfo, epoch: float) -> str:
    """The calendar month (`2026-11`) holding `epoch` in zone `tz`: the monthly budget's unit."""
    return period_at("month", tz, epoch).key


def periods_in_month(every: Every, tz: ZoneInfo, epoch: float) -> int:
    """How many periods of `every` begin in the calendar month holding `epoch`: what a month
    of a recurring job costs, in batches."""
    month = period_at("month", tz, epoch)
    count = 0
    cursor = period_at(every, tz, month.start)
    if cursor.start < month.start:  # a week that began in the previous month
        cursor = period_at(every, tz, cursor.end)
    while cursor.start < month.end:
        count += 1
        cursor = period_at(every, tz, cursor.end)
    return count
