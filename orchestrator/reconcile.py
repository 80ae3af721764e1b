"""Reconciliation: after a crash or a lost task_post answer, learn from id_list which of the
*posting* batches created their tasks, exactly, so that nothing is paid for twice.

- Each attempt posts its tasks under a tag unique to this ledger and this batch,
  `job:period:key@<ledger id>.<batch id>`. A task settles a row only through that tag: neither
  yesterday's task of the same keyword, nor another ledger's, nor an earlier attempt's can be
  taken for it.
- id_list is asked `reconcile_after_s` after the last task_post went out (by this process, or
  by a killed one, as the limiter's call log says), not after the batch was claimed: a POST
  that waited in the limiter may be created by the server after a quick restart's question.
- It is asked for the window from the oldest lost batch's claim to now, in the server's
  clock (its `Date` header), `reconcile_slack_s` wider on each side, every page of it. Only a
  clean, complete answer settles a batch. An error, a task-level status other than 20000, or a
  page whose count disagrees leaves the rows *posting*; the question is asked again, and if it
  keeps failing the run stops (ReconcileFailed, exit 4) without posting anything again.
- id_list keeps the tags (metadata) for one month: a batch claimed longer ago than that cannot
  be settled and stays *posting*, reported in the log.
"""

import logging
import time
from typing import TYPE_CHECKING, Final

import anyio
import msgspec

from orchestrator.errors import AccountError, ApiError, ReconcileFailed
from orchestrator.waiting import Waiting
from schemas.envelope import IdListItem

if TYPE_CHECKING:
    from orchestrator.client import ApiClient
    from orchestrator.run import Run

log = logging.getLogger(__name__)
ATTEMPTS: Final = 4  # id_list questions before the run gives up (each retried by the client)
PAGE: Final = 1000
METADATA_WINDOW_S: Final = 30 * 86400 - 3600  # id_list's month of tags, less an hour's margin
ID_LIST_FMT: Final = "%Y-%m-%d %H:%M:%S +00:00"


def attempt_tag(tag: str, ledger_id: str, batch: int) -> str:
    """The tag a row's task is posted under in one batch."""
    return f"{tag}@{ledger_id}.{batch}"


def split_attempt_tag(tag: str) -> tuple[str, str | None, int | None]:
    """(row tag, ledger id, batch) of a posted tag; a bare tag (posted by a version before
    attempt tags) gives (tag, None, None)."""
    row, sep, attempt = tag.partition("@")
    if not sep:
        return tag, None, None
    owner, _, batch = attempt.partition(".")
    return row, owner, int(batch) if batch.isdigit() else None


def tagged_body(body: bytes, tag: str, attempt: str) -> bytes:
    """The stored body (which carries the row tag) with the attempt's tag instead."""
    old = b'"tag":' + msgspec.json.encode(tag)
    new = b'"tag":' + msgspec.json.encode(attempt)
    if old not in body:
        raise ValueError(f"body of {tag} carries no tag")
    return body.replace(old, new, 1)


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


async def reconcile(run: "Run") -> None:
    """Settle every posting batch id_list can answer for (call only with no POST in flight)."""
    batches = await run.db(run.ledger.posting_batches)
    if not batches:
        return
    now = time.time()
    askable = {b: v for b, v in batches.items() if now - v[0] < METADATA_WINDOW_S}
    stale = sum(len(tags) for b, (_, tags) in batches.items() if b not in askable)
    if stale:
        log.warning(
            "posting_too_old inputs=%d: claimed over a month ago, id_list cannot tell whether"
            " they were created; they stay posting and are not posted again",
            stale,
        )
    if not askable:
        return
    api = run.config.api
    # A batch's POST went out at the latest when the last task_post did, which may be long
    # after its claim (the limiter, a 40202 pause, a window inherited from a killed run).
    sent_by = max(max(claimed for claimed, _ in askable.values()), run.client.last_post_wall)
    ready_at = sent_by + api.reconcile_after_s
    if ready_at > now:
        run.waiting = Waiting("id_list to list the tasks of a lost answer", ready_at)
        await anyio.sleep(ready_at - now)
        run.waiting = None
    skew = run.client.server_skew_s
    start = min(claimed for claimed, _ in askable.values()) + skew - api.reconcile_slack_s
    end = time.time() + skew + api.reconcile_slack_s
    try:
        items = await complete_id_list(run.client, id_list_time(start), id_list_time(end))
    except IdListFailed as exc:
        lost = sum(len(tags) for _, tags in askable.values())
        raise ReconcileFailed(
            f"{lost} inputs may have been posted (their task_post answers were lost) and"
            f" id_list could not say ({exc}): they stay 'posting' and are not posted again;"
            " run again later"
        ) from None
    ledger_id, first_tagged = run.ledger.id, run.ledger.first_tagged_batch
    wanted = {(tag, batch) for batch, (_, tags) in askable.items() for tag in tags}
    legacy = {tag for batch, (_, tags) in askable.items() if batch < first_tagged for tag in tags}
    created = []
    for item in items:
        tag = (item.metadata or {}).get("tag")
        if not isinstance(tag, str):
            continue
        row, owner, batch = split_attempt_tag(tag)
        if (owner == ledger_id and (row, batch) in wanted) or (owner is None and row in legacy):
            created.append((row, item.id, item.cost))
    found, released = await run.db(run.ledger.reconcile, created, list(askable), run.month())
    log.warning("reconciled found=%d released=%d listed=%d", found, released, len(items))
