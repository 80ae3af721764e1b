"""The account's window on the ledger's server (ledger/rate_slots.py, wire/limiter.py's
Schedule): several processes reserving call slots at once, on a real PostgreSQL server, never
crowd a window past the limit; a run killed at its busiest and started again from a new folder
(a new pod: no call log on its disk) keeps the simulator's strict window with 0 calls refused.
"""

import itertools
import threading
import time
from pathlib import Path

import anyio
import pytest

from bench.postgres import most_in
from orchestrator.ledger import Ledger
from orchestrator.ledger.rate_slots import SharedWindow
from orchestrator.wire.limiter import SLOT_TOLERANCE_S, AccountLimiter, slot_spacing
from tests import pg_server


def test_a_slots_spacing_keeps_any_window_within_the_limit_with_late_use() -> None:
    limit, window = 50, 2.0
    spacing = slot_spacing(limit, window)
    slots = [n * spacing for n in range(500)]
    late = [at + (SLOT_TOLERANCE_S if n % 2 else 0.0) for n, at in enumerate(slots)]
    assert most_in(late, window) <= limit
    assert most_in(slots, window) >= limit - 2  # and not much less: the rate is used


def test_slots_reserved_by_several_processes_at_once_are_all_a_spacing_apart(
    pg: pg_server.Server,
) -> None:
    url = pg.url()
    Ledger(url, pg_server.PASSWORD).close()  # the ledger's schema
    spacing = 0.01
    got: list[float] = []
    lock = threading.Lock()

    def reserve(worker: int) -> None:
        window = SharedWindow(url, pg_server.PASSWORD)
        try:
            for n in range(40):
                count = 1 + (n + worker) % 4
                first, server_now = window.reserve("general", spacing, count)
                assert first >= server_now - 1e-6
                with lock:
                    got.extend(first + i * 0.01 for i in range(count))
        finally:
            window.close()

    threads = [threading.Thread(target=reserve, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got.sort()
    assert len(got) == 4 * sum(1 + n % 4 for n in range(40))
    assert min(b - a for a, b in itertools.pairwise(got)) >= 0.01 - 1e-6


async def test_three_limiters_on_one_server_admit_no_more_than_the_limit_in_any_window(
    pg: pg_server.Server,
) -> None:
    """Three processes' limiters (as three workers or a run and a `validate`) admit 150 calls
    between them under 40 per 2 s: no 2 s holds more than 40 admissions."""
    url = pg.url()
    Ledger(url, pg_server.PASSWORD).close()
    windows = [SharedWindow(url, pg_server.PASSWORD) for _ in range(3)]
    admitted: list[float] = []
    try:

        async def worker(window: SharedWindow) -> None:
            limiter = AccountLimiter(40, 2.0, 20, 30, jitter_s=0.0, shared=window)
            async with anyio.create_task_group() as calls:
                for _ in range(50):

                    async def one() -> None:
                        async with limiter.call():
                            admitted.append(time.time())

                    calls.start_soon(one)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for window in windows:
                    tg.start_soon(worker, window)
    finally:
        for window in windows:
            window.close()
    assert len(admitted) == 150
    assert most_in(admitted, 2.0) <= 40


async def test_tasks_ready_waiting_for_its_turn_holds_back_no_other_call(
    pg: pg_server.Server,
) -> None:
    """Two processes' limiters at 40 calls per 2 s, tasks_ready 3 per 2 s: while six
    tasks_ready calls wait their turns (a second apart), 30 other calls are all admitted
    before the last of them, and no window holds more than either limit."""
    url = pg.url()
    Ledger(url, pg_server.PASSWORD).close()
    windows = [SharedWindow(url, pg_server.PASSWORD) for _ in range(2)]
    admitted: list[tuple[float, bool]] = []
    try:

        async def calls(window: SharedWindow, others: int) -> None:
            limiter = AccountLimiter(40, 2.0, 3, 30, jitter_s=0.0, shared=window)
            ready_here: list[float] = []

            async def one(ready: bool) -> None:
                async with limiter.call(tasks_ready=ready):
                    admitted.append((time.time(), ready))
                    if ready:
                        ready_here.append(time.time())

            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(one, True)
                assert limiter.schedule is not None
                # The tasks_ready calls ask first: all three waiting or admitted (the first is
                # due at once, and may be admitted before three are ever seen waiting; the
                # test's fail_after bounds the wait)
                while True:
                    if limiter.schedule.waiting + len(ready_here) >= 3:
                        break
                    await anyio.sleep(0.005)
                for _ in range(others):
                    tg.start_soon(one, False)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(calls, windows[0], 30)
                tg.start_soon(calls, windows[1], 0)
    finally:
        for window in windows:
            window.close()
    ready_at = sorted(at for at, ready in admitted if ready)
    other_at = sorted(at for at, ready in admitted if not ready)
    assert len(ready_at) == 6 and len(other_at) == 30
    assert other_at[-1] < ready_at[-1]
    assert most_in([at for at, _ in admitted], 2.0) <= 40 and most_in(ready_at, 2.0) <= 3


class CountingWindow(SharedWindow):
    """The server's window, counting the reservations made and the slots they took."""

    def __init__(self, url: str) -> None:
        super().__init__(url, pg_server.PASSWORD)
        self.reserved: list[int] = []

    def reserve(self, kind: str, spacing: float, count: int) -> tuple[float, float]:
        self.reserved.append(count)
        return super().reserve(kind, spacing, count)


async def test_at_an_accounts_limit_each_call_reserves_its_own_slot_and_no_more(
    pg: pg_server.Server,
) -> None:
    """At 2000 calls a minute (slots 30 ms apart), calls one after another reserve one slot
    each: none is taken from the other processes of the account and dropped."""
    url = pg.url()
    Ledger(url, pg_server.PASSWORD).close()
    window = CountingWindow(url)
    try:
        limiter = AccountLimiter(2000, 60.0, 1000, 30, jitter_s=0.0, shared=window)
        for _ in range(5):
            async with limiter.call():
                pass
    finally:
        window.close()
    assert window.reserved == [1] * 5
    assert limiter.schedule is not None and limiter.schedule.dropped == 0


async def test_with_the_limit_lifted_one_round_trip_reserves_many_calls_slots(
    pg: pg_server.Server,
) -> None:
    """At a million calls a minute, 600 calls made one after another (never more than one
    waiting) reserve their slots in a few round trips to the server, not one each; the blocks
    reserved hold the 600 slots used and those dropped."""
    url = pg.url()
    Ledger(url, pg_server.PASSWORD).close()
    window = CountingWindow(url)
    admitted: list[float] = []
    try:
        limiter = AccountLimiter(1_000_000, 60.0, 1_000_000, 30, jitter_s=0.0, shared=window)
        for _ in range(600):
            async with limiter.call():
                admitted.append(time.time())
    finally:
        window.close()
    assert len(admitted) == 600 == limiter.admitted
    assert len(window.reserved) <= 60, window.reserved
    assert limiter.schedule is not None
    # a slot used is gone: the calls took 600 slots, the rest of the blocks were dropped
    assert sum(window.reserved) >= 600 + limiter.schedule.dropped - max(window.reserved)


async def test_slots_of_a_block_past_their_tolerance_are_dropped_and_never_used_late(
    pg: pg_server.Server,
) -> None:
    """A block reserved at a million calls a minute, its first slot used: once this process's
    clock is the tolerance and 10.5 spacings past the block's start, the next call drops the
    ten slots before that moment and takes the eleventh, with no round trip; once the whole
    block is past, the next call drops what is left and reserves a new block."""
    url = pg.url()
    Ledger(url, pg_server.PASSWORD).close()
    window = CountingWindow(url)
    now = [1000.0]
    try:
        limiter = AccountLimiter(
            1_000_000, 60.0, 1_000_000, 30, jitter_s=0.0, clock=lambda: now[0], shared=window
        )
        schedule = limiter.schedule
        assert schedule is not None
        async with limiter.call():
            pass
        [block] = window.reserved
        assert block > 12
        now[0] += SLOT_TOLERANCE_S + 10.5 * slot_spacing(1_000_000, 60.0)
        async with limiter.call():
            pass
        assert (window.reserved, schedule.dropped) == ([block], 10)
        now[0] += 1.0
        async with limiter.call():
            pass
        assert (window.reserved, schedule.dropped) == ([block, block], block - 2)
    finally:
        window.close()


@pytest.mark.timeout(240)
def test_a_run_started_again_on_a_new_disk_keeps_the_window_of_the_killed_one(
    tmp_path: Path, pg: pg_server.Server
) -> None:
    """A run on PostgreSQL at a strict limit of 40 calls per 4 s is killed while it calls at
    that rate; the next starts in another folder at once (a new pod: no call log beside it).
    The simulator refuses no call, and no window held more than the limit."""
    import signal
    import subprocess
    import sys

    from tests.test_e2e_postgres import PG_ENV, on_postgres
    from tests.test_e2e_promises import daily_config
    from tests.test_e2e_run import running_simulator, stats

    flags = ("--calls-per-minute", "40", "--rate-period-s", "4", "--delay-normal-s", "0:1")
    limits = "[api]\ncalls_per_minute = 40\nrate_period_s = 4\n"
    url = pg.url()
    with running_simulator(*flags, "--seed", "6") as api:
        first, second = tmp_path / "pod1", tmp_path / "pod2"
        configs = []
        for pod in (first, second):
            pod.mkdir()
            text = daily_config(pod, api, 120).read_text().replace("[api]\n", limits, 1)
            (pod / "jobs.toml").write_text(text)
            configs.append(on_postgres(pod / "jobs.toml", url))
        cmd = [sys.executable, "-m", "orchestrator", "run", "--config"]
        proc = subprocess.Popen(
            [*cmd, str(configs[0])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=PG_ENV,
        )
        deadline = time.monotonic() + 120
        while stats(api)["calls_total"] < 60:  # past its first window: calling at the limit
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        done = subprocess.run(
            [*cmd, str(configs[1])], capture_output=True, text=True, env=PG_ENV, timeout=200
        )
        assert done.returncode == 0, done.stderr[-3000:]
        numbers = stats(api)
    assert not list(second.glob("*.calls"))  # nothing on the new pod's disk told it
    assert numbers["rate_limited"] == 0 and numbers["window_peak"] <= 40
    assert numbers["tasks_created"] == 120
