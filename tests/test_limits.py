"""The simulator's sliding window is strict: no window ever admits more than the limit."""

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.simulator.clock import SimClock, format_datetime, parse_datetime
from orchestrator.simulator.limits import ConcurrencyGate, SlidingWindow


class SteppedClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    st.integers(min_value=1, max_value=20),
    st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=300),
)
def test_no_window_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    """Whatever the call times, any period-long span admits at most `limit` calls."""
    clock = SteppedClock()
    window = SlidingWindow(limit, 5.0, clock)
    admitted: list[float] = []
    for gap in gaps:
        clock.now += gap
        if window.admit():
            admitted.append(clock.now)
    for i, start in enumerate(admitted):
        inside = [t for t in admitted[i:] if t < start + 5.0]
        assert len(inside) <= limit
    assert window.peak <= limit


def test_window_admits_again_once_the_oldest_call_leaves() -> None:
    """A full window refuses until its oldest call is `period` old, then admits one more."""
    clock = SteppedClock()
    window = SlidingWindow(2, 10.0, clock)
    assert window.admit() and window.admit() and not window.admit()
    clock.now = 9.99
    assert not window.admit()
    clock.now = 10.0
    assert window.admit()


def test_concurrency_gate_refuses_past_its_limit() -> None:
    """The gate counts requests in flight and frees a slot on leave."""
    gate = ConcurrencyGate(1)
    assert gate.enter() and not gate.enter()
    gate.leave()
    assert gate.enter() and gate.peak == 1


def test_sim_clock_scales_and_jumps() -> None:
    """Simulated time runs time_scale times faster than the clock, plus manual jumps."""
    clock = SteppedClock()
    sim = SimClock(60.0, clock, start_epoch=1_000_000.0)
    clock.now = 2.0
    assert sim.now() == 1_000_120.0
    sim.advance(3600)
    assert sim.now() == 1_003_720.0
    assert sim.real_delay(120) == 2.0


def test_datetime_format_round_trips() -> None:
    """The API's `YYYY-MM-DD hh:mm:ss +00:00` format parses back to the same instant."""
    text = format_datetime(1_795_000_000.0)
    assert text == "2026-11-18 11:06:40 +00:00"
    assert parse_datetime(text) == 1_795_000_000.0
