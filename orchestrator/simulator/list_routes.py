"""The free lists: each search engine's `GET /v3/serp/{se}/locations[/{country}]` and
`/v3/serp/{se}/languages` (Naver has neither: 404), from locations.py; and tasks_fixed, the
completed tasks whose SERP was re-parsed since (reference 3.7)."""

from typing import Final

from aiohttp import web

from orchestrator.simulator.clock import format_datetime
from orchestrator.simulator.locations import language_items, location_items
from orchestrator.simulator.routes import (
    SIMULATOR_KEY,
    envelope,
    error_response,
    json_response,
    ready_item,
    task_object,
)
from schemas import status

ENGINES_WITH_LISTS: Final = frozenset({"google", "bing", "yahoo", "baidu", "seznam", "youtube"})


def _answer(
    request: web.Request, path: list[str], data: dict[str, object], items: list[dict[str, object]]
) -> web.Response:
    """One task holding the list, as the API answers a GET of a list."""
    sim = request.app[SIMULATOR_KEY]
    task_id = sim.store.new_id(sim.store.clock.now())
    task = task_object(task_id, status.OK, path, data, result=items, result_count=len(items))
    return json_response(envelope([task]))


def _listed(request: web.Request, function: str, items: list[dict[str, object]]) -> web.Response:
    se = request.match_info["se"]
    path = ["v3", "serp", se, function]
    country = request.match_info.get("country")
    if country:
        path.append(country)
    return _answer(request, path, {"api": "serp", "function": function, "se": se}, items)


async def locations(request: web.Request) -> web.Response:
    if request.match_info["se"] not in ENGINES_WITH_LISTS:
        return error_response(status.NOT_FOUND, 404)
    return _listed(request, "locations", location_items(request.match_info.get("country")))


async def languages(request: web.Request) -> web.Response:
    if request.match_info["se"] not in ENGINES_WITH_LISTS:
        return error_response(status.NOT_FOUND, 404)
    return _listed(request, "languages", language_items())


async def tasks_fixed(request: web.Request) -> web.Response:
    """`GET /v3/serp/{se}/{se_type}/tasks_fixed`: as tasks_ready's items, with `date_fixed`
    instead of `date_posted`; a task leaves the list when it is collected again."""
    sim = request.app[SIMULATOR_KEY]
    se, se_type = request.match_info["se"], request.match_info["se_type"]
    result: list[dict[str, object]] = []
    for fixed in sim.store.fixed(se, se_type):
        item = ready_item(fixed)
        del item["date_posted"]
        result.append({**item, "date_fixed": format_datetime(fixed.fixed_at)})
    path = ["v3", "serp", se, se_type, "tasks_fixed"]
    data: dict[str, object] = {"api": "serp", "function": "tasks_fixed", "se": se}
    return _answer(request, path, {**data, "se_type": se_type}, result)
