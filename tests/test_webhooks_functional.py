"""Pingbacks and postbacks reach the URLs given, and a failed delivery keeps the task listed."""

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

import schemas
from orchestrator.simulator.app import serve
from tests.conftest import fast_config

GOOD = {"keyword": "k", "location_code": 2840, "language_code": "en"}


class Receiver:
    """A tiny webhook server on loopback that records what it gets."""

    def __init__(self, answer: int) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, bytes]] = []
        self.encodings: list[str | None] = []
        self.arrived = anyio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.encodings.append(request.headers.get("Content-Encoding"))
        self.calls.append((request.method, request.path_qs, await request.read()))
        self.arrived.set()
        return web.Response(status=self.answer)


@pytest.fixture
async def receiver(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Receiver, str]]:
    recv = Receiver(getattr(request, "param", 200))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield recv, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _ready_tags(http: aiohttp.ClientSession, url: str) -> list[str]:
    async with http.get(f"{url}/v3/serp/tasks_ready") as resp:
        body: dict[str, Any] = await resp.json()
    return [r["tag"] for r in body["tasks"][0]["result"]]


async def test_pingback_is_a_get_with_id_and_tag_filled_in(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    """On completion the simulator GETs the pingback URL with $id and the urlencoded $tag."""
    recv, base = receiver
    async with serve(fast_config()) as sim:
        task = {**GOOD, "tag": "job a/1", "pingback_url": f"{base}/ping?id=$id&tag=$tag"}
        async with http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task]) as resp:
            task_id = (await resp.json())["tasks"][0]["id"]
        with anyio.fail_after(5):
            await recv.arrived.wait()
        method, path, _ = recv.calls[0]
        assert method == "GET" and path == f"/ping?id={task_id}&tag=job%20a%2F1"
        assert await _ready_tags(http, sim.url) == ["job a/1"]  # a pingback carries no result


async def test_postback_sends_gzip_results_and_leaves_tasks_ready(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    """A delivered postback is a gzip POST of the task_get envelope; the task is not listed."""
    recv, base = receiver
    async with serve(fast_config()) as sim:
        task = {**GOOD, "tag": "t", "postback_url": f"{base}/post/$id", "postback_data": "advanced"}
        async with http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task]) as resp:
            task_id = (await resp.json())["tasks"][0]["id"]
        with anyio.fail_after(5):
            await recv.arrived.wait()
        method, path, body = recv.calls[0]
        assert recv.encodings == ["gzip"]  # aiohttp's server has gunzipped the body for us
        decoded = schemas.decode_task_get(body, "google", "organic")
        assert method == "POST" and path == f"/post/{task_id}"
        assert decoded.tasks[0].id == task_id and decoded.tasks[0].result[0].keyword == "k"
        assert await _ready_tags(http, sim.url) == []
        async with aiohttp.ClientSession() as plain, plain.get(f"{sim.url}/_sim/stats") as resp:
            assert (await resp.json())["webhooks_sent"] == 1


@pytest.mark.parametrize(("variant", "kinds"), [("regular", {"local_pack"}), ("html", None)])
async def test_a_postback_carries_the_variant_postback_data_names(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str], variant: str, kinds: Any
) -> None:
    """bing/local_pack has no advanced answer: its postbacks carry regular or html, as asked."""
    recv, base = receiver
    async with serve(fast_config()) as sim:
        task = {**GOOD, "tag": "lp", "postback_url": f"{base}/p", "postback_data": variant}
        async with http.post(f"{sim.url}/v3/serp/bing/local_pack/task_post", json=[task]) as resp:
            assert (await resp.json())["tasks"][0]["status_code"] == 20100
        with anyio.fail_after(5):
            await recv.arrived.wait()
        delivered = json.loads(recv.calls[0][2])["tasks"][0]
        assert delivered["path"][-2] == variant
        items = delivered["result"][0]["items"]
        if kinds is None:
            assert items[0]["html"].startswith("<!doctype html>")
        else:
            assert {i["type"] for i in items} == kinds


@pytest.mark.parametrize("receiver", [500], indirect=True)
async def test_failed_postback_leaves_the_task_in_tasks_ready(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    """A postback answered with HTTP 500 counts as failed; the task shows in tasks_ready."""
    recv, base = receiver
    async with serve(fast_config()) as sim:
        task = {
            **GOOD,
            "tag": "retry-me",
            "postback_url": f"{base}/post",
            "postback_data": "advanced",
        }
        await http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task])
        with anyio.fail_after(5):
            await recv.arrived.wait()
            # The simulator has no "delivery settled" event; the wait is bounded by fail_after.
            while await _ready_tags(http, sim.url) != ["retry-me"]:  # noqa: ASYNC110
                await anyio.sleep(0.02)


async def test_external_webhook_targets_are_not_contacted(http: aiohttp.ClientSession) -> None:
    """By default only loopback URLs get webhooks; others fail at once and stay in tasks_ready."""
    async with serve(fast_config()) as sim:
        task = {
            **GOOD,
            "tag": "ext",
            "postback_url": "https://example.com/p",
            "postback_data": "advanced",
        }
        await http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task])
        with anyio.fail_after(5):
            while await _ready_tags(http, sim.url) != ["ext"]:  # noqa: ASYNC110 - bounded, see above
                await anyio.sleep(0.02)
        assert json.loads(json.dumps(sim.sim.stats()))["webhooks_failed"] == 1


