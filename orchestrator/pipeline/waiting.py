"""What a run is waiting on, told as it is: the progress line, its JSON, and `status` (through
the ledger) say it instead of an ETA whenever nothing moves for a reason we know.

In order of precedence: a 40202 pause of every call; a wait the run chose (a lost answer's
id_list, the next period); tasks_ready full of other tools' tasks; a budget that stops posting;
our tasks still in the API's queue.
"""

import time
from typing import Final

from orchestrator.pipeline.context import RunContext, Waiting
from orchestrator.pipeline.progress import duration

QUIET_S: Final = 10.0  # no result settled for this long, tasks in flight: they are queued


def waiting_now(run: RunContext, idle: bool) -> Waiting | None:
    """What the run waits on now, or None when it is busy (call in the ledger's thread)."""
    paused = run.client.paused_until()
    if paused is not None:
        return Waiting("the API's rate limit (it answered 40202): every call paused", paused)
    full = run.client.window_full_until()
    if full is not None:
        return Waiting(
            "room in the account's rate window: the calls of the last minute (this run's and"
            " those the call log holds of earlier commands) fill it",
            full,
        )
    if run.waiting is not None and (idle or not run.waiting.when_idle):
        return run.waiting
    if run.collect_note is not None:
        return run.collect_note
    if run.report.budget_stopped:
        cap = run.report.budget_stopped
        return Waiting(f"nothing more to post: {cap} is reached; collecting what was posted")
    since = time.monotonic() - run.last_settled
    if idle or since < max(QUIET_S, 2 * run.poll_interval_s):
        return None
    in_flight = run.ledger.in_flight(list(run.jobs))
    oldest = [o for name in run.jobs if (o := run.ledger.oldest_posted(name)) is not None]
    if not in_flight or not oldest:
        return None
    first = min(posted_at for _, posted_at in oldest)
    age = duration(max(0.0, time.time() - first))
    return Waiting(
        f"{in_flight} tasks in the API's queue, oldest posted {age} ago;"
        " asked for by id at the latest",
        first + run.config.api.overdue_s,
    )
