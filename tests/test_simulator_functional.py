"""The simulator behaves like the real API where it hurts, over real HTTP on loopback."""

import gzip
import json
import zlib
from typing import Any

import aiohttp
import pytest

import schemas
from orchestrator.simulator.app import serve
from orchestrator.simulator.settings import DelayRange
from tests.conftest import fast_config

GOOD = {"keyword": "running shoes", "location_code": 2840, "language_code": "en"}
Json = dict[str, Any]


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, se: str = "google/organic"
) -> tuple[int, Json]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(f"{url}/v3/serp/{se}/task_post", data=data) as resp:
        return resp.status, await resp.json()


async def get(http: aiohttp.ClientSession, url: str) -> Json:
    async with http.get(url) as resp:
        result: Json = await resp.json()
        return result


async def stats(url: str) -> Json:
    async with aiohttp.ClientSession() as plain, plain.get(f"{url}/_sim/stats") as resp:
        result: Json = await resp.json()
        return result


async def advance(url: str, seconds: float) -> None:
    async with aiohttp.ClientSession() as plain:
        await plain.post(f"{url}/_sim/advance", params={"seconds": str(seconds)})


@pytest.mark.parametrize("header", [None, "Basic c2ltOndyb25n", "Bearer x"])
async def test_missing_or_wrong_credentials_get_401_and_null_tasks(
    sim: Any, header: str | None
) -> None:
    """Without the right Basic credentials the answer is HTTP 401, 40100, tasks null."""
    headers = {"Authorization": header} if header else {}
    async with aiohttp.ClientSession(headers=headers) as anon:
        status, body = await post(anon, sim.url, [GOOD])
    assert status == 401 and body["status_code"] == 40100 and body["tasks"] is None
    assert (await stats(sim.url))["tasks_created"] == 0


