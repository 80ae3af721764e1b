"""The producer: claim pending inputs 100 at a time (write-ahead), post them, and record what
the API created or refused. It never posts past a budget, and never posts a period's inputs
after that period is over. With `--follow` it posts each new period's batch as it begins.

Each attempt is recorded in the ledger: that it goes on the wire (committed before it does,
in the server's clock), and how it ended when the answer was lost or short. The answer is
read by each task's echoed tag, never by position. Rows whose tasks may exist stay *posting*
for the reconciler (reconcile.py), and the producer goes on with the next batch; it ends only
once the reconciler holds no rows it may yet release.
"""

import logging
import time
from collections.abc import Callable
from typing import Final

import anyio

from orchestrator.config import JobConfig
from orchestrator.errors import AccountError, RequestRejected, TransientApiError
from orchestrator.ledger import Claimed
from orchestrator.ledger.repost import Outcome, sort_answer
from orchestrator.pipeline import budget
from orchestrator.pipeline.context import RunContext, Waiting
from orchestrator.pipeline.loader import load
from orchestrator.pipeline.receiver import with_webhook
from orchestrator.pipeline.reconcile import Reconciler
from orchestrator.pipeline.schedule import local_time, plan
from orchestrator.pipeline.sink import RefusalWriter, refusal_line
from orchestrator.pipeline.tags import attempt_tag, tagged_body
from orchestrator.wire.client import AmbiguousPost
from schemas.field_rules import MAX_TASKS_PER_POST

log = logging.getLogger(__name__)
PAYMENT_STOPS: Final = frozenset({40200, 40201})  # no balance; the account blocked


async def produce(run: RunContext, reconciler: Reconciler) -> None:
    """Post every pending input of this run's periods, 100 a call, within the budget, and
    what the reconciler releases, until it holds nothing more (or the balance runs out)."""
    try:
        while True:
            for job in run.config.jobs:
                if not await post_job_or_stop(run, job, reconciler):
                    return
            if not await wait_for_held(run, reconciler):
                return
    finally:
        run.produced.set()


async def post_job_or_stop(run: RunContext, job: JobConfig, reconciler: Reconciler) -> bool:
    """`post_job`; False once the account refuses to pay for more (40200, 40201). The tasks
    already paid for are still collected: the run says so and exits 3 once they are in,
    instead of leaving them behind (each later run met the same refusal and left them too)."""
    try:
        await post_job(run, job, reconciler)
    except AccountError as exc:
        if exc.status_code not in PAYMENT_STOPS:
            raise
        log.warning(
            "posting_stopped code=%d message=%s: collecting the tasks already paid for",
            exc.status_code,
            exc.status_message,
        )
        run.report.account_stopped = exc
        return False
    return True


async def wait_for_held(run: RunContext, reconciler: Reconciler) -> bool:
    """Wait until the reconciler moves some of the rows it holds; False if it holds none."""
    changed = reconciler.changed
    held = await reconciler.held()
    if not held:
        return False
    run.waiting = reconciler.note(held)
    reconciler.wake()
    await changed.wait()
    run.waiting = None
    return True


async def follow(run: RunContext, reconciler: Reconciler) -> None:
    """Post the current batches, then wait for the next period to begin and post its batch
    too, until the run is cancelled (SIGTERM, SIGINT, --max-runtime)."""
    while True:
        for job in run.config.jobs:
            if not await post_job_or_stop(run, job, reconciler):
                run.produced.set()
                return
        if await wait_for_held(run, reconciler):  # released rows go before the next period
            continue
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
        await sleep_until(run.clock, when)
        run.waiting = None
        before = run.plan
        run.plan = plan(run.config, max(run.clock(), when), None, "")
        changed = [j for j in run.jobs if run.plan.key(j) != before.key(j)]
        log.info("period_begins jobs=%s", ",".join(f"{j}@{run.plan.key(j)}" for j in changed))
        run.loaded_jobs.difference_update(changed)
        await load(run)  # chunk by chunk, so the poller is not held up; then closes periods


WALL_CHECK_S = 30.0  # a wait for a wall-clock time re-reads the clock at least this often


