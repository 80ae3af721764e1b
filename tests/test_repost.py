"""Whether a POST attempt's rows may be posted again: the pure decision of repost.py, from the
facts the ledger records, with the product's default timers."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.config import ApiConfig
from orchestrator.ledger.repost import (
    Ask,
    Attempt,
    Outcome,
    Release,
    Rules,
    after_answer,
    next_step,
    sort_answer,
    window,
)
from schemas.envelope import Task

API = ApiConfig()
DEFAULTS = Rules(
    request_timeout_s=API.request_timeout_s,
    margin_s=API.reconcile_after_s,
    apart_s=API.reconcile_apart_s,
    slack_s=API.reconcile_slack_s,
)
T0 = 1_800_000_000.0  # a send, in the server's clock


def timed_out(sent: float = T0) -> Attempt:
    """A POST that went out at `sent` and timed out after request_timeout_s."""
    return Attempt(1, sent, sent + 120.0, Outcome.AMBIGUOUS, server_clock=True)


def test_an_attempt_that_never_went_on_the_wire_is_released_at_once() -> None:
    never = Attempt(1, None, None, None, server_clock=True)
    assert isinstance(next_step(never, T0, DEFAULTS), Release)


def test_a_timed_out_post_is_released_only_after_two_late_answers_well_apart() -> None:
    """The defaults: an early question finds what exists but proves nothing; the first answer
    that counts comes request_timeout_s + reconcile_after_s after the timeout, the second
    reconcile_apart_s later."""
    attempt = timed_out()
    ended = T0 + 120.0
    early = next_step(attempt, ended, DEFAULTS)
    assert early == Ask(ended, counts=False)
    attempt = after_answer(attempt, ended, listed_none=True, rules=DEFAULTS)
    assert attempt.absent_checks == 0  # too soon: a slow server may still create them
    first = next_step(attempt, ended + 1, DEFAULTS)
    assert first == Ask(ended + 125.0, counts=True)
    attempt = after_answer(attempt, ended + 125.0, listed_none=True, rules=DEFAULTS)
    assert attempt.absent_checks == 1
    second = next_step(attempt, ended + 125.0, DEFAULTS)
    assert second == Ask(ended + 155.0, counts=True)
    attempt = after_answer(attempt, ended + 155.0, listed_none=True, rules=DEFAULTS)
    assert isinstance(next_step(attempt, ended + 155.0, DEFAULTS), Release)


def test_an_answer_asked_too_soon_after_the_first_does_not_count() -> None:
    attempt = after_answer(timed_out(), T0 + 245.0, listed_none=True, rules=DEFAULTS)
    again = after_answer(attempt, T0 + 250.0, listed_none=True, rules=DEFAULTS)
    assert again.absent_checks == 1
    assert not isinstance(next_step(again, T0 + 250.0, DEFAULTS), Release)


def test_a_killed_attempt_is_taken_to_end_when_the_client_would_have_given_up() -> None:
    """No recorded end: the POST may have been in the server's hands until sent + timeout."""
    killed = Attempt(1, T0, None, None, server_clock=True)
    assert next_step(killed, T0, DEFAULTS) == Ask(T0 + 5.0, counts=False)
    asked = after_answer(killed, T0 + 5.0, listed_none=True, rules=DEFAULTS)
    assert next_step(asked, T0 + 6.0, DEFAULTS) == Ask(T0 + 245.0, counts=True)


def test_a_listed_task_restarts_the_proof_for_the_rows_still_open() -> None:
    attempt = after_answer(timed_out(), T0 + 245.0, listed_none=True, rules=DEFAULTS)
    listed = after_answer(attempt, T0 + 280.0, listed_none=False, rules=DEFAULTS)
    assert listed.absent_checks == 0
    assert next_step(listed, T0 + 280.0, DEFAULTS) == Ask(T0 + 280.0, counts=True)


def test_a_local_clock_record_waits_and_reaches_reconcile_slack_s_further() -> None:
    """A batch of a version 3 ledger: its claim time, in the local clock, stands for its send."""
    local = Attempt(1, T0, None, None, server_clock=False)
    step = next_step(after_answer(local, T0, True, DEFAULTS), T0, DEFAULTS)
    assert step == Ask(T0 + 245.0 + 600.0, counts=True)
    assert window([local], T0 + 10, DEFAULTS) == (T0 - 1200.0, T0 + 610.0)
    server = timed_out()
    assert window([server], T0 + 10, DEFAULTS) == (T0 - 600.0, T0 + 610.0)


times = st.floats(min_value=0, max_value=1000, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    shift=st.floats(min_value=-1e7, max_value=1e7, allow_nan=False),
    ended=st.one_of(st.none(), times),
    answers=st.lists(st.tuples(times, st.booleans()), max_size=8),
)
def test_no_answers_release_rows_without_two_late_answers_apart(
    shift: float, ended: float | None, answers: list[tuple[float, bool]]
) -> None:
    """Whatever id_list answers, and whenever: rows are released only after two answers
    that listed none of them, the first no sooner than request_timeout_s + margin after the
    attempt ended, the second apart_s after the first, with nothing listed since. The same
    facts shifted by any amount (a clock step) give the same decisions, shifted."""
    rules = Rules(request_timeout_s=10.0, margin_s=2.0, apart_s=5.0, slack_s=50.0)
    base = Attempt(1, 0.0, ended, Outcome.AMBIGUOUS, server_clock=True)
    moved = Attempt(1, shift, None if ended is None else ended + shift, Outcome.AMBIGUOUS, True)
    end = 10.0 if ended is None else ended
    counted: list[float] = []
    attempt = base
    for asked, listed_none in sorted(answers):
        step = next_step(attempt, asked, rules)
        twin = next_step(moved, asked + shift, rules)
        if isinstance(step, Ask):
            assert isinstance(twin, Ask) and abs(twin.at - shift - step.at) < 1e-6
        else:
            assert isinstance(twin, Release)
            break
        attempt = after_answer(attempt, asked, listed_none, rules)
        moved = after_answer(moved, asked + shift, listed_none, rules)
        if not listed_none:
            counted = []
        elif asked >= end + 12.0 and (not counted or asked >= counted[-1] + 5.0):
            counted.append(asked)
    if isinstance(next_step(attempt, 2000.0, rules), Release):
        assert len(counted) >= 2


def task(tag: Any, code: int = 20100, task_id: str = "", cost: float = 0.0006) -> Task[Any]:
    return Task(id=task_id or f"id-{tag}", status_code=code, cost=cost, data={"tag": tag})


def test_an_answer_is_read_by_echoed_tags_whatever_its_order_or_length() -> None:
    """Tasks in another order go to their own rows; a short answer leaves the rest open; a
    task of another tag, or a tag answered twice, settles nothing."""
    sent = {f"r{i}@L.1": f"r{i}" for i in range(5)}
    answer = [
        task("r3@L.1"),
        task("r0@L.1", 40501),
        task("r1@L.1", 50301),
        task("x@L.9"),
        task("r4@L.1", task_id="a"),
        task("r4@L.1", task_id="b"),
    ]
    answered = sort_answer(sent, answer)
    assert answered.created == [("r3", "id-r3@L.1", 0.0006)]
    assert answered.refused == [("r0", 40501, "", "id-r0@L.1")]
    assert answered.not_created == ["r1"]
    assert answered.missing == ["r2", "r4"]
    assert answered.strangers == 1
    assert sort_answer(sent, []).missing == list(sent.values())
