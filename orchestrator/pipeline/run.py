"""One run: read inputs into the ledger, settle what a crash left open, then post (producer.py)
and collect (poller.py) until every input is done or failed, or the run's time is up. One task
group owns both stages; this module holds what they share and wires them.

The producer posts one batch at a time; a batch whose answer was lost, short or cut by a crash
is settled beside it by the reconciler (reconcile.py), from the facts the ledger recorded
about that attempt. The account limit, not the producer, sets the pace (100 tasks a call).
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Final

import anyio

from orchestrator.config import Config
from orchestrator.errors import AccountError, ApiError, ForeignOutput, LeaseLost
from orchestrator.ledger import PENDING, POSTED, POSTING, Ledger
from orchestrator.ledger.workers import RENEW_PARTS
from orchestrator.pipeline import loader, producer
from orchestrator.pipeline.context import RunContext, Waiting
from orchestrator.pipeline.outcome import RunReport
from orchestrator.pipeline.poller import Poller
from orchestrator.pipeline.progress import JobProgress, Snapshot
from orchestrator.pipeline.receiver import Receiver, catch_up, webhook_url
from orchestrator.pipeline.reconcile import Reconciler
from orchestrator.pipeline.schedule import Plan
from orchestrator.pipeline.settle import SinkWriter
from orchestrator.pipeline.sink import claim_folder, cut_back_runs, output_folder
from orchestrator.pipeline.waiting import waiting_now
from orchestrator.storage.parts import claim
from orchestrator.wire.client import ApiClient

log = logging.getLogger(__name__)
NOTE_EVERY_S: Final = 5.0  # how often `status`'s note of what the run waits on is refreshed


class Run(RunContext):
    """Wires inputs, ledger, client, producer, reconciler, poller and sink for one config."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        client: ApiClient,
        plan: Plan,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, ledger, client, plan, clock)
        self.receiver: Receiver | None = None  # with [postback], while the run collects
        self.sink: SinkWriter | None = None  # while the run collects
        self.collector: Poller | None = None  # while the run collects
        self.reconciler = Reconciler(self)
        self.config_file = ""  # the config's path, where the CLI knows it: jobs are its own
        self._noted: Waiting | None = None
        self._noted_at = 0.0
        self._deliveries_noted = (0, 0)

    def snapshot_sync(self) -> Snapshot:
        """Progress numbers from the ledger (call in the ledger's thread, or after the loop)."""
        jobs = {}
        for job in self.config.jobs:
            period = self.plan.key(job.name)
            c = self.ledger.counts(job.name, period)
            report = self.report.jobs.get(job.name)
            jobs[job.name] = JobProgress(
                total=sum(c.values()),
                posted=c["posted"] + c["done"] + c["failed"],
                collected=c["done"],
                failed=c["failed"],
                rejected=report.rejected if report is not None else 0,
                missed=c["missed"],
                period=period,
            )
        waiting = waiting_now(self, all(j.outstanding == 0 for j in jobs.values()))
        self.note(waiting)
        delivered, polled = self.note_deliveries()
        total = self.ledger.spent()
        return Snapshot(
            jobs,
            total - self.spent_before,
            self.client.calls,
            spent_total_usd=total,
            waiting_for=None if waiting is None else waiting.what,
            waiting_until=None if waiting is None else waiting.until,
            delivered=delivered,
            polled=polled,
        )

    def note_deliveries(self) -> tuple[int | None, int | None]:
        """With postbacks: (delivered, collected by polling) so far, recorded for `status`
        (ledger's thread); (None, None) without."""
        if self.config.postback is None or self.sink is None:
            return None, None
        counts = self.sink.delivered, self.sink.polled
        if self.run_id is not None and counts != self._deliveries_noted:
            self.ledger.note_deliveries(self.run_id, *counts)
            self._deliveries_noted = counts
        return counts

    def note(self, waiting: Waiting | None) -> None:
        """Record what the run waits on for `status`, when that changes (ledger's thread)."""
        if self.run_id is None or waiting == self._noted:
            return
        changed_kind = (waiting is None) != (self._noted is None)
        if changed_kind or time.monotonic() - self._noted_at >= NOTE_EVERY_S:
            self._noted, self._noted_at = waiting, time.monotonic()
            what, until = (None, None) if waiting is None else (waiting.what, waiting.until)
            self.ledger.note_waiting(self.run_id, what, until)

    def note_sync(self) -> None:
        """Work out and record what the run waits on (ledger's thread)."""
        in_flight = self.ledger.in_flight(list(self.jobs))
        pending = sum(self.ledger.counts(j, self.plan.key(j))["pending"] for j in self.jobs)
        self.note(waiting_now(self, in_flight + pending == 0))
        self.note_deliveries()

    async def keep_noting(self) -> None:
        """Keep `status`'s note of what the run waits on fresh, progress display or not."""
        while True:
            await self.db(self.note_sync)
            await anyio.sleep(NOTE_EVERY_S)

    async def keep_lease(self) -> None:
        """Renew this run's lease, and take on the runs found dead meanwhile: their open
        attempts are reconciled and their claimed answers fetched here (ledger/workers.py)."""
        while True:
            await anyio.sleep(self.config.state.lease_s / RENEW_PARTS)
            if not await self.db(self.ledger.renew):
                raise LeaseLost(
                    f"{self.ledger.path}: another run took over this run's work (its lease ran"
                    " out while it was stalled); it stops here, nothing of it is lost"
                )
            await self.adopt()

    async def adopt(self, starting: bool = False) -> None:
        """Take on the runs that are dead (all earlier ones, beside a file). Starting, the
        files of this config's jobs are cut back for every run taken over, by this run or
        another: a run of another config that took over one of ours could not cut them."""
        jobs = list(self.jobs)
        adopted = await self.db(self.ledger.adopt_dead, jobs)
        if not self.ledger.shared:
            return
        if self.bucket is None and (adopted or starting):
            runs = await self.db(self.ledger.taken_over) if starting else adopted
            await self.db(cut_back_runs, self.config.output.dir, self.ledger, runs, jobs)
        if adopted:
            log.warning(
                "runs_taken_over runs=%s: their leases ran out; this run settles their open"
                " attempts and fetches what they had asked for",
                ",".join(map(str, adopted)),
            )
            self.reconciler.wake()
            if self.collector is not None:
                await self.collector.resume()

    async def snapshot(self) -> Snapshot:
        return await self.db(self.snapshot_sync)

    def load_inputs(self, jobs: Iterable[str] | None = None) -> None:
        loader.load_inputs(self, jobs)

    async def load(self) -> None:
        await loader.load(self)

    def close_periods(self, jobs: Iterable[str] | None = None) -> None:
        loader.close_periods(self, jobs)

    async def check_account(self) -> None:
        """One free call (user_data) before anything is claimed: wrong credentials or a
        blocked account stop the run here (exit 3) with every input still pending, instead
        of failing mid-post with batches left *posting*."""
        try:
            await self.client.user_data()
        except AccountError:
            raise
        except ApiError as exc:  # the network or the API: posting meets it and retries
            log.warning("account_check_failed error=%s", exc)

    async def post_and_collect(self, follow: bool) -> None:
        """The wiring: loading, the producer and the collectors (the poller, and the receiver
        with [postback]) feeding one sink writer, until nothing is left in flight."""
        sink = self.sink = SinkWriter(self)
        collector = self.collector = Poller(self, sink)
        async with anyio.create_task_group() as writer:
            writer.start_soon(sink.write)
            self.receiver = None
            if self.config.postback is not None:
                self.receiver = Receiver(self, sink, collector)
                self.webhook = webhook_url(self.config.postback, self.receiver.secret)
                await self.receiver.start()
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self.load)
                    tg.start_soon(self.reconciler.keep_settling, self.produced)
                    stage = producer.follow if follow else producer.produce
                    tg.start_soon(stage, self, self.reconciler)
                    tg.start_soon(self.collect, collector)
            finally:
                with anyio.CancelScope(shield=True):
                    if self.receiver is not None:
                        await self.receiver.close()
                    sink.close()

    async def collect(self, collector: Poller) -> None:
        """With [postback], deliveries that failed while no run was up are asked for again
        first, so that the poller does not fetch them one by one meanwhile."""
        if self.config.postback is not None:
            await catch_up(self)
        await collector.collect()

    async def execute(self, max_runtime_s: float | None, follow: bool = False) -> RunReport:
        """Post, reconcile and collect concurrently until done or out of time; with
        `follow`, post each new period's batch when it begins, until cancelled."""
        if self.run_id is None:  # the CLI records its run; a run made in code gets one here,
            # for its batches name the run that claimed them: the reconciler never takes a
            # POST still in flight here for one a crash cut short
            lease_s = self.config.state.lease_s
            self.run_id = await self.db(self.ledger.start_run, lease_s, list(self.jobs))
        output = self.config.output
        for name in self.jobs:  # before anything is posted: refuse folders not ours
            home = (name, self.config_file, output.url or output.dir)
            other = await self.db(self.ledger.claim_home, *home) if self.config_file else None
            if other is not None:
                raise ForeignOutput(
                    self.config.output.dir,
                    f"job {name!r} of the ledger {self.ledger.path} belongs to the config"
                    f" {other} (from the ledger's folder), which writes elsewhere: give each"
                    " config its own [state] path, or its jobs their own names",
                )
            await self.db(claim_folder, output_folder(output.dir, name, ""), self.ledger)
            if self.bucket is not None:
                orphans = await self.db(claim, self.bucket, name, self.ledger)
                for key in orphans:
                    log.warning("orphan_part_removed %s/%s: no run recorded it", output.url, key)
        await self.adopt(starting=True)  # before anything is posted or asked for
        with anyio.move_on_after(max_runtime_s) as scope:
            async with anyio.create_task_group() as notes:
                notes.start_soon(self.keep_noting)
                notes.start_soon(self.keep_lease)
                await self.check_account()
                await self.db(self.close_periods)
                await self.post_and_collect(follow)
                notes.cancel_scope.cancel()
        self.report.timed_out = scope.cancelled_caught
        for name, jr in self.report.jobs.items():
            jr.counts = await self.db(self.ledger.counts, name, jr.period)
        self.report.spent = await self.db(self.ledger.spent)
        self.report.outstanding = await self.db(self.ledger.outstanding)
        stopped = self.report.account_stopped
        if stopped is not None:  # exit 3, once what was paid for is in (or time is up)
            counts = [jr.counts for jr in self.report.jobs.values()]
            unposted = sum(c.get(PENDING, 0) for c in counts)
            left = sum(c.get(POSTING, 0) + c.get(POSTED, 0) for c in counts)
            collected = (
                f"{left} posted tasks still to collect (the next run collects them)"
                if left
                else "every task already paid for was collected"
            )
            raise AccountError(
                stopped.status_code,
                f"{stopped.status_message} Posting stopped: {collected}; {unposted} inputs not"
                " posted: top up the balance, then run again",
                stopped.endpoint,
            )
        return self.report
