"""The client retries what is safe, never re-posts blindly, and stops on account errors."""

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import ApiConfig, Credentials
from orchestrator.errors import AccountError, RequestRejected
from orchestrator.simulator.app import serve
from orchestrator.wire.client import AmbiguousPost, ApiClient, RetryPolicy
from orchestrator.wire.limiter import AccountLimiter, CallLog
from tests.conftest import fast_config

TASK = b'{"keyword": "k", "location_code": 2840, "language_code": "en", "tag": "j:1"}'
QUICK = RetryPolicy(attempts=8, base_s=0.001, cap_s=0.01)


@asynccontextmanager
async def client_for(url: str, password: str = "sim", **limits: Any) -> AsyncIterator[ApiClient]:
    api = ApiConfig(base_url=url, **limits)
    limiter = AccountLimiter.for_api(api)
    async with ApiClient(
        api, Credentials("sim", password), limiter, QUICK, random.Random(1)
    ) as client:
        yield client


async def test_post_then_collect_through_the_client() -> None:
    """task_post, tasks_ready and task_get work end to end against the simulator."""
    async with serve(fast_config()) as sim, client_for(sim.url) as client:
        posted = await client.task_post("google", "organic", [TASK])
        task_id = posted.tasks[0].id
        ready = await client.tasks_ready()
        assert [r.id for r in ready.tasks[0].result] == [task_id]
        raw = await client.task_get("google", "organic", task_id)
        assert task_id.encode() in raw and b'"status_code":20000' in raw


async def test_idempotent_calls_survive_transient_faults() -> None:
    """With half the calls faulted (500s, drops, truncation), GETs still succeed by retrying."""
    weights = {"http_500": 1.0, "drop": 1.0, "truncate": 1.0}
    async with serve(fast_config(fault_rate=0.5, fault_weights=weights, seed=3)) as sim:
        async with client_for(sim.url) as client:
            for _ in range(10):
                answer = await client.id_list(
                    "2000-01-01 00:00:00 +00:00", "2000-01-02 00:00:00 +00:00"
                )
                assert answer.status_code == 20000
            assert client.retries > 0
        assert sim.sim.stats()["rate_limited"] == 0


async def test_a_dropped_post_answer_is_ambiguous_not_retried() -> None:
    """When the answer to task_post is lost, the client does not post again."""
    async with serve(fast_config(fault_rate=1.0, fault_weights={"drop_after": 1.0})) as sim:
        async with client_for(sim.url) as client:
            with pytest.raises(AmbiguousPost):
                await client.task_post("google", "organic", [TASK])
        stats = sim.sim.stats()
        assert stats["calls_by_function"]["task_post"] == 1 and stats["tasks_created"] == 1


async def test_post_refused_by_the_rate_limit_is_retried_after_slowing_down() -> None:
    """A 40202 means nothing was done: the client pauses and posts again, once created."""
    async with serve(fast_config(calls_per_minute=1, rate_period_s=0.3)) as sim:
        async with client_for(sim.url, calls_per_minute=100, rate_period_s=1) as client:
            await client.task_post("google", "organic", [TASK])
            second = await client.task_post("google", "organic", [TASK.replace(b"j:1", b"j:2")])
        assert second.tasks[0].status_code == 20100
        stats = sim.sim.stats()
        assert (
            stats["rate_limited"] >= 1
            and stats["tasks_created"] == 2
            and stats["duplicate_tags"] == 0
        )


async def test_wrong_credentials_stop_at_once_and_do_not_leak() -> None:
    """40100 raises AccountError on the first call, and the password is nowhere in it."""
    async with serve(fast_config()) as sim, client_for(sim.url, password="hunter2") as client:
        with pytest.raises(AccountError) as caught:
            await client.tasks_ready()
        assert caught.value.status_code == 40100 and "hunter2" not in repr(caught.value) + str(
            caught.value
        )
        assert sim.sim.stats()["unauthorized"] == 1


async def test_refused_request_is_not_retried() -> None:
    """A top-level request error (unknown endpoint, 40400) raises RequestRejected, once."""
    async with serve(fast_config()) as sim, client_for(sim.url) as client:
        with pytest.raises(RequestRejected):
            await client.task_post("altavista", "organic", [TASK])
        assert sim.sim.stats()["calls_total"] == 1


async def test_every_request_on_the_wire_passes_the_limiter_resends_included() -> None:
    """aiohttp re-sends a GET whose keep-alive connection drops; that re-send is a request the
    API counts, so it passes the limiter too: the server sees exactly what the limiter let
    through, and never more than the limit in a window."""
    sim_config = fast_config(
        fault_rate=0.5,
        fault_weights={"tasks_ready:drop": 1.0},
        seed=8,
        tasks_ready_per_minute=6,
        rate_period_s=2.0,
    )
    async with serve(sim_config) as running:
        limits: dict[str, Any] = {
            "tasks_ready_per_minute": 6,
            "rate_period_s": 2.0,
            "rate_jitter_s": 0.2,
        }
        async with client_for(running.url, **limits) as client:
            for _ in range(12):
                await client.tasks_ready()
            admitted = client._limiter.admitted
        sim = running.sim
        assert sim.faults_injected["drop"] > 0
        assert sim.calls_total == admitted
        assert sim.rate_limited == 0


async def test_a_new_process_counts_the_calls_the_last_one_made_in_the_window(
    tmp_path: Path,
) -> None:
    """The previous process's calls of the current window are read back from the call log:
    the next process waits for them to age out instead of going over the limit (a bucket with
    a large burst, so that a fresh one would go over at once)."""
    sim_config = fast_config(calls_per_minute=10, rate_period_s=3.0)
    async with serve(sim_config) as running:
        limits: dict[str, Any] = {"calls_per_minute": 10, "rate_period_s": 3.0}
        for _ in range(2):  # two processes, one right after the other
            history = CallLog(str(tmp_path / "state.sqlite.calls"), 26)
            api = ApiConfig(base_url=running.url, **limits)
            limiter = AccountLimiter(10, 3.0, 20, 5, jitter_s=0.1, burst_share=0.9, history=history)
            async with ApiClient(api, Credentials("sim", "sim"), limiter, QUICK) as client:
                for _ in range(8):
                    await client.task_get(
                        "google", "organic", "00000000-0000-0000-0000-000000000000"
                    )
            history.close()
        assert running.sim.calls_total == 16 and running.sim.rate_limited == 0
        assert limiter.inherited >= 8  # the last window of the first process's calls
