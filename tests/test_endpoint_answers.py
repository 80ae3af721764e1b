"""Every SERP endpoint, over HTTP to the simulator, answers as the docs describe it: its own
item types and result fields, resolved markets, its task_get variants, and answers our
typed structs (and, with the bench extra, the official client) read without a loss."""

import importlib
from typing import Any

import aiohttp
import msgspec
import pytest

import schemas
from schemas.catalogue import SERP_ENDPOINTS, task_get_variants
from schemas.items import GenericItem
from tests.test_generator import ALL_PARAMS, UNTYPED
from tests.test_schemas import contained
from tests.test_simulator_functional import get, post

# The item types each endpoint's task_get/advanced documents (docs/endpoint-sources.md):
# every type the simulator answers with must be among them.
DOCUMENTED: dict[tuple[str, str], set[str]] = {
    ("google", "maps"): {"maps_search", "maps_paid_item"},
    ("google", "local_finder"): {"local_pack"},
    ("google", "news"): {"news_search", "top_stories"},
    ("google", "images"): {"images_search", "carousel", "related_searches"},
    ("google", "jobs"): {"google_jobs_item"},
    ("google", "events"): {"event_item"},
    ("google", "ai_mode"): {"ai_overview"},
    ("google", "autocomplete"): {"autocomplete"},
    ("google", "dataset_search"): {"dataset"},
    ("google", "dataset_info"): {"dataset"},
    ("google", "ads_search"): {"ads_search"},
    ("google", "ads_advertisers"): {"ads_advertiser", "ads_multi_account_advertiser", "ads_domain"},
    ("google", "search_by_image"): {"organic", "images"},
    ("google", "finance_ticker_search"): {
        "google_finance_market_instrument",
        "google_finance_market_index",
        "google_finance_asset_pair",
    },
    ("youtube", "organic"): {
        "youtube_video",
        "youtube_video_paid",
        "youtube_channel",
        "youtube_playlist",
    },
    ("youtube", "video_info"): {"youtube_video_info"},
    ("youtube", "video_comments"): {"youtube_comment"},
    ("youtube", "video_subtitles"): {"youtube_subtitles"},
    ("bing", "local_pack"): {"local_pack"},
}


async def _collect(
    http: aiohttp.ClientSession, url: str, se: str, se_type: str, task: dict[str, Any]
) -> tuple[bytes, str]:
    status, body = await post(http, url, [task], se=f"{se}/{se_type}")
    answer = body["tasks"][0]
    assert status == 200 and answer["status_code"] == 20100, answer
    variant = "advanced" if "advanced" in task_get_variants(se, se_type) else "regular"
    path = f"{url}/v3/serp/{se}/{se_type}/task_get/{variant}/{answer['id']}"
    async with http.get(path) as resp:
        return await resp.read(), variant


@pytest.mark.parametrize(("se", "se_type"), sorted(SERP_ENDPOINTS))
async def test_every_endpoint_answers_with_its_documented_items_losslessly(
    sim: Any, http: aiohttp.ClientSession, se: str, se_type: str
) -> None:
    """Posted and fetched over HTTP: the documented item types only, typed by our structs
    with nothing lost, the market resolved, the keyword decoded."""
    raw, _ = await _collect(http, sim.url, se, se_type, ALL_PARAMS[se, se_type])
    plain = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    kinds = {i["type"] for i in plain["items"]}
    assert kinds, "an answer with no items"
    if (se, se_type) in DOCUMENTED:
        assert kinds <= DOCUMENTED[se, se_type]
    elif se_type.startswith("finance_"):
        assert all(k.startswith("google_finance_") for k in kinds)
    else:  # the organic family
        assert "organic" in kinds
    decoded = schemas.decode_task_get(raw, se, se_type).tasks[0].result[0]
    assert {i.type for i in decoded.items if isinstance(i, GenericItem)} <= UNTYPED
    typed = [  # an untyped item (a Google answer_box, some days) keeps its raw JSON whole
        msgspec.json.decode(i.raw if isinstance(i, GenericItem) else msgspec.json.encode(i))
        for i in decoded.items
    ]
    assert contained(plain["items"], typed) == []
    if "location_code" in plain and se != "naver":
        assert plain["location_code"] == 2840 and plain["language_code"] == "en"