async def test_task_post_creates_tasks_with_ids_costs_and_echoed_data(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """Valid tasks get a UUID-shaped id, 20100, their price, and data echoing the request."""
    status, body = await post(
        http, sim.url, [{**GOOD, "tag": "a", "depth": 30}, {**GOOD, "priority": 2}]
    )
    assert status == 200 and body["status_code"] == 20000
    first, second = body["tasks"]
    assert [len(p) for p in first["id"].split("-")] == [8, 4, 4, 4, 12]
    assert first["status_code"] == 20100 and first["result"] is None
    assert first["cost"] == pytest.approx(0.0006 * 2.5) and second["cost"] == pytest.approx(0.0012)
    assert body["cost"] == pytest.approx(first["cost"] + second["cost"])
    assert first["data"] == {
        "api": "serp",
        "function": "task_post",
        "se": "google",
        "se_type": "organic",
        **GOOD,
        "tag": "a",
        "depth": 30,
        "device": "desktop",
        "os": "windows",
    }
    assert first["path"] == ["v3", "serp", "google", "organic", "task_post"]


async def test_legacy_object_body_and_gzip_body_are_accepted(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """The legacy {"0": {...}} form and a gzip-compressed body both create tasks."""
    _, legacy = await post(
        http, sim.url, {"1": {**GOOD, "tag": "second"}, "0": {**GOOD, "tag": "first"}}
    )
    assert [t["data"]["tag"] for t in legacy["tasks"]] == ["first", "second"]
    _, zipped = await post(http, sim.url, gzip.compress(json.dumps([GOOD]).encode()))
    assert zipped["tasks"][0]["status_code"] == 20100


@pytest.mark.parametrize("packed", [False, True])
async def test_a_content_encoding_gzip_header_is_taken_with_a_plain_body_too(
    sim: Any, http: aiohttp.ClientSession, packed: bool
) -> None:
    """DataForSEO's legacy Python client (the docs' samples) sends `Content-Encoding: gzip`
    on every POST with a plain JSON body; the API takes it. The simulator answered 500."""
    body = json.dumps([GOOD]).encode()
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    data = gzip.compress(body) if packed else body
    async with http.post(
        f"{sim.url}/v3/serp/google/organic/task_post", data=data, headers=headers
    ) as resp:
        answer = await resp.json()
    assert resp.status == 200 and answer["tasks"][0]["status_code"] == 20100


async def test_a_gzip_bomb_is_refused_unread(sim: Any, http: aiohttp.ClientSession) -> None:
    """256 MB of spaces in a quarter of a MB of gzip: refused as invalid POST data (40503)
    once past the body's bound, not unpacked whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    space = b" " * (1 << 20)
    bomb = packer.compress(b"[") + b"".join(packer.compress(space) for _ in range(256))
    bomb += packer.compress(b"]") + packer.flush()
    code, answer = await post(http, sim.url, bomb)
    assert code == 200 and answer["status_code"] == 40503 and answer["tasks"] is None
    assert (await stats(sim.url))["tasks_created"] == 0


async def test_invalid_task_gets_40501_naming_the_field_and_is_not_created(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """One bad task in a batch is refused by name; the others are created."""
    _, body = await post(http, sim.url, [GOOD, {**GOOD, "depth": 9000}, {**GOOD, "colour": "red"}])
    codes = [t["status_code"] for t in body["tasks"]]
    assert codes == [20100, 40501, 40506]
    # worded as the API words it: the field, and not our parser's rule
    assert body["tasks"][1]["status_message"] == "Invalid Field: 'depth'."
    assert body["tasks"][2]["status_message"] == "Unknown Fields in POST Data: 'colour'."
    assert body["tasks_error"] == 2
    assert (await stats(sim.url))["tasks_created"] == 1


async def test_tasks_past_the_100th_get_40006_and_are_not_created(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """A POST of 105 tasks creates the first 100 only."""
    _, body = await post(http, sim.url, [{**GOOD, "tag": str(i)} for i in range(105)])
    codes = [t["status_code"] for t in body["tasks"]]
    assert codes == [20100] * 100 + [40006] * 5
    assert (await stats(sim.url))["tasks_created"] == 100


@pytest.mark.parametrize(
    ("raw", "code"), [(b"", 40502), (b"[]", 40502), (b"{not json", 40503), (b"[1", 40503)]
)
async def test_empty_or_unparsable_body_is_refused_whole(
    sim: Any, http: aiohttp.ClientSession, raw: bytes, code: int
) -> None:
    """An empty body answers 40502, an unparsable one 40503, and nothing is created."""
    _, body = await post(http, sim.url, raw)
    assert body["status_code"] == code
    assert (await stats(sim.url))["tasks_created"] == 0


async def test_unknown_endpoint_is_404(sim: Any, http: aiohttp.ClientSession) -> None:
    """A se/se_type the API does not have answers HTTP 404 / 40400."""
    status, body = await post(http, sim.url, [GOOD], se="altavista/organic")
    assert status == 404 and body["status_code"] == 40400


async def test_bing_local_pack_has_no_advanced_results(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """bing/local_pack's task_get is regular and html only: advanced is 404, and tasks_ready
    gives no advanced endpoint for its tasks."""
    status, body = await post(http, sim.url, [{**GOOD, "tag": "lp"}], se="bing/local_pack")
    assert status == 200 and body["tasks"][0]["status_code"] == 20100
    task_id = body["tasks"][0]["id"]
    url = f"{sim.url}/v3/serp/bing/local_pack/task_get/advanced/{task_id}"
    async with http.get(url) as resp:
        assert resp.status == 404 and (await resp.json())["status_code"] == 40400
    ready = (await get(http, f"{sim.url}/v3/serp/tasks_ready"))["tasks"][0]["result"]
    [item] = [r for r in ready if r["tag"] == "lp"]
    assert item["endpoint_advanced"] is None and item["endpoint_regular"].endswith(task_id)


async def test_task_life_cycle_queue_handed_done_and_expiry(http: aiohttp.ClientSession) -> None:
    """task_get answers 40602, then 40601, then 20000 with results; after 30 days 40403."""
    config = fast_config(delay_normal=DelayRange(100, 100), queued_share=0.3)
    async with serve(config) as sim:
        _, body = await post(http, sim.url, [GOOD])
        task_id = body["tasks"][0]["id"]
        url = f"{sim.url}/v3/serp/google/organic/task_get/advanced/{task_id}"
        seen = [(await get(http, url))["tasks"][0]]
        await advance(sim.url, 50)
        seen.append((await get(http, url))["tasks"][0])
        await advance(sim.url, 60)
        async with http.get(url) as resp:
            raw = await resp.read()
        done = schemas.decode_task_get(raw, "google", "organic").tasks[0]
        assert [t["status_code"] for t in seen] == [40602, 40601]
        assert all(t["result"] is None for t in seen)
        assert done.status_code == 20000 and done.result[0].keyword == "running shoes"
        assert done.data["function"] == "task_get"
        await advance(sim.url, 31 * 86400)
        assert (await get(http, url))["tasks"][0]["status_code"] == 40403


async def test_results_are_deterministic_per_task_parameters(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """Two tasks with the same parameters get the same SERP; another keyword gets another."""
    _, body = await post(
        http,
        sim.url,
        [
            {**GOOD, "depth": 100},
            {**GOOD, "depth": 100},
            {**GOOD, "keyword": "other", "depth": 100},
        ],
    )
    results = []
    for task in body["tasks"]:
        async with http.get(
            f"{sim.url}/v3/serp/google/organic/task_get/advanced/{task['id']}"
        ) as resp:
            raw = await resp.read()
        results.append(json.loads(raw)["tasks"][0]["result"][0]["items"])
    assert results[0] == results[1] != results[2]
    assert 90 <= len(results[0]) <= 130 and len(raw) > 50_000


async def test_unknown_id_is_40401(sim: Any, http: aiohttp.ClientSession) -> None:
    """task_get of an id nobody posted answers 40401 Task Not Found."""
    body = await get(
        http,
        f"{sim.url}/v3/serp/google/organic/task_get/advanced/00000000-0000-0000-0000-000000000001",
    )
    assert body["status_code"] == 20000 and body["tasks"][0]["status_code"] == 40401


async def test_outcome_shares_produce_no_results_tasks(http: aiohttp.ClientSession) -> None:
    """With share_no_results=1 every finished task answers 40102 with no result."""
    async with serve(fast_config(share_no_results=1.0)) as sim:
        _, body = await post(http, sim.url, [GOOD])
        task = (
            await get(
                http, f"{sim.url}/v3/serp/google/organic/task_get/advanced/{body['tasks'][0]['id']}"
            )
        )["tasks"][0]
    assert task["status_code"] == 40102 and task["result"] is None


async def test_tasks_ready_lists_oldest_first_until_collected(http: aiohttp.ClientSession) -> None:
    """tasks_ready lists completed tasks oldest first; a task_get takes a task off the list."""
    async with serve(fast_config(delay_normal=DelayRange(10, 10))) as sim:
        await post(http, sim.url, [{**GOOD, "tag": "old"}])
        await advance(sim.url, 5)
        await post(http, sim.url, [{**GOOD, "tag": "new"}])
        await post(http, sim.url, [{"keyword": "k", "tag": "naver"}], se="naver/organic")
        assert (await get(http, f"{sim.url}/v3/serp/tasks_ready"))["tasks"][0]["result"] == []
        await advance(sim.url, 20)
        async with http.get(f"{sim.url}/v3/serp/tasks_ready") as resp:
            ready = schemas.decode_tasks_ready(await resp.read()).tasks[0].result
        assert [r.tag for r in ready] == ["old", "new", "naver"]
        assert (
            ready[0].endpoint_advanced == f"/v3/serp/google/organic/task_get/advanced/{ready[0].id}"
        )
        only_naver = await get(http, f"{sim.url}/v3/serp/naver/organic/tasks_ready")
        assert [r["tag"] for r in only_naver["tasks"][0]["result"]] == ["naver"]
        await get(http, f"{sim.url}{ready[0].endpoint_advanced}")
        after = await get(http, f"{sim.url}/v3/serp/google/organic/tasks_ready")
        assert [r["tag"] for r in after["tasks"][0]["result"]] == ["new"]
        assert (await stats(sim.url))["tasks_collected"] == 1
        await advance(sim.url, 3 * 86400 + 1)
        assert (await get(http, f"{sim.url}/v3/serp/tasks_ready"))["tasks"][0]["result"] == []


async def test_tasks_ready_pages_at_1000_and_has_its_own_limit(http: aiohttp.ClientSession) -> None:
    """At most 1000 ids per call, and at most tasks_ready_per_minute calls per window."""
    async with serve(fast_config(tasks_ready_per_minute=3)) as sim:
        for start in range(0, 1100, 100):
            await post(http, sim.url, [{**GOOD, "tag": str(i)} for i in range(start, start + 100)])
        pages = [await get(http, f"{sim.url}/v3/serp/tasks_ready") for _ in range(4)]
        assert pages[0]["tasks"][0]["result_count"] == 1000
        assert [p["status_code"] for p in pages] == [20000, 20000, 20000, 40202]
        assert (await stats(sim.url))["rate_limited"] == 1


async def test_rate_limit_refuses_the_call_past_the_window_and_does_nothing(
    http: aiohttp.ClientSession,
) -> None:
    """Past calls_per_minute in one window the answer is 40202 and no task is created."""
    async with serve(fast_config(calls_per_minute=3, rate_period_s=60)) as sim:
        answers = [await post(http, sim.url, [GOOD]) for _ in range(4)]
        assert [b["status_code"] for _, b in answers] == [20000, 20000, 20000, 40202]
        numbers = await stats(sim.url)
    assert (
        numbers["tasks_created"] == 3
        and numbers["rate_limited"] == 1
        and numbers["window_peak"] == 3
    )


async def test_concurrency_cap_answers_40209(http: aiohttp.ClientSession) -> None:
    """With one slot taken by a slow answer, a second simultaneous call gets 40209."""
    import anyio

    config = fast_config(
        max_concurrency=1, fault_rate=1.0, fault_weights={"slow": 1.0}, slow_real_s=0.5
    )
    async with serve(config) as sim:
        codes: list[int] = []

        async def call() -> None:
            codes.append((await get(http, f"{sim.url}/v3/appendix/user_data"))["status_code"])

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await anyio.sleep(0.1)
            tg.start_soon(call)
        assert sorted(codes) == [20000, 40209]
        assert (await stats(sim.url))["concurrency_limited"] == 1


async def test_faults_are_transient_errors_never_40202(http: aiohttp.ClientSession) -> None:
    """http_500 and task_error faults fail the call without creating tasks, and are not 40202."""
    async with serve(fast_config(fault_rate=1.0, fault_weights={"http_500": 1.0})) as sim:
        status, body = await post(http, sim.url, [GOOD])
        assert (status, body["status_code"]) == (500, 50000)
        assert (await stats(sim.url))["tasks_created"] == 0
    async with serve(fast_config(fault_rate=1.0, fault_weights={"task_error": 1.0})) as sim:
        _, body = await post(http, sim.url, [GOOD, GOOD])
        assert [t["status_code"] for t in body["tasks"]] == [50301, 50401]
        numbers = await stats(sim.url)
        assert numbers["tasks_created"] == 0 and numbers["rate_limited"] == 0


async def test_drop_before_creates_nothing_but_drop_after_charges(
    http: aiohttp.ClientSession,
) -> None:
    """A drop loses the answer; with drop_after the tasks exist and only id_list shows them."""
    async with serve(fast_config(fault_rate=1.0, fault_weights={"drop": 1.0})) as sim:
        with pytest.raises(aiohttp.ClientError):
            await post(http, sim.url, [GOOD])
        assert (await stats(sim.url))["tasks_created"] == 0
    async with serve(fast_config(fault_rate=1.0, fault_weights={"drop_after": 1.0})) as sim:
        with pytest.raises(aiohttp.ClientError):
            await post(http, sim.url, [{**GOOD, "tag": "lost-answer"}])
        numbers = await stats(sim.url)
        assert numbers["tasks_created"] == 1 and numbers["cost_total"] > 0
        sim.sim.faults.rate = 0.0  # the network heals
        query = [
            {
                "datetime_from": "2000-01-01 00:00:00 +00:00",
                "datetime_to": "2100-01-01 00:00:00 +00:00",
            }
        ]
        async with http.post(f"{sim.url}/v3/serp/id_list", json=query) as resp:
            listed = schemas.decode_id_list(await resp.read()).tasks[0].result
        assert listed is not None and len(listed) == 1 and listed[0].metadata is None


async def test_scripted_faults_come_in_order_and_a_bad_script_changes_nothing(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """`next` gives a function's next calls exactly these faults, then none; a script with an
    unknown kind, a function that cannot have it, or an unknown function is refused whole."""
    _, body = await post(http, sim.url, [{**GOOD, "tag": "scripted"}])
    task_id = body["tasks"][0]["id"]
    await advance(sim.url, 10)  # done: tasks_ready lists it
    url = f"{sim.url}/v3/serp/google/organic/task_get/advanced/{task_id}"
    async with aiohttp.ClientSession() as plain:
        for refused in (
            {"next": {"task_get": ["drop_after", "fire"]}},
            {"next": {"tasks_ready": ["task_error"]}},
            {"next": {"_sim_stats": ["drop"]}},
            {"next": ["drop"]},
        ):
            async with plain.post(f"{sim.url}/_sim/faults", json=refused) as resp:
                assert resp.status == 400, refused
        assert sim.sim.faults.scripted == {}
        script = {"next": {"task_get": ["drop_after", "task_error"]}}
        async with plain.post(f"{sim.url}/_sim/faults", json=script) as resp:
            assert resp.status == 200
    # aiohttp re-sends a GET whose connection dropped: the answer is the second attempt's
    errored = await get(http, url)
    assert errored["tasks"][0]["status_code"] == 50401 and errored["tasks"][0]["result"] is None
    numbers = await stats(sim.url)
    assert numbers["tasks_collected"] == 1 and numbers["tasks_ready"] == 0  # the first did
    fine = await get(http, url)
    assert fine["tasks"][0]["status_code"] == 20000 and fine["tasks"][0]["result"]
    assert (await stats(sim.url))["faults_injected"] == {"drop_after": 1, "task_error": 1}


async def test_truncated_body_is_a_payload_error(http: aiohttp.ClientSession) -> None:
    """A truncated answer fails the client's read."""
    async with serve(fast_config(fault_rate=1.0, fault_weights={"truncate": 1.0})) as sim:
        with pytest.raises(aiohttp.ClientPayloadError):
            await get(http, f"{sim.url}/v3/appendix/errors")


async def test_id_list_finds_tasks_by_tag_in_metadata(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """id_list with include_metadata gives each task's tag, so a client can reconcile a crash."""
    await post(http, sim.url, [{**GOOD, "tag": f"job:{i}"} for i in range(5)])
    query = [
        {
            "datetime_from": "2026-01-01 00:00:00 +00:00",
            "datetime_to": "2100-01-01 00:00:00 +00:00",
            "include_metadata": True,
            "limit": 3,
            "offset": 1,
        }
    ]
    import time

    query[0]["datetime_from"] = time.strftime(
        "%Y-%m-%d %H:%M:%S +00:00", time.gmtime(time.time() - 86400)
    )
    async with http.post(f"{sim.url}/v3/serp/id_list", json=query) as resp:
        listed = schemas.decode_id_list(await resp.read()).tasks[0].result
    assert [item.metadata["tag"] for item in listed] == ["job:1", "job:2", "job:3"]
    # the docs' format: the path without a leading slash, the status code as a string
    assert {(i.url, i.status) for i in listed} == {("v3/serp/google/organic/task_post", "20000")}
    old = [{**query[0], "datetime_from": "2020-01-01 00:00:00 +00:00"}]
    async with http.post(f"{sim.url}/v3/serp/id_list", json=old) as resp:
        assert (await resp.json())["tasks"][0]["status_code"] == 40501


async def test_appendix_errors_and_user_data_balance(sim: Any, http: aiohttp.ClientSession) -> None:
    """appendix/errors lists the codes; user_data's balance drops by what task_post charged."""
    errors = await get(http, f"{sim.url}/v3/appendix/errors")
    codes = {e["code"] for e in errors["tasks"][0]["result"]}
    assert {40202, 40501, 40602} <= codes
    _, body = await post(http, sim.url, [GOOD])
    info = (await get(http, f"{sim.url}/v3/appendix/user_data"))["tasks"][0]["result"][0]
    assert info["money"]["balance"] == pytest.approx(1000 - body["cost"])


async def test_payment_required_when_balance_runs_out(http: aiohttp.ClientSession) -> None:
    """A batch the balance cannot pay answers 402 / 40200 and creates nothing."""
    async with serve(fast_config(balance_usd=0.001)) as sim:
        status, body = await post(http, sim.url, [GOOD, GOOD])
        assert (status, body["status_code"]) == (402, 40200)
        assert (await stats(sim.url))["tasks_created"] == 0


async def test_duplicate_tags_are_counted(sim: Any, http: aiohttp.ClientSession) -> None:
    """Posting the same tag twice shows in duplicate_tags: the 'never pay twice' proof."""
    await post(http, sim.url, [{**GOOD, "tag": "a"}, {**GOOD, "tag": "b"}])
    assert (await stats(sim.url))["duplicate_tags"] == 0
    await post(http, sim.url, [{**GOOD, "tag": "a"}, {**GOOD, "tag": "a"}])
    assert (await stats(sim.url))["duplicate_tags"] == 1


async def test_timeline_counts_admitted_calls_per_second_and_not_refused_ones(
    http: aiohttp.ClientSession,
) -> None:
    """Benchmarks read the achieved rate from /_sim/timeline: admitted calls only."""
    async with serve(fast_config(calls_per_minute=3, rate_period_s=60)) as running:
        for _ in range(5):
            await get(http, f"{running.url}/v3/appendix/user_data")
        async with aiohttp.ClientSession() as plain:
            async with plain.get(f"{running.url}/_sim/timeline") as resp:
                timeline = await resp.json()
    assert timeline["limit"] == 3 and timeline["period_s"] == 60
    assert sum(timeline["admitted_per_second"]) == 3
