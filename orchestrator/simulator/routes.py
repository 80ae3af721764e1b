"""The simulated v3 endpoints: task_post, tasks_ready, task_get (regular, advanced, html),
id_list, appendix.

Each handler reads the shared `Simulator` from the app and answers with the API's envelope.
Admission (auth, rate limit, concurrency, faults) happens before, in `app.py`'s middleware.
"""

import zlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from aiohttp import web

from orchestrator.simulator.clock import format_datetime, parse_datetime
from orchestrator.simulator.generator import generate_result, html_of, regular_of
from orchestrator.simulator.markets import UnknownMarket, language_of, location_of
from orchestrator.simulator.settings import ID_LIST_METADATA_WINDOW_S, ID_LIST_PAGE
from orchestrator.simulator.state import SimTask
from schemas import status
from schemas.catalogue import is_serp_endpoint, task_get_variants
from schemas.field_rules import MAX_TASKS_PER_POST
from schemas.pricing import task_cost
from schemas.requests import TaskValidationError, decode_task

if TYPE_CHECKING:
    from orchestrator.simulator.account import Simulator

VERSION: Final = "0.1.20261001"
SIMULATOR_KEY: Final[web.AppKey["Simulator"]] = web.AppKey("simulator")
FAULT_KEY: Final[web.RequestKey[str]] = web.RequestKey("fault", str)
_ENCODER: Final = msgspec.json.Encoder()
_BODY_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, msgspec.Raw])
_OBJECT_DECODER: Final = msgspec.json.Decoder(dict[str, Any])


class IdListRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v3/serp/id_list."""

    datetime_from: str
    datetime_to: str
    limit: int = msgspec.field(default=ID_LIST_PAGE)
    offset: int = 0
    sort: Literal["asc", "desc"] = "asc"
    include_metadata: bool = False


_ID_LIST_DECODER: Final = msgspec.json.Decoder(list[IdListRequest])


def money(cost: float) -> float | int:
    """A cost as the API writes it: `0` when nothing was charged (its answers show `"cost": 0`
    for task_get and tasks_ready), else the amount."""
    rounded = round(cost, 8)
    return rounded if rounded else 0


def envelope(tasks: list[dict[str, Any]] | None, code: int = status.OK, cost: float = 0.0) -> bytes:
    """The top-level response object around `tasks`."""
    errors = sum(
        1
        for t in tasks or ()
        if t["status_code"] >= 40000 and not status.is_pending(t["status_code"])
    )
    return _ENCODER.encode(
        {
            "version": VERSION,
            "status_code": code,
            "status_message": status.message(code),
            "time": "0.0100 sec.",
            "cost": money(cost),
            "tasks_count": len(tasks or ()),
            "tasks_error": errors,
            "tasks": tasks,
        }
    )


def json_response(body: bytes, http_status: int = 200) -> web.Response:
    return web.Response(body=body, status=http_status, content_type="application/json")


def error_response(code: int, http_status: int = 200) -> web.Response:
    """A top-level error with no tasks (auth, limits, bad body)."""
    return json_response(envelope(None, code), http_status)


def task_object(
    task_id: str,
    code: int,
    path: list[str],
    data: Any,
    *,
    cost: float = 0.0,
    result: Any = None,
    result_count: int = 0,
    message: str | None = None,
) -> dict[str, Any]:
    return {
        "id": task_id,
        "status_code": code,
        "status_message": message or status.message(code),
        "time": "0.0050 sec.",
        "cost": money(cost),
        "result_count": result_count,
        "path": path,
        "data": data,
        "result": result,
    }


MAX_BODY_BYTES: Final = 64 << 20  # a gzip body's bound once unpacked, as the raw one's


def _read_body(raw: bytes) -> list[msgspec.Raw] | int:
    """The POSTed task objects, or the top-level error code for an unusable body."""
    if raw[:2] == b"\x1f\x8b":
        unpacker = zlib.decompressobj(wbits=31)
        try:
            raw = unpacker.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error:
            return status.POST_DATA_INVALID
        if len(raw) > MAX_BODY_BYTES or not unpacker.eof:  # a gzip bomb, or a cut body
            return status.POST_DATA_INVALID
    if not raw.strip():
        return status.POST_DATA_EMPTY
    try:
        parsed = _BODY_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return status.POST_DATA_INVALID
    if isinstance(parsed, dict):  # legacy {"0": {...}, "1": {...}} form
        try:
            parsed = [parsed[k] for k in sorted(parsed, key=int)]
        except ValueError:
            return status.POST_DATA_INVALID
    return parsed if parsed else status.POST_DATA_EMPTY


def _check_market(se: str, given: dict[str, Any]) -> None:
    """A location or language name the API does not know is refused, as the API does."""
    try:
        language_of(given, location_of(given, se))
    except UnknownMarket as exc:
        raise TaskValidationError(exc.args[0], "no such location or language") from None


async def task_post(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    se, se_type = request.match_info["se"], request.match_info["se_type"]
    if not is_serp_endpoint(se, se_type):
        return error_response(status.NOT_FOUND, 404)
    items = _read_body(await request.read())
    if isinstance(items, int):
        return error_response(items)
    path = ["v3", "serp", se, se_type, "task_post"]
    store = sim.store
    now = store.clock.now()
    answers: list[dict[str, Any]] = []
    accepted: list[tuple[int, dict[str, Any], float]] = []
    for index, raw in enumerate(items):
        echo: dict[str, Any] = {
            "api": "serp",
            "function": "task_post",
            "se": se,
            "se_type": se_type,
        }
        try:
            given = _OBJECT_DECODER.decode(raw)
            echo.update(given)
        except (msgspec.DecodeError, msgspec.ValidationError):
            given = None
        if index >= MAX_TASKS_PER_POST:
            answers.append(task_object(store.new_id(now), status.TOO_MANY_TASKS, path, echo))
            continue
        if request.get(FAULT_KEY) == "task_error":
            code = (status.THIRD_PARTY_UNAVAILABLE, status.INTERNAL_TIMEOUT)[index % 2]
            answers.append(task_object(store.new_id(now), code, path, echo))
            continue
        try:
            if given is None:
                raise TaskValidationError("task", "expected a JSON object")
            checked = decode_task(se, se_type, raw)
            _check_market(se, given)
        except TaskValidationError as exc:
            what = (
                "Unknown Fields in POST Data"
                if exc.code == status.UNKNOWN_FIELDS
                else "Invalid Field"
            )
            # As the API words it (reference section 6): the field, not our parser's rule. The
            # orchestrator's own check keeps the rule in rejected.jsonl.
            message = f"{what}: '{exc.field}'."
            answers.append(task_object(store.new_id(now), exc.code, path, echo, message=message))
            continue
        accepted.append((len(answers), given, task_cost(se, se_type, checked, sim.config.prices)))
        answers.append({})  # filled in once the whole batch is known to be affordable
    total = sum(cost for _, _, cost in accepted)
    if total > store.balance + 1e-12:
        return error_response(status.PAYMENT_REQUIRED, 402)
    for slot, given, cost in accepted:
        device = given.get("device", "desktop")
        params = {
            "se": se,
            "se_type": se_type,
            **given,
            "device": device,
            "os": given.get("os", "android" if device == "mobile" else "windows"),
        }
        task = store.create(se, se_type, params, cost)
        answers[slot] = task_object(
            task.id, status.TASK_CREATED, path, task.data("task_post"), cost=cost
        )
    sim.wake()
    return json_response(envelope(answers, cost=total))


def ready_item(task: SimTask) -> dict[str, Any]:
    base = f"/v3/serp/{task.se}/{task.se_type}/task_get/"
    has = task_get_variants(task.se, task.se_type)
    return {
        "id": task.id,
        "se": task.se,
        "se_type": task.se_type,
        "date_posted": format_datetime(task.posted_at),
        "tag": task.tag,
        **{
            f"endpoint_{v}": base + f"{v}/" + task.id if v in has else None
            for v in ("regular", "advanced", "html")
        },
    }


async def tasks_ready(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    se, se_type = request.match_info.get("se"), request.match_info.get("se_type")
    path = ["v3", "serp", *(p for p in (se, se_type) if p), "tasks_ready"]
    result: list[dict[str, Any]] | None = [ready_item(t) for t in sim.store.ready(se, se_type)]
    count = len(result or ())
    if not result and sim.config.empty_tasks_ready_null:
        result = None
    data = {"api": "serp", "function": "tasks_ready", "se": se, "se_type": se_type}
    now = sim.store.clock.now()
    task = task_object(
        sim.store.new_id(now), status.OK, path, data, result=result, result_count=count
    )
    return json_response(envelope([task]))


@lru_cache(maxsize=512)
def _result_json(
    seed: int,
    se: str,
    se_type: str,
    params: bytes,
    done_at: float,
    variant: str,
    own: tuple[str, ...] = (),
    extras_beyond_depth: bool = False,
) -> bytes:
    """Encoded `result` of a completed task; cached because clients may fetch twice."""
    values = _OBJECT_DECODER.decode(params)
    result = generate_result(
        seed, se, se_type, values, format_datetime(done_at), own, extras_beyond_depth
    )
    if variant == "regular":
        result = regular_of(result, se, se_type)
    elif variant == "html":
        result = html_of(result)
    return _ENCODER.encode(result)


def task_get_body(
    sim: "Simulator", task: SimTask, code: int, function: str = "task_get", variant: str = ""
) -> bytes:
    """The task_get (or postback) envelope of one known task with status `code`: the
    variant asked for, or for a postback the task's `postback_data`."""
    variant = variant or task.postback_data or "advanced"
    path = ["v3", "serp", task.se, task.se_type, "task_get", variant, task.id]
    result, count = None, 0
    if code == status.OK:
        config = sim.config
        encoded = _result_json(
            config.seed,
            task.se,
            task.se_type,
            task.params,
            task.complete_at,
            variant,
            config.domains,
            config.extras_beyond_depth,
        )
        result, count = msgspec.Raw(encoded), 1
    obj = task_object(task.id, code, path, task.data(function), result=result, result_count=count)
    return envelope([obj])


