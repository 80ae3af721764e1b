"""What the stages of one run share: the config, the ledger and its one thread, the client,
the plan of periods, the output files, the report, and the few events by which one stage wakes
another. `run.py` makes it and wires the stages (loader, producer, reconciler, poller, receiver,
sink); each stage takes it, and none imports `run.py` or another stage through it.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio

from orchestrator.config import Config
from orchestrator.ledger import Ledger
from orchestrator.periods import month_key, zone
from orchestrator.pipeline.bucket_sink import BucketFiles
from orchestrator.pipeline.outcome import RunReport
from orchestrator.pipeline.schedule import Plan
from orchestrator.pipeline.sink import JobFiles, output_folder
from orchestrator.storage.opening import open_bucket
from orchestrator.storage.parts import BucketRefusals, PartNames
from orchestrator.wire.client import ApiClient

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a run is waiting on, and until when (epoch seconds) if that is known."""

    what: str
    until: float | None = None
    when_idle: bool = False  # shown only once this batch is collected (the next period)


async def first_of(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return as soon as the first of several waits returns."""
    async with anyio.create_task_group() as tg:

        async def one(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(one, wait)


class RunContext:
    """The state one run's stages share. Events are replaced by the stage that waits on them
    (before it looks at what would set them) and set by the stage that changes that."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        client: ApiClient,
        plan: Plan,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.client = client
        self.plan = plan
        self.clock = clock  # epoch seconds: when periods begin and end
        self.jobs = {job.name: job for job in config.jobs}
        self.files: dict[tuple[str, str], JobFiles | BucketFiles] = {}
        self.bucket = open_bucket(config.output) if config.output.url else None
        self._part_names: PartNames | None = None
        self.report = RunReport()
        self.spent_before = ledger.spent()  # the ledger's total when this run began
        self.webhook = ""  # the postback/pingback URL each task is posted with, if any
        self.resent: dict[str, float] = {}  # task id -> when the poller may fetch it itself
        self.waiting: Waiting | None = None  # a wait the run chose (next period, id_list)
        self.collect_note: Waiting | None = None  # the poller's: tasks_ready full
        self.last_settled = time.monotonic()  # when results were last settled
        self.poll_interval_s = config.api.rate_period_s / config.api.tasks_ready_per_minute
        self.run_id: int | None = None  # the ledger's record of this run, for `status`
        self.produced = anyio.Event()  # the producer will post nothing more this run
        self.loaded_jobs: set[str] = set()  # jobs whose inputs are all in the ledger
        self.more_inputs = anyio.Event()  # replaced by a waiting producer; set per chunk loaded
        self.load_lock = anyio.Lock()  # one load at a time, each with its own period
        self.posted = anyio.Event()  # replaced by the poller before it idles; set on a post
        self._db = anyio.CapacityLimiter(1)  # one SQLite connection: one thread at a time

    def files_for(self, job: str, period: str) -> JobFiles | BucketFiles:
        """The output files of a job's period (call in the ledger's thread: opening them cuts
        back what a crash left unsettled). With a bucket, its refusals go there and only its
        rejected rows to the local folder."""
        found = self.files.get((job, period))
        if found is None:
            folder = output_folder(self.config.output.dir, job, period)
            if self.bucket is not None:
                refusals = BucketRefusals(self.bucket, self.ledger, self.part_names, job, period)
                found = BucketFiles(folder, refusals)
            else:
                output = self.config.output
                own = self.run_id if self.ledger.shared else None  # several runs: its own
                found = JobFiles(folder, self.ledger, output.gzipped, output.dir, own)
            self.files[(job, period)] = found
        return found

    @property
    def part_names(self) -> PartNames:
        """Names for this run's parts in the bucket (once the run is recorded)."""
        if self._part_names is None:
            assert self.run_id is not None
            self._part_names = PartNames(self.run_id, self.config.output.gzipped)
        return self._part_names

    def month(self) -> str:
        """The calendar month of the monthly budget, now."""
        return month_key(zone(self.config.timezone), self.clock())

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a ledger call off the event loop, shielded so a cancel cannot tear a commit."""
        with anyio.CancelScope(shield=True):
            result = await anyio.to_thread.run_sync(partial(fn, *args), limiter=self._db)
        return result
