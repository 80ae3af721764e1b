"""Request parameters shape the answer as the docs say (issue 28, item 2), over HTTP to the
simulator: a documented request per shape-only endpoint, and its effect asserted. Also the
forms the API writes: event datetimes, finance markets, and a cost of nothing as `0`."""

from datetime import date
from typing import Any

import aiohttp
import msgspec
import pytest

from orchestrator.simulator.verticals import event_window
from tests.test_endpoint_answers import _collect
from tests.test_simulator_functional import post

BASE = {"location_code": 2840, "language_code": "en"}


async def result_of(
    http: aiohttp.ClientSession, url: str, se_type: str, task: dict[str, Any]
) -> dict[str, Any]:
    raw, _ = await _collect(http, url, "google", se_type, {**BASE, **task})
    result: dict[str, Any] = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    return result


@pytest.mark.parametrize("floor", [3.5, 4.5])
async def test_local_finder_min_rating_leaves_out_places_rated_below_it(
    sim: Any, http: aiohttp.ClientSession, floor: float
) -> None:
    """min_rating 4.5: every place is rated 4.5 or more (without it, most were not); the
    depth is still filled, short by at most the 1 in 20 any SERP may come short on a day."""
    task = {"keyword": "pizza", "depth": 20, "min_rating": floor}
    items = (await result_of(http, sim.url, "local_finder", task))["items"]
    assert len(items) in (19, 20)
    assert all(i["rating"]["value"] >= floor for i in items)
    plain = await result_of(http, sim.url, "local_finder", {"keyword": "pizza", "depth": 20})
    assert any(i["rating"]["value"] < 4.5 for i in plain["items"])


async def test_jobs_employment_type_gives_only_those_contracts(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    task = {"keyword": "data engineer", "depth": 30, "employment_type": ["fulltime"]}
    items = (await result_of(http, sim.url, "jobs", task))["items"]
    assert items and {i["contract_type"] for i in items} == {"Full-time"}
    both = {**task, "employment_type": ["partime", "intern"]}
    kinds = {i["contract_type"] for i in (await result_of(http, sim.url, "jobs", both))["items"]}
    assert kinds <= {"Part-time", "Internship"} and kinds


@pytest.mark.parametrize("date_range", [None, "today", "tomorrow", "weekend", "next_month"])
async def test_events_fall_inside_date_range_and_never_before_the_crawl(
    sim: Any, http: aiohttp.ClientSession, date_range: str | None
) -> None:
    """Events are dated inside the range, from the crawl's day on, as `YYYY-MM-DDThh:mm:ss`;
    an end may be unknown (null), and an end is never before its start."""
    task: dict[str, Any] = {"keyword": "concerts", "depth": 20}
    if date_range is not None:
        task["date_range"] = date_range
    result = await result_of(http, sim.url, "events", task)
    first, last = event_window(result["datetime"], date_range)
    assert first >= date.fromisoformat(result["datetime"][:10])
    for item in result["items"]:
        dates = item["event_dates"]
        start = dates["start_datetime"]
        assert len(start) == 19 and start[10] == "T"
        assert first <= date.fromisoformat(start[:10]) <= last
        assert dates["end_datetime"] is None or dates["end_datetime"] > start


def test_date_ranges_are_the_calendar_spans_the_docs_name() -> None:
    """On Thursday 2026-12-03: the week ends on Sunday the 6th, the weekend is the 5th and
    6th, next week the 7th to the 13th, next month all of January."""
    at = "2026-12-03 15:00:00 +00:00"
    assert event_window(at, "week") == (date(2026, 12, 3), date(2026, 12, 6))
    assert event_window(at, "weekend") == (date(2026, 12, 5), date(2026, 12, 6))
    assert event_window(at, "next_week") == (date(2026, 12, 7), date(2026, 12, 13))
    assert event_window(at, "month") == (date(2026, 12, 3), date(2026, 12, 31))
    assert event_window(at, "next_month") == (date(2027, 1, 1), date(2027, 1, 31))
    assert event_window("2026-12-06 09:00:00 +00:00", "weekend")[0] == date(2026, 12, 6)


async def test_a_finance_quote_is_the_instrument_its_keyword_names(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """`GOOG:NASDAQ` gets the quote of GOOG on NASDAQ (it came back as some other ticker);
    the hero group's markets are `{market, items}` as the spec has them."""
    result = await result_of(http, sim.url, "finance_quote", {"keyword": "GOOG:NASDAQ"})
    quote = next(i for i in result["items"] if i["type"] == "google_finance_quote")["quote"]
    assert quote["identifier"] == "GOOG:NASDAQ" and quote["ticker"] == "GOOG"
    assert quote["url"].endswith("/quote/GOOG:NASDAQ")
    hero = next(i for i in result["items"] if i["type"] == "google_finance_hero_groups")
    assert all(set(m) == {"market", "items"} for m in hero["markets"])


async def test_a_ticker_search_finds_tickers_that_start_with_the_keyword(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    result = await result_of(http, sim.url, "finance_ticker_search", {"keyword": "goo"})
    assert result["items"]
    assert all(i["ticker"].startswith("GOO") for i in result["items"])


async def test_a_cost_of_nothing_is_written_0_as_the_api_writes_it(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """task_get's envelope and task carry `"cost": 0`, not `0.0`; task_post's its price."""
    status, body = await post(http, sim.url, [{**BASE, "keyword": "x"}])
    assert status == 200 and body["tasks"][0]["cost"] > 0
    task_id = body["tasks"][0]["id"]
    async with http.get(f"{sim.url}/v3/serp/google/organic/task_get/advanced/{task_id}") as resp:
        raw = await resp.read()
    assert b'"cost":0,' in raw and b'"cost":0.0' not in raw


def test_ai_mode_answers_carry_markdown_links_images_references_and_their_sections() -> None:
    """Over 30 keywords: each answer's paragraphs have markdown and references, some links and
    images; expandable sections and videos appear (they never did), with the fields the
    official client models."""
    from orchestrator.simulator.generator import generate_result

    kinds: set[str] = set()
    linked = pictured = 0
    for i in range(30):
        params = {"keyword": f"best shoes {i}", **BASE}
        result = generate_result(0, "google", "ai_mode", params, "2026-12-03 10:00:00 +00:00")[0]
        (answer,) = result["items"]
        assert answer["markdown"] and answer["references"]
        for element in answer["items"]:
            kinds.add(element["type"])
            if element["type"] == "ai_overview_element":
                assert element["markdown"] and element["references"]
                linked += element["links"] is not None
                pictured += element["images"] is not None
            elif element["type"] == "ai_overview_expanded_element":
                assert all(c["references"] for c in element["components"])
            else:
                assert element["url"].startswith("https://www.youtube.com/watch?v=")
    assert kinds == {
        "ai_overview_element",
        "ai_overview_expanded_element",
        "ai_overview_video_element",
    }
    assert linked and pictured


async def test_datasets_carry_their_links_domains_and_the_search_its_filters(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    """A dataset's links, providers and licenses name their url and domain; a dataset search
    has refinement_chips (Dataset Search's filters), as the docs' result has them."""
    raw, _ = await _collect(http, sim.url, "google", "dataset_search", {"keyword": "climate"})
    result = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    chips = result["refinement_chips"]["items"]
    assert "Download format" in {c["title"] for c in chips}
    for item in result["items"]:
        for part in ("links", "dataset_providers", "licenses"):
            assert all(e["url"] and e["domain"] for e in item[part]), part