async def test_names_become_codes_and_each_market_reads_its_own_language(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """location_name/language_name come back as codes; a German SERP is German, on
    google.de, with German sites; a Korean Naver SERP is Korean."""
    task = {"keyword": "laufschuhe", "location_name": "Germany", "language_name": "German"}
    raw, _ = await _collect(http, sim.url, "google", "organic", task)
    result = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    assert (result["location_code"], result["language_code"]) == (2276, "de")
    assert result["se_domain"] == "google.de" and "hl=de&gl=DE" in result["check_url"]
    organic = [i for i in result["items"] if i["type"] == "organic"]
    assert sum(i["domain"].endswith(".de") for i in organic) >= len(organic) // 2
    assert not any("blog.naver.com" in i["domain"] for i in organic)
    text = " ".join(i["description"] for i in organic)
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in text)  # no Hangul in a German SERP
    raw, _ = await _collect(http, sim.url, "naver", "organic", {"keyword": "운동화"})
    naver = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    hangul = [w for i in naver["items"] if i["type"] == "organic" for w in i["title"].split()]
    assert sum(any("\uac00" <= ch <= "\ud7a3" for ch in w) for w in hangul) > len(hangul) // 2
    assert naver["se_domain"] == "search.naver.com" and naver["location_code"] == 0


async def test_the_keyword_comes_back_decoded_and_check_url_is_the_engines_own(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    task = {"keyword": "pizza%20near+me", "location_code": 2203, "language_code": "cs"}
    raw, _ = await _collect(http, sim.url, "seznam", "organic", task)
    result = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    assert result["keyword"] == "pizza near me"
    assert result["se_domain"] == "search.seznam.cz"
    assert result["check_url"].startswith("https://search.seznam.cz/?q=pizza+near+me")


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"keyword": "x", "location_name": "Atlantis", "language_code": "en"}, "location_name"),
        ({"keyword": "x", "location_code": 2840, "language_name": "Klingon"}, "language_name"),
        ({"keyword": "x", "language_code": "en"}, "location_code"),
    ],
)
async def test_a_market_the_api_does_not_know_is_refused_by_field(
    sim: Any, http: aiohttp.ClientSession, task: dict[str, Any], field: str
) -> None:
    _, body = await post(http, sim.url, [task], se="google/maps")
    answer = body["tasks"][0]
    assert answer["status_code"] == 40501 and f"'{field}'" in answer["status_message"]


