"""Locations and languages as the API has them (issue 28, items 3 and 7), over HTTP to the
simulator: codes that do not exist get 40501 Invalid Field, a known city keeps its own code, a
coordinate resolves to its country, and the free lists (locations, languages, tasks_fixed) are
served."""

from typing import Any

import aiohttp
import msgspec
import pytest

from orchestrator.simulator.app import serve
from tests.conftest import fast_config
from tests.test_endpoint_answers import _collect
from tests.test_simulator_functional import get, post


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"keyword": "x", "location_code": 1, "language_code": "en"}, "location_code"),
        ({"keyword": "x", "location_code": 2999, "language_code": "en"}, "location_code"),
        ({"keyword": "x", "location_code": 2840, "language_code": "xx"}, "language_code"),
    ],
)
async def test_codes_that_do_not_exist_are_refused_as_the_api_refuses_them(
    sim: Any, http: aiohttp.ClientSession, task: dict[str, Any], field: str
) -> None:
    _, body = await post(http, sim.url, [task])
    answer = body["tasks"][0]
    assert answer["status_code"] == 40501
    assert answer["status_message"] == f"Invalid Field: '{field}'."
    assert sim.sim.stats()["tasks_created"] == 0


@pytest.mark.parametrize(
    ("given", "code", "domain"),
    [
        ({"location_name": "Los Angeles,California,United States"}, 1013962, "google.com"),
        ({"location_code": 1013962}, 1013962, "google.com"),
        ({"location_coordinate": "51.5072,-0.1276,14"}, 2826, "google.co.uk"),
        ({"location_name": "Belgium"}, 2056, "google.com"),
        ({"location_code": 2616}, 2616, "google.pl"),
        ({"location_code": 1_030_000}, 1_030_000, "google.com"),  # unlisted: UNCERTAIN, kept
    ],
)
async def test_a_location_resolves_to_its_own_code_and_country(
    sim: Any, http: aiohttp.ClientSession, given: dict[str, Any], code: int, domain: str
) -> None:
    task = {"keyword": "x", "language_code": "en", **given}
    raw, _ = await _collect(http, sim.url, "google", "organic", task)
    result = msgspec.json.decode(raw)["tasks"][0]["result"][0]
    assert result["location_code"] == code and result["se_domain"] == domain


async def test_the_locations_and_languages_lists_are_served(
    sim: Any, http: aiohttp.ClientSession
) -> None:
    found = await get(http, f"{sim.url}/v3/serp/google/locations")
    items = found["tasks"][0]["result"]
    by_code = {i["location_code"]: i for i in items}
    assert by_code[2840]["location_name"] == "United States"
    assert by_code[2840]["location_type"] == "Country"
    assert by_code[1013962]["location_code_parent"] == 2840
    assert found["tasks"][0]["result_count"] == len(items) > 60
    uk = (await get(http, f"{sim.url}/v3/serp/bing/locations/gb"))["tasks"][0]["result"]
    assert {i["country_iso_code"] for i in uk} == {"GB"} and len(uk) == 2
    languages = (await get(http, f"{sim.url}/v3/serp/google/languages"))["tasks"][0]["result"]
    assert {"language_name": "German", "language_code": "de"} in languages
    async with http.get(f"{sim.url}/v3/serp/naver/locations") as resp:
        assert resp.status == 404  # Naver has no list


async def test_tasks_fixed_lists_re_parsed_tasks_until_they_are_collected_again(
    http: aiohttp.ClientSession,
) -> None:
    """Every task re-parsed (share_fixed 1): none is listed before its fix, each after it with
    `date_fixed`, one collected again leaves the list, and a day later the rest have too."""
    async with serve(fast_config(share_fixed=1.0)) as running:
        url = running.url
        tasks = [
            {"keyword": f"k{i}", "location_code": 2840, "language_code": "en"} for i in range(3)
        ]
        _, body = await post(http, url, tasks)
        ids = [t["id"] for t in body["tasks"]]
        fixed_url = f"{url}/v3/serp/google/organic/tasks_fixed"
        listed = (await get(http, fixed_url))["tasks"][0]
        assert listed["result"] == [] and listed["path"][-1] == "tasks_fixed"
        running.sim.clock.advance(7 * 3600)  # past every fix (at most 6 h after completion)
        listed = (await get(http, fixed_url))["tasks"][0]
        assert sorted(i["id"] for i in listed["result"]) == sorted(ids)
        assert all("date_fixed" in i and "date_posted" not in i for i in listed["result"])
        await get(http, f"{url}/v3/serp/google/organic/task_get/advanced/{ids[0]}")
        again = (await get(http, fixed_url))["tasks"][0]["result"]
        assert sorted(i["id"] for i in again) == sorted(ids[1:])
        running.sim.clock.advance(86400)
        assert (await get(http, fixed_url))["tasks"][0]["result"] == []