async def sleep_until(
    clock: Callable[[], float], when: float, check_s: float = WALL_CHECK_S
) -> None:
    """Sleep until the wall clock reads `when`, reading it again every `check_s`: a sleep of
    the event loop's monotonic clock alone would miss a step of the wall clock (NTP, a
    suspended machine) by as much as the step."""
    while (left := when - clock()) > 0:  # noqa: ASYNC110  # no event: the wall clock is polled
        await anyio.sleep(min(left, check_s))


async def post_job(run: RunContext, job: JobConfig, reconciler: Reconciler) -> None:
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
        batch, claimed = await run.db(
            run.ledger.claim_batch, job.name, period, MAX_TASKS_PER_POST, run.run_id
        )
        if not claimed:
            if loaded:
                return
            await more.wait()  # the inputs are still loading
            continue
        caps = run.config.budget
        if budget.capped(caps):
            spend = await run.db(run.ledger.spend_facts, job.name, period, run.month(), batch)
            left, cap = budget.room(caps, spend, period)
            fits = budget.affordable((c.est_cost for c in claimed), left)
            if fits < len(claimed):
                await run.db(run.ledger.release, [c.tag for c in claimed[fits:]])
                run.report.budget_stopped = cap
                log.warning("budget_reached job=%s cap=%s", job.name, cap)
            if not fits:
                return
            claimed = claimed[:fits]
        await post_batch(run, reconciler, job, files, batch, claimed)


async def post_batch(
    run: RunContext,
    reconciler: Reconciler,
    job: JobConfig,
    files: RefusalWriter,
    batch: int,
    claimed: list[Claimed],
) -> None:
    """Post one claimed batch and record what came of it."""
    tags = [c.tag for c in claimed]
    bodies = {c.tag: c.body for c in claimed}
    lid = run.ledger.id
    sent_as = {attempt_tag(c.tag, lid, batch): c.tag for c in claimed}
    posted = [tagged_body(c.body, c.tag, a) for a, c in zip(sent_as, claimed, strict=True)]
    if run.config.postback is not None:
        posted = [with_webhook(b, run.config.postback, run.webhook, job.task_get) for b in posted]
    client = run.client
    server_clock: list[bool] = []  # how the send was recorded, once it was

    async def on_wire() -> None:
        known = client.server_skew_known
        at = client.server_now() if known else time.time()
        await run.db(run.ledger.note_sent, batch, at, known)
        server_clock[:] = [known]

    def ended() -> float:
        return client.server_now() if server_clock[0] else time.time()

    try:
        answer = await client.task_post(job.se, job.se_type, posted, on_wire=on_wire)
    except AmbiguousPost as exc:
        if not server_clock:  # it never went on the wire: nothing can exist
            await run.db(run.ledger.release, tags)
            return
        log.warning("post_answer_lost job=%s batch=%d error=%s", job.name, batch, exc)
        await run.db(run.ledger.note_outcome, batch, Outcome.AMBIGUOUS, ended(), str(exc))
        reconciler.wake()
        return
    except RequestRejected as exc:
        code, message = exc.status_code, exc.status_message
        refused = [(t, code, message, refusal_line(None, code, message, bodies[t])) for t in tags]
        await run.db(files.write_refusals, refused)
        return
    except (TransientApiError, AccountError):  # refused as a whole: nothing was created
        await run.db(run.ledger.release, tags)
        raise
    answered = sort_answer(sent_as, answer.tasks or [])
    if answered.missing:
        log.warning(
            "post_answer_short job=%s batch=%d posted=%d answered=%d strangers=%d: the rest"
            " stay posting until id_list says whether they exist",
            job.name,
            batch,
            len(tags),
            len(tags) - len(answered.missing),
            answered.strangers,
        )
        await run.db(run.ledger.note_outcome, batch, Outcome.SHORT, ended(), "short answer")
        reconciler.wake()
    await run.db(run.ledger.mark_posted, answered.created, run.month())
    run.posted.set()
    refusals = [
        (tag, code, message, refusal_line(tid or None, code, message, bodies[tag]))
        for tag, code, message, tid in answered.refused
    ]
    await run.db(files.write_refusals, refusals)
    await run.db(run.ledger.release, answered.not_created)