async def task_get(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    se, se_type, task_id = (request.match_info[k] for k in ("se", "se_type", "id"))
    variant = request.match_info["variant"]
    path = ["v3", "serp", se, se_type, "task_get", variant, task_id]
    if variant not in task_get_variants(se, se_type):  # e.g. bing/local_pack: no advanced
        return error_response(status.NOT_FOUND, 404)
    task = sim.store.tasks.get(task_id)
    mismatch = None
    if task is not None and task.se != se:
        mismatch = 40002
    elif task is not None and task.se_type != se_type:
        mismatch = 40003
    if task is None or mismatch:
        code = mismatch or status.TASK_NOT_FOUND
        return json_response(envelope([task_object(task_id, code, path, None)]))
    if request.get(FAULT_KEY) == "task_error":
        return json_response(task_get_body(sim, task, status.INTERNAL_TIMEOUT, variant=variant))
    code = task.status_at(sim.store.clock.now(), variant)
    if request.get(FAULT_KEY) == "foreign":
        return json_response(_foreign_body(sim, task, variant))
    if not status.is_pending(code) and code != status.RESULTS_EXPIRED:
        sim.store.collect(task)
    return json_response(task_get_body(sim, task, code, variant=variant))


def _foreign_body(sim: "Simulator", asked: SimTask, variant: str) -> bytes:
    """Another finished task's answer under the id asked for (the `foreign` fault); the task
    asked for stays as it was. With no other finished task, the one asked for answers."""
    now = sim.store.clock.now()
    other = next(
        (
            t
            for t in sim.store.tasks.values()
            if t is not asked and t.se == asked.se and t.status_at(now, variant) == status.OK
        ),
        asked,
    )
    answer = msgspec.json.decode(task_get_body(sim, other, status.OK, variant=variant))
    answer["tasks"][0]["id"] = asked.id
    return _ENCODER.encode(answer)


def short_answer(response: web.Response) -> web.Response:
    """A task_post answer without its last task (the `short` fault): all were created."""
    assert isinstance(response.body, bytes)
    answer = msgspec.json.decode(response.body)
    tasks = answer.get("tasks") or []
    if len(tasks) > 1:
        answer["tasks"] = tasks[:-1]
        answer["tasks_count"] = len(answer["tasks"])
    return json_response(_ENCODER.encode(answer))


async def id_list(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    store = sim.store
    path = ["v3", "serp", "id_list"]
    now = store.clock.now()
    raw = await request.read()
    try:
        query = _ID_LIST_DECODER.decode(raw)[0]
        start, end = parse_datetime(query.datetime_from), parse_datetime(query.datetime_to)
        if not 1 <= query.limit <= ID_LIST_PAGE or query.offset < 0:
            raise ValueError("limit must be 1..1000 and offset >= 0")
        if query.include_metadata and start < now - ID_LIST_METADATA_WINDOW_S:
            raise ValueError("datetime_from must be within one month with include_metadata")
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, IndexError) as exc:
        message = f"Invalid Field: {exc}."
        return json_response(
            envelope(
                [task_object(store.new_id(now), status.INVALID_FIELD, path, None, message=message)]
            )
        )
    if request.get(FAULT_KEY) == "task_error":
        data = {"api": "serp", "function": "id_list"}
        return json_response(
            envelope([task_object(store.new_id(now), status.INTERNAL_ERROR, path, data)])
        )
    found = store.posted_between(start, end)
    if query.sort == "desc":
        found = found[::-1]
    page = found[query.offset : query.offset + query.limit]
    result = [
        {
            "id": t.id,
            # as the docs' example: the path without its leading slash, the status code as a
            # string (INFERRED for a task still running: its task_get code, 40602 or 40601)
            "url": f"v3/serp/{t.se}/{t.se_type}/task_post",
            "datetime_posted": format_datetime(t.posted_at),
            "datetime_done": format_datetime(t.complete_at) if t.done else None,
            "status": str(t.status_at(now)),
            "cost": t.cost,
            "metadata": t.data("task_post") if query.include_metadata else None,
        }
        for t in page
    ]
    data = {"api": "serp", "function": "id_list", **msgspec.structs.asdict(query)}
    task = task_object(
        store.new_id(now), status.OK, path, data, result=result, result_count=len(result)
    )
    return json_response(envelope([task]))


async def appendix_errors(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    result = [{"code": c, "message": m} for c, m in status.MESSAGES.items()]
    now = sim.store.clock.now()
    path = ["v3", "appendix", "errors"]
    data = {"api": "appendix", "function": "errors"}
    task = task_object(
        sim.store.new_id(now), status.OK, path, data, result=result, result_count=len(result)
    )
    return json_response(envelope([task]))


async def user_data(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    cfg = sim.config
    info = {
        "login": cfg.login,
        "timezone": "UTC",
        "rates": {
            "limits": {
                "minute": {
                    "total": cfg.calls_per_minute,
                    "serp": {"tasks_ready": cfg.tasks_ready_per_minute},
                }
            }
        },
        "money": {"total": cfg.balance_usd, "balance": round(sim.store.balance, 8)},
    }
    now = sim.store.clock.now()
    path = ["v3", "appendix", "user_data"]
    data = {"api": "appendix", "function": "user_data"}
    task = task_object(sim.store.new_id(now), status.OK, path, data, result=[info], result_count=1)
    return json_response(envelope([task]))
