"""Period keys and boundaries: where a person expects them, in the job's own time zone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.periods import (
    EVERY,
    Every,
    PeriodError,
    month_key,
    parse_key,
    period_at,
    periods_in_month,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def epoch(text: str, tz: ZoneInfo = UTC_ZONE) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


@pytest.mark.parametrize(
    ("every", "key"),
    [("hour", "2026-11-23T14"), ("day", "2026-11-23"), ("week", "2026-W48"), ("month", "2026-11")],
)
def test_keys_read_as_a_person_names_the_period(every: Every, key: str) -> None:
    """Monday 2026-11-23 14:30 UTC is in hour 14, that day, ISO week 48 and November."""
    assert period_at(every, ZoneInfo("UTC"), epoch("2026-11-23T14:30:00")).key == key


def test_a_day_begins_at_local_midnight_not_utc() -> None:
    """23:30 UTC on the 22nd is already the 23rd in Berlin, and the period starts at 23:00 UTC."""
    period = period_at("day", BERLIN, epoch("2026-11-22T23:30:00"))
    assert period.key == "2026-11-23"
    assert period.start == epoch("2026-11-22T23:00:00")
    assert period.end == epoch("2026-11-23T23:00:00")


def test_a_dst_day_is_23_or_25_hours_long() -> None:
    """Berlin's clocks go forward on 2026-03-29 and back on 2026-10-25."""
    spring = parse_key("day", BERLIN, "2026-03-29")
    autumn = parse_key("day", BERLIN, "2026-10-25")
    assert spring.end - spring.start == 23 * 3600
    assert autumn.end - autumn.start == 25 * 3600


def test_the_hour_skipped_by_dst_has_no_key_and_the_repeated_one_is_one_period() -> None:
    """01:00 local ends where 03:00 begins in spring; 02:00 in autumn lasts two hours."""
    before_gap = parse_key("hour", BERLIN, "2026-03-29T01")
    assert before_gap.end - before_gap.start == 3600
    assert period_at("hour", BERLIN, before_gap.end).key == "2026-03-29T03"
    repeated = parse_key("hour", BERLIN, "2026-10-25T02")
    assert repeated.end - repeated.start == 2 * 3600


def test_a_half_hour_dst_gap_ends_the_hour_at_the_zone_s_own_transition() -> None:
    """Australia/Lord_Howe moves from 02:00 to 02:30: the hour 01 lasts one real hour and
    ends at the transition, where the hour 02 begins (at 02:30 local). Before, a gap was taken
    to last an hour: the hour 01 lasted 90 minutes and ended at 03:00."""
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    before_gap = parse_key("hour", lord_howe, "2026-10-04T01")
    assert before_gap.end - before_gap.start == 3600
    after = period_at("hour", lord_howe, before_gap.end)
    assert after.key == "2026-10-04T02" and after.start == before_gap.end
    assert datetime.fromtimestamp(after.start, lord_howe).strftime("%H:%M") == "02:30"
    day = parse_key("day", lord_howe, "2026-10-04")
    assert day.end - day.start == 24 * 3600 - 1800


def test_week_keys_use_the_iso_year() -> None:
    """2027-01-01 is a Friday of ISO week 53 of 2026."""
    assert period_at("week", ZoneInfo("UTC"), epoch("2027-01-01T12:00:00")).key == "2026-W53"
    assert parse_key("week", ZoneInfo("UTC"), "2026-W53").start == epoch("2026-12-28T00:00:00")


@pytest.mark.parametrize(
    ("every", "key", "says"),
    [
        ("day", "2026-W48", "is a week key, but the job runs every day"),
        ("week", "2026-11-23", "is a day key, but the job runs every week"),
        ("day", "2026-02-30", "is not a real day"),
        ("week", "2025-W53", "is not a real week"),
        ("hour", "2026-11-23T24", "is not a real hour"),
        ("month", "yesterday", "is not a period key"),
        ("day", "2026-11-23 ", "is not a period key"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(every: Every, key: str, says: str) -> None:
    """A malformed key, or one of another `every`, says what is wrong."""
    with pytest.raises(PeriodError, match=says):
        parse_key(every, ZoneInfo("UTC"), key)


@given(
    st.sampled_from(EVERY),
    st.sampled_from(
        ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
    ),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_periods_tile_time_and_keys_sort_in_time_order(
    every: Every, name: str, when: datetime
) -> None:
    """Each instant lies in exactly one period; the next period starts where it ends, with a
    larger key; and a period's key parses back to the same period."""
    tz = ZoneInfo(name)
    at = when.replace(tzinfo=UTC).timestamp()
    period = period_at(every, tz, at)
    assert period.start <= at < period.end
    following = period_at(every, tz, period.end)
    assert following.start == period.end and following.key > period.key
    assert parse_key(every, tz, period.key) == period


def test_a_month_of_periods() -> None:
    """November 2026 has 30 days, 720 hours and 5 Mondays; Berlin's October has one hour key
    per wall-clock hour (the repeated 02:00 is one period)."""
    at = epoch("2026-11-15T12:00:00")
    utc = ZoneInfo("UTC")
    assert periods_in_month("day", utc, at) == 30
    assert periods_in_month("hour", utc, at) == 720
    assert periods_in_month("week", utc, at) == 5  # Mondays 2, 9, 16, 23, 30
    assert periods_in_month("month", utc, at) == 1
    assert periods_in_month("hour", BERLIN, epoch("2026-10-15T12:00:00")) == 31 * 24
    assert periods_in_month("hour", BERLIN, epoch("2026-03-15T12:00:00")) == 31 * 24 - 1
    assert month_key(BERLIN, epoch("2026-11-30T23:30:00")) == "2026-12"
