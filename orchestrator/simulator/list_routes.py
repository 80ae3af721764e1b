"""The free lists of each search engine: `GET /v3/serp/{se}/locations[/{country}]` and
`/v3/serp/{se}/languages` (Naver has neither: 404), from locations.py."""

from typing import Final

from aiohttp import web

from orchestrator.simulator.locations import language_items, location_items
from orchestrator.simulator.routes import (
    SIMULATOR_KEY,
    envelope,
    error_response,
    json_response,
    task_object,
)
from schemas import status

ENGINES_WITH_LISTS: Final = frozenset({"google", "bing", "yahoo", "baidu", "seznam", "youtube"})


def _listed(request: web.Request, function: str, items: list[dict[str, object]]) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    se = request.match_info["se"]
    path = ["v3", "serp", se, function]
    country = request.match_info.get("country")
    if country:
        path.append(country)
    data = {"api": "serp", "function": function, "se": se}
    task = task_object(
        sim.store.new_id(sim.store.clock.now()),
        status.OK,
        path,
        data,
        result=items,
        result_count=len(items),
    )
    return json_response(envelope([task]))


async def locations(request: web.Request) -> web.Response:
    if request.match_info["se"] not in ENGINES_WITH_LISTS:
        return error_response(status.NOT_FOUND, 404)
    return _listed(request, "locations", location_items(request.match_info.get("country")))


async def languages(request: web.Request) -> web.Response:
    if request.match_info["se"] not in ENGINES_WITH_LISTS:
        return error_response(status.NOT_FOUND, 404)
    return _listed(request, "languages", language_items())