async def test_regular_and_html_variants_and_the_ones_an_endpoint_lacks(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """task_get/regular keeps the main types with fewer fields, html gives pages; a variant
    the endpoint lacks is a 404, and tasks_ready names only the ones it has."""
    _, body = await post(http, sim.url, [{**ALL_PARAMS["google", "organic"], "tag": "v"}])
    task_id = body["tasks"][0]["id"]
    base = f"{sim.url}/v3/serp/google/organic/task_get"
    ready = (await get(http, f"{sim.url}/v3/serp/tasks_ready"))["tasks"][0]["result"]
    [item] = [r for r in ready if r["tag"] == "v"]
    assert all(item[f"endpoint_{v}"].endswith(task_id) for v in ("regular", "advanced", "html"))
    regular = (await get(http, f"{base}/regular/{task_id}"))["tasks"][0]
    assert regular["path"][-2] == "regular"
    kinds = {i["type"] for i in regular["result"][0]["items"]}
    assert kinds <= {"organic", "paid", "featured_snippet", "local_pack"} and "organic" in kinds
    assert [i["rank_absolute"] for i in regular["result"][0]["items"]] == list(
        range(1, len(regular["result"][0]["items"]) + 1)
    )
    html = (await get(http, f"{base}/html/{task_id}"))["tasks"][0]["result"][0]
    assert html["items"][0]["page"] == 1 and html["items"][0]["html"].startswith("<!doctype")
    _, body = await post(http, sim.url, [ALL_PARAMS["google", "maps"]], se="google/maps")
    maps_id = body["tasks"][0]["id"]
    for variant in ("regular", "html"):
        url = f"{sim.url}/v3/serp/google/maps/task_get/{variant}/{maps_id}"
        async with http.get(url) as resp:
            assert resp.status == 404


def _official_models() -> Any:
    return pytest.importorskip("dataforseo_client.models", reason="the bench extra is absent")


def _lost(model: Any, raw: Any, path: str = "$") -> list[str]:
    """Where the official client's model holds None for a value the answer had."""
    if isinstance(raw, dict):
        if model is None:
            return [f"{path}: None"]
        known = getattr(type(model), "model_fields", {})
        out = []
        for key, value in raw.items():
            name = "yield_" if key == "yield" else key
            if name in known:
                got = getattr(model, name)
                out += [f"{path}.{key}"] if value is not None and got is None else []
                out += _lost(got, value, f"{path}.{key}") if got is not None else []
        return out
    if isinstance(raw, list) and isinstance(model, list):
        return [
            p
            for n, (m, r) in enumerate(zip(model, raw, strict=False))
            for p in _lost(m, r, f"{path}[{n}]")
        ]
    return []


# The client marks some fields deprecated (organic's cache_url, ...) and warns when they are
# read; reading them is the point here.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("se", "se_type"), sorted(SERP_ENDPOINTS))
async def test_the_official_client_reads_every_item_and_field(
    sim: Any, http: aiohttp.ClientSession, se: str, se_type: str
) -> None:
    """With the bench extra (dataforseo-client) installed: its models parse our answer with
    no item turned into None and no field it knows lost. An endpoint it has no model for
    (google/events, bing/local_pack in 2.1.x) is reported, not skipped silently."""
    _official_models()
    name = f"serp_{se}_{se_type}_task_get_advanced_response_info"
    try:
        module = importlib.import_module(f"dataforseo_client.models.{name}")
    except ModuleNotFoundError:
        assert (se, se_type) in {("google", "events"), ("bing", "local_pack")}, name
        return
    model_cls = getattr(module, "".join(p.title() for p in name.split("_")))
    raw, variant = await _collect(http, sim.url, se, se_type, ALL_PARAMS[se, se_type])
    assert variant == "advanced"
    answer = msgspec.json.decode(raw)
    model = model_cls.from_dict(answer)
    assert _lost(model.tasks[0].result[0], answer["tasks"][0]["result"][0]) == []


def test_a_maps_report_ranks_places_among_places_not_behind_the_ads() -> None:
    """The report's rank of a business on maps is its place among maps_search items: two
    ads above it do not push it from 1 to 3."""
    from orchestrator.reports.period_view import best_ranks

    items = [
        {"type": "maps_paid_item", "rank_group": 1, "rank_absolute": 1, "domain": "ad.com"},
        {"type": "maps_paid_item", "rank_group": 2, "rank_absolute": 2, "domain": "ad2.com"},
        {"type": "maps_search", "rank_group": 1, "rank_absolute": 3, "domain": "www.joe.com"},
        {"type": "maps_search", "rank_group": 2, "rank_absolute": 4, "domain": "ann.com"},
    ]
    line = msgspec.json.encode(
        {"id": "t", "data": {"keyword": "pizza"}, "result": [{"items": items}]}
    )
    _, keyword, best = best_ranks(line)
    assert keyword == "pizza" and best == {"joe.com": 1, "ann.com": 2}


@pytest.mark.parametrize(
    ("endpoint", "task", "field"),
    [
        (
            "google/jobs",
            {"keyword": "nurse", "location_code": 2840, "language_code": "en", "depth": 201},
            "depth",
        ),
        ("youtube/video_info", {"location_code": 2840, "language_code": "en"}, "video_id"),
        (
            "google/maps",
            {
                "keyword": "x",
                "location_code": 2840,
                "language_code": "en",
                "postback_url": "http://127.0.0.1:9/p",
                "postback_data": "html",
            },
            "postback_data",
        ),
        (
            "google/local_finder",
            {"keyword": "x", "location_code": 2840, "language_code": "en", "time_filter": "noon"},
            "time_filter",
        ),
    ],
)
async def test_the_simulator_refuses_what_each_endpoint_refuses(
    sim: Any, http: aiohttp.ClientSession, endpoint: str, task: dict[str, Any], field: str
) -> None:
    """Over HTTP, task_post applies each endpoint's own rules: 40501 naming the field, and
    nothing created or charged."""
    _, body = await post(http, sim.url, [task], se=endpoint)
    answer = body["tasks"][0]
    assert answer["status_code"] == 40501 and f"'{field}'" in answer["status_message"]
    async with aiohttp.ClientSession() as plain, plain.get(f"{sim.url}/_sim/stats") as resp:
        numbers = await resp.json()
    assert numbers["tasks_created"] == 0 and numbers["cost_total"] == 0
