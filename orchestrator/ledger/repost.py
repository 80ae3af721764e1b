"""Whether the rows of a POST attempt may be posted again: a pure function of what the ledger
recorded about that attempt, so that the decision that can cost money is tested by itself.

An attempt's rows stay *posting* while the API may have created their tasks. They go back to
*pending* only on one of two facts:
- the POST never went on the wire (the ledger has no `sent` record: the process stopped
  between its claim and its send), or
- id_list, asked over a window in the server's clock around the attempt, said twice, at least
  `apart_s` apart, that none of the attempt's open tags exists; and the first of those answers
  came no sooner than `request_timeout_s` plus `margin_s` after the attempt ended. An attempt
  with no recorded end (its process was killed while it was in flight) is taken to have ended
  when the client would have given up on it, `request_timeout_s` after it was sent.

Every time here is in the server's clock (its `Date` header, recorded with the attempt), so a
step of the local clock between two runs does not move a window. An attempt recorded before
the server's offset was known (an older ledger, a first call that got no answer) is widened by
`slack_s` on each side instead.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from orchestrator.errors import Disposition, classify
from schemas.envelope import Task


class Outcome(StrEnum):
    """How a POST attempt ended, as recorded. None in the ledger: in flight, or killed."""

    ANSWERED = "answered"  # every posted tag was answered
    AMBIGUOUS = "ambiguous"  # a timeout, a drop, a 5xx, an unreadable answer: anything may exist
    SHORT = "short"  # answered, but some posted tags were not in the answer


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the ledger recorded about one POST attempt (one batch) with rows still posting."""

    batch: int
    sent: float | None  # when it went on the wire (server clock); None: it never did
    ended: float | None  # when it failed or was answered (server clock); None: no record
    outcome: Outcome | None
    server_clock: bool  # the times above are the server's (else local: widen by slack_s)
    absent_checks: int = 0  # counted id_list answers that listed none of its open tags
    absent_at: float | None = None  # when the last counted one was asked (server clock)


@dataclass(frozen=True, slots=True)
class Rules:
    """The timers the decision uses ([api] settings)."""

    request_timeout_s: float  # the client's total timeout of one call
    margin_s: float  # how long the server may take to list tasks it created
    apart_s: float  # the least time between the two id_list answers that release rows
    slack_s: float  # how far a time of ours may stray from the server's


@dataclass(frozen=True, slots=True)
class Release:
    """Post these rows again: the recorded facts prove no task was created."""

    why: str


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask id_list about the attempt from `at` on (server clock), over `window`."""

    at: float
    counts: bool  # an answer listing none of the open tags, asked then, is evidence


Step = Release | Ask

CHECKS_TO_RELEASE = 2


def ended_by(attempt: Attempt, rules: Rules) -> float:
    """When the attempt ended: as recorded, or when the client would have given up."""
    assert attempt.sent is not None
    if attempt.ended is not None:
        return attempt.ended
    return attempt.sent + rules.request_timeout_s


def evidence_from(attempt: Attempt, rules: Rules) -> float:
    """The first moment an id_list answer counts as evidence that nothing was created."""
    floor = ended_by(attempt, rules) + rules.request_timeout_s + rules.margin_s
    if attempt.absent_checks and attempt.absent_at is not None:
        floor = max(floor, attempt.absent_at + rules.apart_s)
    if not attempt.server_clock:
        floor += rules.slack_s  # a local time may be off by that much
    return floor


def next_step(attempt: Attempt, now: float, rules: Rules) -> Step:
    """What to do with an attempt's open rows at `now` (server clock)."""
    if attempt.sent is None:
        return Release("its POST never went on the wire")
    if attempt.absent_checks >= CHECKS_TO_RELEASE:
        return Release(f"id_list listed none of its tasks {attempt.absent_checks} times")
    evidence = evidence_from(attempt, rules)
    if now >= evidence:
        return Ask(now, counts=True)
    # Before the evidence can count, one early question finds what was created (the common
    # case: an answer lost on the way back), so those rows need not wait for it.
    if attempt.absent_checks == 0 and attempt.absent_at is None:
        early = attempt.sent + rules.margin_s - (0.0 if attempt.server_clock else rules.slack_s)
        if attempt.ended is not None:
            early = max(early, attempt.ended)
        return Ask(max(now, early), counts=False)
    return Ask(evidence, counts=True)


def window(attempts: Sequence[Attempt], now: float, rules: Rules) -> tuple[float, float]:
    """The id_list window (server clock) that holds every task these attempts may have
    created: from the first one's send to now, `slack_s` wider on each side (UNCERTAIN how
    far the server's `datetime_posted` strays from its `Date` header), and `slack_s` wider
    again before an attempt recorded in the local clock."""
    starts = [
        a.sent - rules.slack_s - (0.0 if a.server_clock else rules.slack_s)
        for a in attempts
        if a.sent is not None
    ]
    return min(starts, default=now - rules.slack_s), now + rules.slack_s


def after_answer(attempt: Attempt, asked: float, listed_none: bool, rules: Rules) -> Attempt:
    """The attempt once id_list, asked at `asked`, answered completely: `listed_none` if it
    listed none of the attempt's open tags. Found tags settle their rows elsewhere; an
    answer that listed some leaves the others to be proved absent from scratch."""
    if not listed_none:
        return replace(attempt, absent_checks=0, absent_at=asked)
    if asked < evidence_from(attempt, rules):
        return replace(attempt, absent_at=asked)  # too soon to count: the early question
    return replace(attempt, absent_checks=attempt.absent_checks + 1, absent_at=asked)


@dataclass(slots=True)
class Answered:
    """A task_post answer sorted by each task's echoed tag, never by its position."""

    created: list[tuple[str, str, float]] = field(default_factory=list)  # row, task id, cost
    refused: list[tuple[str, int, str, str]] = field(default_factory=list)  # row, code, msg, id
    not_created: list[str] = field(default_factory=list)  # rows the API said it did not create
    missing: list[str] = field(default_factory=list)  # rows the answer did not speak of
    strangers: int = 0  # answered tasks whose echoed tag is none of this attempt's


def sort_answer(sent: Mapping[str, str], tasks: Sequence[Task[Any]]) -> Answered:
    """`sent` maps each attempt tag posted to its row's tag. A row the answer does not speak
    of (a short answer), or speaks of twice, may have a task: it stays for reconciliation."""
    answered = Answered()
    matched: list[tuple[str, Task[Any]]] = []
    for task in tasks:
        echoed = (task.data or {}).get("tag")
        row = sent.get(echoed) if isinstance(echoed, str) else None
        if row is None:
            answered.strangers += 1
        else:
            matched.append((row, task))
    times = Counter(row for row, _ in matched)
    for row, task in matched:
        if times[row] > 1:
            continue
        disposition = classify(task.status_code)
        if disposition is Disposition.SUCCESS:
            answered.created.append((row, task.id, task.cost))
        elif disposition is Disposition.TRANSIENT:  # 50301/50401 on a task: not created
            answered.not_created.append(row)
        else:
            answered.refused.append((row, task.status_code, task.status_message, task.id))
    answered.missing = [row for row in sent.values() if times[row] != 1]
    return answered
