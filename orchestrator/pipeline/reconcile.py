"""Reconciliation: the POST attempts whose answer was lost, short or cut by a crash are settled
from id_list, exactly, beside the producer, so that nothing is paid for twice and one lost
answer does not hold up the rest of the posting.

- Each attempt posts its tasks under a tag unique to this ledger and this batch,
  `job:period:key@<ledger id>.<batch id>`. A task settles a row only through that tag: neither
  yesterday's task of the same keyword, nor another ledger's, nor an earlier attempt's can be
  taken for it.
- When to ask and when a row may be posted again is `repost.next_step`, a pure function of
  what the ledger recorded about the attempt (ledger/attempts.py): when it went on the wire and
  ended in the server's clock, and what id_list said since. Each answer is recorded at once.
- Only a clean, complete id_list answer counts. An error, a task-level status other than
  20000, or a page whose count disagrees is asked again, and if it keeps failing the run stops
  (ReconcileFailed, exit 4) without posting anything again.
- id_list keeps the tags (metadata) for one month: an attempt sent longer ago than that cannot
  be settled and stays *posting*, reported in the log.
"""

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import anyio

from orchestrator.errors import AccountError, ApiError, ReconcileFailed
from orchestrator.ledger.repost import Ask, Attempt, Release, Rules, after_answer, next_step, window
from orchestrator.pipeline.context import RunContext, Waiting, first_of
from orchestrator.pipeline.tags import split_attempt_tag
from schemas.envelope import IdListItem

if TYPE_CHECKING:
    from orchestrator.wire.client import ApiClient

log = logging.getLogger(__name__)
ATTEMPTS: Final = 4  # id_list questions before the run gives up (each retried by the client)
PAGE: Final = 1000
METADATA_WINDOW_S: Final = 30 * 86400 - 3600  # id_list's month of tags, less an hour's margin
ID_LIST_FMT: Final = "%Y-%m-%d %H:%M:%S +00:00"


class IncompleteAnswer(Exception):
    """An id_list answer that cannot prove which tasks exist."""


async def _all_pages(client: "ApiClient", start: str, end: str) -> list[IdListItem]:
    """Every task posted in [start, end], or IncompleteAnswer / ApiError."""
    items: list[IdListItem] = []
    while True:
        answer = await client.id_list(start, end, len(items))
        task = answer.tasks[0] if answer.tasks else None
        if task is None or task.status_code != 20000:
            what = "no task" if task is None else f"{task.status_code} {task.status_message}"
            raise IncompleteAnswer(f"id_list answered {what}")
        page = task.result or []
        if task.result_count != len(page) or len(page) > PAGE:
            raise IncompleteAnswer(f"id_list page of {len(page)} said {task.result_count}")
        items += page
        if len(page) < PAGE:
            return items


class IdListFailed(Exception):
    """id_list gave no complete answer in ATTEMPTS tries; the message says the last problem."""


async def complete_id_list(client: "ApiClient", start: str, end: str) -> list[IdListItem]:
    """id_list's complete answer for tasks posted in [start, end], asked up to ATTEMPTS times;
    IdListFailed if none came."""
    problem = ""
    for attempt in range(ATTEMPTS):
        try:
            return await _all_pages(client, start, end)
        except AccountError:
            raise
        except (ApiError, IncompleteAnswer) as exc:
            problem = str(exc)
            log.warning("id_list_incomplete attempt=%d error=%s", attempt + 1, problem)
        if attempt + 1 < ATTEMPTS:
            await anyio.sleep(min(30.0, 2.0 * 2**attempt))
    raise IdListFailed(f"{ATTEMPTS} tries, the last: {problem}")


def id_list_time(epoch_s: float) -> str:
    """Epoch seconds as id_list takes them (UTC)."""
    return time.strftime(ID_LIST_FMT, time.gmtime(epoch_s))


def rules_of(run: RunContext) -> Rules:
    api = run.config.api
    return Rules(
        request_timeout_s=api.request_timeout_s,
        margin_s=api.reconcile_after_s,
        apart_s=api.reconcile_apart_s,
        slack_s=api.reconcile_slack_s,
    )


def found_rows(
    items: Sequence[IdListItem],
    open_: Sequence[tuple[Attempt, list[str]]],
    ledger_id: str,
    first_tagged: int,
) -> list[tuple[str, str, float]]:
    """(row tag, task id, cost) of the listed tasks that some open attempt posted: by the
    attempt's own tag, or by the bare row tag for a batch of a version before attempt tags."""
    wanted = {(tag, a.batch) for a, tags in open_ for tag in tags}
    legacy = {tag for a, tags in open_ if a.batch < first_tagged for tag in tags}
    created = []
    for item in items:
        tag = (item.metadata or {}).get("tag")
        if not isinstance(tag, str):
            continue
        row, owner, batch = split_attempt_tag(tag)
        if (owner == ledger_id and (row, batch) in wanted) or (owner is None and row in legacy):
            created.append((row, item.id, item.cost))
    return created


