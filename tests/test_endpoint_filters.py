"""The rest of issue 28, item 2, over HTTP to the simulator: the finance tabs (`news_type`,
`market_type`), Dataset Search's filters and a dataset by its id, Baidu's and AI Mode's
market and depth, and an answer that holds no more items than its `depth` (maps, Yahoo)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import msgspec
import pytest

from orchestrator.simulator.app import serve
from orchestrator.simulator.markets import WORDS
from tests.conftest import fast_config
from tests.test_endpoint_answers import _collect

US = {"location_code": 2840, "language_code": "en"}


async def answer(
    http: aiohttp.ClientSession, url: str, se: str, se_type: str, task: dict[str, Any]
) -> dict[str, Any]:
    raw, _ = await _collect(http, url, se, se_type, task)
    result: dict[str, Any] = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    return result


def block(result: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in result["items"] if i["type"] == kind)
    return found


@pytest.mark.parametrize(
    ("news_type", "title"),
    [
        ("top_stories", "Top stories"),
        ("local_market", "Local market"),
        ("world_markets", "World markets"),
    ],
)
async def test_finance_explore_shows_the_news_of_its_news_type(
    sim: Any, http: aiohttp.ClientSession, news_type: str, title: str
) -> None:
    result = await answer(
        http, sim.url, "google", "finance_explore", {**US, "news_type": news_type}
    )
    news = block(result, "google_finance_news")
    assert news["title"] == title and news["items"]


async def test_finance_markets_shows_the_tab_its_market_type_names(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """Gainers all rose and losers all fell; crypto is quoted in pairs (`BTC-USD`); Europe's
    indexes are DAX, FTSE 100 and CAC 40, and the hero group is Europe's."""

    async def tab(market_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
        task = {**US, "market_type": market_type}
        result = await answer(http, sim.url, "google", "finance_markets", task)
        return block(result, "google_finance_explore_market_trends"), result

    gainers, _ = await tab("gainers")
    assert gainers["title"] == "Gainers" and gainers["items"]
    assert all(i["price_delta"] > 0 and i["trend"] == "up" for i in gainers["items"])
    losers, _ = await tab("losers")
    assert all(i["price_delta"] < 0 and i["trend"] == "down" for i in losers["items"])
    crypto, _ = await tab("cryptocurrencies")
    assert {i["type"] for i in crypto["items"]} == {"google_finance_asset_pair_element"}
    assert "BTC-USD" in {i["identifier"] for i in crypto["items"]}
    assert all(i["quote_symbol"] == "USD" for i in crypto["items"])
    europe, page = await tab("indexes/europe-middle-east-africa")
    assert {i["identifier"] for i in europe["items"]} == {
        "DAX:INDEXDB",
        "UKX:INDEXFTSE",
        "PX1:INDEXEURO",
    }
    assert all(
        i["market_identifier"] in {"INDEXDB", "INDEXFTSE", "INDEXEURO"} for i in europe["items"]
    )
    assert [m["market"] for m in block(page, "google_finance_hero_groups")["markets"]] == ["Europe"]


async def test_dataset_search_filters_shape_the_datasets(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """last_updated 1m: every dataset changed within the month before the crawl; tabular
    files only; a license that allows commercial use. Without filters, older datasets and
    other formats come back."""
    task = {"keyword": "rainfall", "language_code": "en", "depth": 40}
    filters = {"last_updated": "1m", "file_formats": ["tabular"], "usage_rights": "commercial"}
    result = await answer(http, sim.url, "google", "dataset_search", {**task, **filters})
    crawled = datetime.strptime(result["datetime"], "%Y-%m-%d %H:%M:%S %z")
    for item in result["items"]:
        updated = datetime.strptime(item["updated_date"], "%Y-%m-%d %H:%M:%S %z")
        assert crawled - timedelta(days=31) < updated <= crawled
        assert {f["format"] for f in item["formats"]} <= {"csv", "xlsx"}
        assert all("-NC" not in lic["title"] for lic in item["licenses"])
    plain = await answer(http, sim.url, "google", "dataset_search", task)
    dates = [datetime.strptime(i["updated_date"], "%Y-%m-%d %H:%M:%S %z") for i in plain["items"]]
    assert min(dates) < crawled - timedelta(days=31)
    assert {f["format"] for i in plain["items"] for f in i["formats"]} - {"csv", "xlsx"}
    noncommercial = await answer(
        http, sim.url, "google", "dataset_search", {**task, "usage_rights": "noncommercial"}
    )
    assert all("-NC" in lic["title"] for i in noncommercial["items"] for lic in i["licenses"])


async def test_dataset_info_is_the_dataset_its_id_names(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    task = {"dataset_id": "L2cvMTFqbl9fZ3Bocg==", "language_code": "en"}
    result = await answer(http, sim.url, "google", "dataset_info", task)
    assert [i["dataset_id"] for i in result["items"]] == ["L2cvMTFqbl9fZ3Bocg=="]


async def test_baidu_answers_in_chinese_from_baidu_over_pages_of_ten(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """China at depth 30: baidu.com, `rn=30`, three pages of ten organic results, the text in
    Chinese."""
    task = {"keyword": "手机", "location_code": 2156, "language_code": "zh-CN", "depth": 30}
    result = await answer(http, sim.url, "baidu", "organic", task)
    assert result["se_domain"] == "baidu.com" and "rn=30" in result["check_url"]
    assert result["location_code"] == 2156 and result["keyword"] == "手机"
    organic = [i for i in result["items"] if i["type"] == "organic"]
    # features take a few of the 30 places, more on some days than others
    assert 24 <= len(organic) <= 30 and len(result["items"]) <= 30
    assert {i["page"] for i in organic} == {1, 2, 3}
    assert any(word in organic[0]["description"] for word in WORDS["zh"])


async def test_ai_mode_follows_its_market(sim: Any, http: aiohttp.ClientSession) -> None:
    """Germany in German: google.de, `udm=50` with `hl=de`, and the answer's words German."""
    task = {"keyword": "laufschuhe test", "location_code": 2276, "language_code": "de"}
    result = await answer(http, sim.url, "google", "ai_mode", task)
    assert result["se_domain"] == "google.de"
    assert "udm=50" in result["check_url"] and "hl=de" in result["check_url"]
    text = " ".join(e["text"] for e in result["items"][0]["items"] if e.get("text"))
    german = set(WORDS["de"]) - set(WORDS["en"])
    assert sum(word in german for word in text.lower().split()) > 5


@pytest.mark.parametrize(
    ("se", "se_type", "depth"),
    [("google", "maps", 3), ("yahoo", "organic", 6), ("bing", "organic", 10)],
)
async def test_an_answer_holds_no_more_items_than_its_depth(
    sim: Any, http: aiohttp.ClientSession, se: str, se_type: str, depth: int
) -> None:
    """Maps depth 3 came back with 5 items and Yahoo depth 6 with 7 to 10: ads and related
    searches counted on top. Over 20 keywords, none holds more than its depth."""
    counts = []
    for n in range(20):
        task = {**US, "keyword": f"plumber {n}", "depth": depth}
        counts.append(len((await answer(http, sim.url, se, se_type, task))["items"]))
    assert max(counts) <= depth and min(counts) >= depth - 1 - depth // 20


async def test_extras_beyond_depth_is_the_other_answer_to_an_uncertain_point(
    http: aiohttp.ClientSession,
) -> None:
    """`simulate --extras-beyond-depth`: maps ads come on top of the depth's places."""
    config = msgspec.structs.replace(fast_config(), extras_beyond_depth=True)
    async with serve(config) as running:
        counts = []
        for n in range(20):
            task = {**US, "keyword": f"dentist {n}", "depth": 3}
            counts.append(len((await answer(http, running.url, "google", "maps", task))["items"]))
    assert max(counts) > 3


def test_datasets_are_dated_before_the_crawl_and_keep_the_api_format() -> None:
    from orchestrator.simulator.generator import generate_result

    day = datetime(2026, 12, 3, 10, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S +00:00")
    params = {"keyword": "air quality", "language_code": "en", "last_updated": "1y"}
    result = generate_result(0, "google", "dataset_search", params, day)[0]
    for item in result["items"]:
        assert item["updated_date"].endswith(" 00:00:00 +00:00")
        assert "2025-12-03" <= item["updated_date"][:10] <= "2026-12-03"
