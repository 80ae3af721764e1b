"""The shared limiter never lets a window see more calls than the account allows."""

import time
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import (
    AccountError,
    Disposition,
    RequestRejected,
    TransientApiError,
    classify,
    error_for,
)
from orchestrator.wire.limiter import AccountLimiter, CallLog, shape_bucket


@given(st.integers(min_value=1, max_value=100_000), st.floats(min_value=0.1, max_value=3600))
def test_bucket_shape_keeps_burst_plus_rate_times_window_within_the_limit(
    limit: int, window: float
) -> None:
    """burst + rate x window <= limit, and the steady rate stays within 0.5% (+1 call) of it."""
    shape = shape_bucket(limit, window)
    if limit == 1:  # one call, then the next only once the window has passed
        assert (shape.burst, shape.period_s) == (1, window)
        return
    assert shape.burst + shape.rate_per_s * window <= limit * (1 + 1e-9)
    assert shape.rate_per_s * window >= limit * 0.995 - 1


def test_default_limit_is_not_aiolimiters_double_burst() -> None:
    """2000/60 s becomes a 10-call burst refilling at 1990 per minute, not 2000 + 2000."""
    shape = shape_bucket(2000, 60)
    assert shape.burst == 10
    assert shape.rate_per_s * 60 == pytest.approx(1990)


async def test_no_window_of_admitted_calls_exceeds_the_limit() -> None:
    """Hammered by 40 callers, the limiter admits at most `limit` calls in any window."""
    limit, window = 30, 0.5
    limiter = AccountLimiter(limit, window, 5, max_concurrency=40)
    admitted: list[float] = []

    async def caller() -> None:
        for _ in range(4):
            async with limiter.call():
                admitted.append(anyio.current_time())

    async with anyio.create_task_group() as tg:
        for _ in range(40):
            tg.start_soon(caller)
    admitted.sort()
    assert len(admitted) == 160
    for i, start in enumerate(admitted):
        assert sum(1 for t in admitted[i:] if t < start + window) <= limit


async def test_concurrency_cap_holds() -> None:
    """At most max_concurrency calls are inside `call()` at once."""
    limiter = AccountLimiter(1000, 1.0, 20, max_concurrency=3)
    inside = peak = 0

    async def caller() -> None:
        nonlocal inside, peak
        async with limiter.call():
            inside += 1
            peak = max(peak, inside)
            await anyio.sleep(0.01)
            inside -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(caller)
    assert peak == 3


@pytest.mark.parametrize(
    ("code", "disposition", "error"),
    [
        (40202, Disposition.TRANSIENT, TransientApiError),
        (50000, Disposition.TRANSIENT, TransientApiError),
        (50999, Disposition.TRANSIENT, TransientApiError),
        (40100, Disposition.ACCOUNT, AccountError),
        (40200, Disposition.ACCOUNT, AccountError),
        (40501, Disposition.REJECTED, RequestRejected),
        (40006, Disposition.REJECTED, RequestRejected),
    ],
)
def test_status_codes_are_classified_by_one_table(
    code: int, disposition: Disposition, error: type
) -> None:
    """Transient codes retry, account codes stop the run, request errors are never retried."""
    assert classify(code) is disposition
    assert type(error_for(code, "m", "/v3/x")) is error


def test_task_outcomes_and_pending_codes() -> None:
    """40601/40602 mean poll again; 40102/40401/40403 end the task without results."""
    assert {classify(c) for c in (40601, 40602)} == {Disposition.PENDING}
    assert {classify(c) for c in (40101, 40102, 40103, 40401, 40403)} == {Disposition.TASK_FAILED}


async def test_slow_down_pauses_every_call_for_a_tenth_of_the_window() -> None:
    """After the server says 40202, no call is admitted before the pause is over."""
    limiter = AccountLimiter(100, 1.0, 20, max_concurrency=5)
    started = anyio.current_time()
    limiter.slow_down("/v3/serp/tasks_ready")
    async with limiter.call():
        admitted = anyio.current_time()
    assert admitted - started >= 0.1
    assert limiter.slowdowns == 1


async def test_the_call_log_counts_a_killed_process_s_calls_in_the_next_window(
    tmp_path: Path,
) -> None:
    """A killed process's calls, its task_post included, count in the next one's window, and
    a log written before POST records existed still counts its tasks_ready calls as such.
    (When the last task_post went out is no longer read from the log: the ledger records
    each POST attempt.)"""
    path = str(tmp_path / "state.sqlite.calls")
    first = AccountLimiter(100, 60.0, 20, 5, history=CallLog(path, 116))
    await first.admit(post=True)
    await first.admit(tasks_ready=True)
    await first.admit()
    second = AccountLimiter(100, 60.0, 20, 5, history=CallLog(path, 116))
    assert second.inherited == 3
    assert sorted(ready for _, ready in CallLog(path, 116).since(0)) == [False, False, True]
    posted = time.time() - 1
    old = tmp_path / "old.calls"  # the records of a version without POST: 0 a call, 1 tasks_ready
    old.write_bytes(CallLog.RECORD.pack(posted, 0) + CallLog.RECORD.pack(posted + 1, 1))
    log = CallLog(str(old), 116)
    assert log.since(0) == [(posted, False), (posted + 1, True)]


def test_calls_recorded_in_the_future_count_as_now_not_for_hours(tmp_path: Path) -> None:
    """The clock stepped back an hour since the last run: its calls are recorded an hour
    ahead. They count as made now, so they leave the window within a window, instead of
    holding it full for an hour (the run stalled at 0 calls/min, ETA 0s)."""
    path = str(tmp_path / "state.sqlite.calls")
    ahead = time.time() + 3600
    Path(path).write_bytes(b"".join(CallLog.RECORD.pack(ahead, kind) for kind in (0, 1, 2)))
    log = CallLog(path, 116)
    assert all(at <= time.time() for at, _ in log.since(0))
    now = [1000.0]
    limiter = AccountLimiter(100, 60.0, 20, 5, clock=lambda: now[0], history=log)
    assert limiter.inherited == 3
    assert max(limiter._log.times) <= now[0]
    assert limiter._log.wait_s(now[0] + 61.0) == 0.0  # gone from the window a window later
