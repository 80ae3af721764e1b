"""The producer: claim pending inputs 100 at a time (write-ahead), post them, and record what
the API created or refused. It never posts past a budget, and never posts a period's inputs
after that period is over. With `--follow` it posts each new period's batch as it begins.
"""

import logging
from typing import TYPE_CHECKING

import anyio

from orchestrator.client import AmbiguousPost
from orchestrator.config import JobConfig
from orchestrator.errors import (
    AccountError,
    Disposition,
    RequestRejected,
    TransientApiError,
    classify,
)
from orchestrator.receiver import with_webhook
from orchestrator.reconcile import attempt_tag, tagged_body
from orchestrator.schedule import local_time, plan
from orchestrator.sink import refusal_line
from orchestrator.waiting import Waiting
from schemas.field_rules import MAX_TASKS_PER_POST

if TYPE_CHECKING:
    from orchestrator.run import Run

log = logging.getLogger(__name__)


async def produce(run: "Run") -> None:
    """Post every pending input of this run's periods, 100 a call, within the budget."""
    try:
        for job in run.config.jobs:
            await post_job(run, job)
    finally:
        run.produced.set()


async def follow(run: "Run") -> None:
    """Post the current batches, then wait for the next period to begin and post its batch
    too, until the run is cancelled (SIGTERM, SIGINT, --max-runtime)."""
    while True:
        for job in run.config.jobs:
            await post_job(run, job)
        upcoming = run.plan.next_start()
        if upcoming is None:  # no recurring job: nothing will ever begin
            run.produced.set()
            return
        when, name, key = upcoming
        run.waiting = Waiting(
            f"period {key} of {name} (begins {local_time(run.config, name, when)})",
            when,
            when_idle=True,
        )
        log.info("waiting_for_period job=%s period=%s", name, key)
        await anyio.sleep(max(0.0, when - run.clock()))
        run.waiting = None
        before = run.plan
        run.plan = plan(run.config, max(run.clock(), when), None, "")
        changed = [j for j in run.jobs if run.plan.key(j) != before.key(j)]
        log.info("period_begins jobs=%s", ",".join(f"{j}@{run.plan.key(j)}" for j in changed))
        run.loaded_jobs.difference_update(changed)
        await run.load()  # chunk by chunk, so the poller is not held up; then closes periods


def _room(run: "Run", job: JobConfig, period: str) -> tuple[float, str] | None:
    """(USD that may still be spent, the cap that binds) for this job and period, or None when
    no cap is set. Runs in the ledger's thread."""
    budget, ledger = run.config.budget, run.ledger
    rooms = []
    if budget.max_cost_usd is not None:
        rooms.append((budget.max_cost_usd - ledger.spent(), "max_cost_usd"))
    if budget.max_cost_usd_per_period is not None and period:
        spent = ledger.job_spent(job.name, period)
        rooms.append((budget.max_cost_usd_per_period - spent, "max_cost_usd_per_period"))
    if budget.max_cost_usd_per_month is not None:
        spent = ledger.month_spent(run.month())
        rooms.append((budget.max_cost_usd_per_month - spent, "max_cost_usd_per_month"))
    return min(rooms) if rooms else None


async def post_job(run: "Run", job: JobConfig) -> None:
    """Post the job's pending inputs of its period in this run's plan."""
    period = run.plan.key(job.name)
    current = run.plan.current[job.name]
    # The current period's batch stops when the period ends; a period named by --period is
    # the user's choice and is posted whenever it is run.
    deadline = current.end if current is not None and current.key == period else None
    files = await run.db(run.files_for, job.name, period)
    while True:
        if deadline is not None and run.clock() >= deadline:
            log.warning(
                "period_over job=%s period=%s: its unposted inputs are missed", job.name, period
            )
            return
        loaded = job.name in run.loaded_jobs
        more = run.more_inputs = anyio.Event()  # before the claim: a chunk loaded during it sets it
        batch, claimed = await run.db(run.ledger.claim_batch, job.name, period, MAX_TASKS_PER_POST)
        if not claimed:
            if loaded:
                return
            await more.wait()  # the inputs are still loading
            continue
        room = await run.db(_room, run, job, period)
        if room is not None:
            left, cap = room
            affordable = []
            for item in claimed:
                if item.est_cost > left + 1e-9:
                    break
                left -= item.est_cost
                affordable.append(item)
            if len(affordable) < len(claimed):
                await run.db(run.ledger.release, [c.tag for c in claimed[len(affordable) :]])
                run.report.budget_stopped = cap
                log.warning("budget_reached job=%s cap=%s", job.name, cap)
            if not affordable:
                return
            claimed = affordable
        tags = [c.tag for c in claimed]
        bodies = {c.tag: c.body for c in claimed}
        try:
            lid = run.ledger.id
            posted = [tagged_body(c.body, c.tag, attempt_tag(c.tag, lid, batch)) for c in claimed]
            if run.config.postback is not None:
                posted = [
                    with_webhook(b, run.config.postback, run.webhook, job.task_get) for b in posted
                ]
            answer = await run.client.task_post(job.se, job.se_type, posted)
        except AmbiguousPost as exc:
            log.warning("post_answer_lost job=%s error=%s", job.name, exc)
            await run.reconcile()
            continue
        except RequestRejected as exc:
            code, message = exc.status_code, exc.status_message
            refused = [
                (t, code, message, refusal_line(None, code, message, bodies[t])) for t in tags
            ]
            await run.db(files.write_refusals, refused)
            continue
        except (TransientApiError, AccountError):  # refused as a whole: nothing was created
            await run.db(run.ledger.release, tags)
            raise
        created, refused, retry = [], [], tags[len(answer.tasks or []) :]  # unanswered: retry
        for tag, task in zip(tags, answer.tasks or [], strict=False):
            disposition = classify(task.status_code)
            if disposition is Disposition.SUCCESS:
                created.append((tag, task.id, task.cost))
            elif disposition is Disposition.TRANSIENT:
                retry.append(tag)  # 50301/50401 on a task: it was not created
            else:
                code, message = task.status_code, task.status_message
                refused.append(
                    (tag, code, message, refusal_line(task.id, code, message, bodies[tag]))
                )
        await run.db(run.ledger.mark_posted, created, run.month())
        run.posted.set()
        await run.db(files.write_refusals, refused)
        await run.db(run.ledger.release, retry)