@pytest.mark.parametrize("receiver", [503], indirect=True)
async def test_errors_lists_a_failed_delivery_and_webhook_resend_sends_it_again(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    """/v3/serp/errors lists the failed postback (function, URL, HTTP code) and not under
    another function; webhook_resend delivers it again (20100), refuses an unknown id (40401)
    and more than 100 ids (40501)."""
    recv, base = receiver
    async with serve(fast_config()) as sim:
        task = {**GOOD, "tag": "again", "postback_url": f"{base}/p", "postback_data": "advanced"}
        await http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task])
        with anyio.fail_after(5):
            while not sim.sim.store.webhook_errors:  # noqa: ASYNC110 - bounded, see above
                await anyio.sleep(0.02)

        async def errors(function: str) -> list[dict[str, Any]]:
            query = [{"filtered_function": function, "limit": 10}]
            async with http.post(f"{sim.url}/v3/serp/errors", json=query) as resp:
                found: list[dict[str, Any]] = (await resp.json())["tasks"][0]["result"]
            return found

        [failed] = await errors("postback_url")
        assert failed["http_code"] == 503 and failed["http_url"] == f"{base}/p"
        assert await errors("pingback_url") == []
        recv.answer = 200
        body = [{"id": failed["id"]}, {"id": "11231326-0000-0000-0000-000000000000"}]
        async with http.post(f"{sim.url}/v3/appendix/webhook_resend", json=body) as resp:
            codes = [t["status_code"] for t in (await resp.json())["tasks"]]
        assert codes == [20100, 40401]
        with anyio.fail_after(5):
            while len(recv.calls) < 2:  # noqa: ASYNC110 - bounded, see above
                await anyio.sleep(0.02)
        assert await _ready_tags(http, sim.url) == []  # delivered now: no longer listed
        many = [{"id": failed["id"]}] * 101
        async with http.post(f"{sim.url}/v3/appendix/webhook_resend", json=many) as resp:
            assert (await resp.json())["tasks"][0]["status_code"] == 40501


@pytest.mark.parametrize("receiver", [503], indirect=True)
async def test_the_retrying_api_is_a_switch_away(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    """Whether the API delivers a failed webhook again is unclear: by default the simulator
    does not (the tests above), and with `webhook_retries` it does, after a pause."""
    recv, base = receiver
    async with serve(fast_config(webhook_retries=1, webhook_retry_after_s=0.2)) as sim:
        task = {**GOOD, "tag": "twice", "postback_url": f"{base}/p", "postback_data": "advanced"}
        await http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task])
        with anyio.fail_after(5):
            await recv.arrived.wait()
        recv.answer = 200
        with anyio.fail_after(5):
            while len(recv.calls) < 2:  # noqa: ASYNC110 - bounded, see above
                await anyio.sleep(0.02)
            while await _ready_tags(http, sim.url) != []:  # noqa: ASYNC110 - bounded
                await anyio.sleep(0.02)
        assert len(sim.sim.store.webhook_errors) == 1


async def test_a_slow_receiver_fails_the_delivery(http: aiohttp.ClientSession) -> None:
    """A receiver that takes longer than the timeout (the API's is 10 s; here 0.2) has failed:
    the task is listed in tasks_ready and by /v3/serp/errors with no HTTP code."""

    async def slow(request: web.Request) -> web.Response:
        await anyio.sleep(2)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with serve(fast_config(webhook_timeout_real_s=0.2)) as sim:
            task = {**GOOD, "tag": "slow", "postback_url": f"{base}/p", "postback_data": "advanced"}
            await http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=[task])
            with anyio.fail_after(5):
                while await _ready_tags(http, sim.url) != ["slow"]:  # noqa: ASYNC110 - bounded
                    await anyio.sleep(0.02)
            [(_, _, failure)] = sim.sim.store.webhook_errors
            assert failure.http_code == 0 and failure.message == "TimeoutError"
    finally:
        await runner.cleanup()


async def _stats(sim_url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as plain, plain.get(f"{sim_url}/_sim/stats") as resp:
        found: dict[str, Any] = await resp.json()
    return found


async def test_held_deliveries_wait_until_released_and_then_all_arrive(
    http: aiohttp.ClientSession, receiver: tuple[Receiver, str]
) -> None:
    """A benchmark times receivers, not the simulator: with deliveries held, finished tasks'
    webhooks (their bodies made) wait until `/_sim/webhooks {"held": false}` sends them all."""
    recv, base = receiver
    async with serve(fast_config(hold_webhooks=True)) as sim:
        posted = [
            {**GOOD, "tag": "p", "postback_url": f"{base}/post/$id", "postback_data": "advanced"},
            {**GOOD, "tag": "g", "pingback_url": f"{base}/ping?id=$id"},
        ]
        async with http.post(f"{sim.url}/v3/serp/google/organic/task_post", json=posted) as resp:
            ids = [t["id"] for t in (await resp.json())["tasks"]]
        with anyio.fail_after(5):
            while (await _stats(sim.url))["webhooks_held"] < 2:  # noqa: ASYNC110 - bounded
                await anyio.sleep(0.02)
        assert recv.calls == []
        assert await _ready_tags(http, sim.url) == ["g"]  # the postback is held, not failed
        async with http.post(f"{sim.url}/_sim/webhooks", json={"held": "no"}) as resp:
            assert resp.status == 400
        async with http.post(f"{sim.url}/_sim/webhooks", json={"held": False}) as resp:
            assert resp.status == 200
        with anyio.fail_after(5):
            while len(recv.calls) < 2:  # noqa: ASYNC110 - bounded, see above
                await anyio.sleep(0.02)
        paths = sorted(path for _, path, _ in recv.calls)
        assert paths == [f"/ping?id={ids[1]}", f"/post/{ids[0]}"]
        body = next(body for _, path, body in recv.calls if path.startswith("/post"))
        assert schemas.decode_task_get(body, "google", "organic").tasks[0].id == ids[0]
        stats = await _stats(sim.url)
        assert stats["webhooks_held"] == 0 and stats["webhooks_sent"] == 2
