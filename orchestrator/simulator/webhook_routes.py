"""`POST /v3/serp/errors` (failed webhook deliveries among the account's errors) and
`POST /v3/appendix/webhook_resend` (deliver them again, free), as reference section 2 and 9
describe them.

UNCERTAIN how far back `errors` reaches (the newer docs page says 24 hours, the older one and
the Python client 7 days): the simulator keeps `errors_window_s` (7 days) and applies the
request's own `datetime_from`/`datetime_to` within it.
"""

from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import web

from orchestrator.simulator.clock import format_datetime, parse_datetime
from orchestrator.simulator.routes import SIMULATOR_KEY, envelope, json_response, task_object
from schemas import status

if TYPE_CHECKING:
    from orchestrator.simulator.account import Simulator

ERRORS_WINDOW_S: Final = 7 * 86400
ERRORS_PAGE: Final = 1000
RESEND_MAX: Final = 100


class ErrorsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    limit: int = ERRORS_PAGE
    offset: int = 0
    filtered_function: str | None = None
    datetime_from: str | None = None
    datetime_to: str | None = None


class ResendRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str


_ERRORS: Final = msgspec.json.Decoder(list[ErrorsRequest])
_RESEND: Final = msgspec.json.Decoder(list[ResendRequest])


def _invalid(sim: "Simulator", path: list[str], exc: Exception) -> web.Response:
    now = sim.store.clock.now()
    message = f"Invalid Field: {exc}."
    task = task_object(sim.store.new_id(now), status.INVALID_FIELD, path, None, message=message)
    return json_response(envelope([task]))


async def errors(request: web.Request) -> web.Response:
    """The failed deliveries in the window, oldest first, one page (free)."""
    sim = request.app[SIMULATOR_KEY]
    path = ["v3", "serp", "errors"]
    now = sim.store.clock.now()
    try:
        [query] = _ERRORS.decode(await request.read())
        start = parse_datetime(query.datetime_from) if query.datetime_from else 0.0
        end = parse_datetime(query.datetime_to) if query.datetime_to else now
        if not 1 <= query.limit <= ERRORS_PAGE or query.offset < 0:
            raise ValueError("limit must be 1..1000 and offset >= 0")
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        return _invalid(sim, path, exc)
    start = max(start, now - ERRORS_WINDOW_S)
    found = [
        (when, task, failure)
        for when, task, failure in sim.store.webhook_errors
        if start <= when <= end and query.filtered_function in (None, failure.function)
    ]
    page = found[query.offset : query.offset + query.limit]
    result = [
        {
            "id": task.id,
            "datetime": format_datetime(when),
            "function": failure.function,
            "error_code": 0,
            "error_message": failure.message,
            "http_url": failure.url,
            "http_method": failure.method,
            "http_code": failure.http_code,
            "http_time": 0.0,
            "http_response": None,
        }
        for when, task, failure in page
    ]
    data = {"api": "serp", "function": "errors"}
    task = task_object(
        sim.store.new_id(now), status.OK, path, data, result=result, result_count=len(result)
    )
    return json_response(envelope([task]))


async def webhook_resend(request: web.Request) -> web.Response:
    """Deliver again the webhooks of up to 100 finished tasks (free; no new charge)."""
    sim = request.app[SIMULATOR_KEY]
    path = ["v3", "appendix", "webhook_resend"]
    try:
        asked = _RESEND.decode(await request.read())
        if not 1 <= len(asked) <= RESEND_MAX:
            raise ValueError("give 1 to 100 ids")
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        return _invalid(sim, path, exc)
    tasks = []
    for item in asked:
        task = sim.store.find(item.id)
        if task is None or not task.done or not (task.postback_url or task.pingback_url):
            tasks.append(task_object(item.id, status.TASK_NOT_FOUND, path, {"id": item.id}))
            continue
        sim.resend(task)
        tasks.append(task_object(item.id, status.TASK_CREATED, path, {"id": item.id}))
    return json_response(envelope(tasks))