class Reconciler:
    """Settles the open attempts of the ledger while the run goes on. `changed` is set
    whenever it moved rows (found or released), so a producer waiting on held rows wakes."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.rules = rules_of(run)
        self.changed = anyio.Event()
        self._wake = anyio.Event()
        self._stale_told: set[int] = set()
        self.next_at: float | None = None  # when the next question is due (server clock)

    def wake(self) -> None:
        """An attempt ended without a full answer: look at it now."""
        self._wake.set()

    def _moved(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    async def keep_settling(self, done: anyio.Event) -> None:
        """Settle open attempts as their questions fall due, until `done` (the producer)."""
        while not done.is_set():
            wake = self._wake = anyio.Event()
            self.next_at = await self.settle_due()
            if self.next_at is None:
                delay = None
            else:
                delay = max(0.0, self.next_at - self.run.client.server_now())
            with anyio.move_on_after(delay):
                await first_of(wake.wait, done.wait)

    async def open_attempts(self) -> list[tuple[Attempt, list[str]]]:
        """The open attempts id_list can still answer for (its tags last a month)."""
        run = self.run
        found = await run.db(run.ledger.open_attempts, run.run_id)
        now = run.client.server_now()
        askable = []
        for attempt, tags in found:
            if attempt.sent is not None and now - attempt.sent >= METADATA_WINDOW_S:
                if attempt.batch not in self._stale_told:
                    self._stale_told.add(attempt.batch)
                    log.warning(
                        "posting_too_old batch=%d inputs=%d: sent over a month ago, id_list"
                        " cannot tell whether they were created; they stay posting and are"
                        " not posted again",
                        attempt.batch,
                        len(tags),
                    )
                continue
            askable.append((attempt, tags))
        return askable

    async def held(self) -> int:
        """Rows held *posting* until id_list settles them (none of this run's in flight)."""
        return sum(len(tags) for _, tags in await self.open_attempts())

    async def settle_due(self) -> float | None:
        """Release what the record allows, ask id_list about the attempts due, record its
        answer; returns when the next question is due (server clock), None if none is."""
        run = self.run
        while True:
            open_ = await self.open_attempts()
            if not open_:
                return None
            if not run.client.server_skew_known:
                await self._learn_server_time()
            now = run.client.server_now()
            steps = [(a, tags, next_step(a, now, self.rules)) for a, tags in open_]
            free = [(a, tags, s.why) for a, tags, s in steps if isinstance(s, Release)]
            if free:
                await self._release(free)
                continue
            due = [(a, tags) for a, tags, s in steps if isinstance(s, Ask) and s.at <= now]
            if not due:
                return min(s.at for _, _, s in steps if isinstance(s, Ask))
            await self._ask(due, now)

    async def _learn_server_time(self) -> None:
        """One free call for the server's clock before a window is worked out in it."""
        try:
            await self.run.client.user_data()
        except AccountError:
            raise
        except ApiError as exc:
            log.warning("server_time_unknown error=%s", exc)

    async def _release(self, free: Sequence[tuple[Attempt, list[str], str]]) -> None:
        """Put these attempts' rows back to be posted, each for the reason given."""
        run = self.run
        for attempt, tags, why in free:
            released = await run.db(run.ledger.release, tags)
            log.warning(
                "released batch=%d inputs=%d: %s; they will be posted again",
                attempt.batch,
                released,
                why,
            )
        self._moved()

    async def _ask(self, due: Sequence[tuple[Attempt, list[str]]], now: float) -> None:
        """One complete id_list answer over the due attempts' window, recorded."""
        run = self.run
        start, end = window([a for a, _ in due], now, self.rules)
        try:
            items = await complete_id_list(run.client, id_list_time(start), id_list_time(end))
        except IdListFailed as exc:
            lost = sum(len(tags) for _, tags in due)
            raise ReconcileFailed(
                f"{lost} inputs may have been posted (their task_post answers were lost) and"
                f" id_list could not say ({exc}): they stay 'posting' and are not posted again;"
                " run again later"
            ) from None
        ledger = run.ledger
        created = found_rows(items, due, ledger.id, ledger.first_tagged_batch)
        listed = {row for row, _, _ in created}
        answered = [
            after_answer(a, now, not listed.intersection(tags), self.rules) for a, tags in due
        ]
        found = await run.db(ledger.mark_posted, created, run.month())
        await run.db(ledger.note_checks, answered)
        held = sum(len(tags) for _, tags in due) - found
        log.warning(
            "reconciled found=%d still_open=%d listed=%d attempts=%d",
            found,
            held,
            len(items),
            len(due),
        )
        if found:
            run.posted.set()
            self._moved()

    def note(self, held: int) -> Waiting:
        """What a producer waiting on held rows is waiting for."""
        until = None
        if self.next_at is not None:
            until = self.next_at - self.run.client.server_skew_s
        return Waiting(
            f"{held} inputs whose task_post answer was lost or cut short: id_list is asked"
            " which of their tasks exist, and the others are posted again only once it has"
            " twice shown they do not",
            until,
        )
