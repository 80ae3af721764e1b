"""The simulator as an aiohttp application: admission middleware, background completion
ticker, `/_sim/*` control routes, and `serve()`, the async context manager tests use.

Admission order for every `/v3` call: count it, check Basic auth (401/40100), take a
concurrency slot (40209), pass the strict sliding window(s) (40202), then maybe get a fault.
"""

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import formatdate

import anyio
from aiohttp import web

from orchestrator.simulator import list_routes, routes, webhook_routes
from orchestrator.simulator.account import Simulator
from orchestrator.simulator.faults import drop_connection, truncated
from orchestrator.simulator.settings import SimulatorConfig
from orchestrator.simulator.state import SimTask
from schemas import status

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


@web.middleware
async def admission(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    route = request.match_info.route.name or "unknown"
    if route.startswith("sim_"):
        if not _is_loopback(request):
            raise web.HTTPForbidden(text="/_sim is served to loopback clients only")
        return await handler(request)
    sim.calls_total += 1
    sim.calls_by_function[route] += 1
    if not sim.authorized(request.headers.get("Authorization")):
        sim.unauthorized += 1
        return routes.error_response(status.UNAUTHORIZED, 401)
    if route == "unknown":
        return routes.error_response(status.NOT_FOUND, 404)
    if not sim.gate.enter():
        sim.concurrency_limited += 1
        return routes.error_response(status.TOO_MANY_REQUESTS, sim.config.limit_http_status)
    try:
        ready_call = route.startswith("tasks_ready")
        if not sim.window.would_admit() or (ready_call and not sim.ready_window.would_admit()):
            sim.rate_limited += 1
            return routes.error_response(status.RATE_LIMITED, sim.config.limit_http_status)
        sim.window.admit()
        sim.count_admitted()
        if ready_call:
            sim.ready_window.admit()
        sim.advance()
        fault = sim.faults.draw(route)
        if fault is not None:
            sim.faults_injected[fault] += 1
        if fault == "http_500":
            return routes.error_response(status.INTERNAL_ERROR, 500)
        if fault == "refused":
            return routes.error_response(status.NOT_FOUND, 404)
        if fault == "drop":
            return drop_connection(request)
        if fault == "slow":
            await request.read()  # the server has the whole request: see faults.py
            await asyncio.sleep(sim.config.slow_real_s)
        if fault is not None:
            request[routes.FAULT_KEY] = fault
        response = await handler(request)
        if fault == "drop_after":
            return drop_connection(request)
        if (
            fault == "truncate"
            and isinstance(response, web.Response)
            and isinstance(response.body, bytes)
        ):
            return await truncated(request, response.body)
        if fault == "short" and isinstance(response, web.Response):
            return routes.short_answer(response)
        return response
    finally:
        sim.gate.leave()


async def sim_stats(request: web.Request) -> web.Response:
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    return web.json_response(sim.stats())


async def sim_timeline(request: web.Request) -> web.Response:
    """Calls admitted in each real second since start (4 bytes a second: 350 KB a day)."""
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    config = sim.config
    return web.json_response(
        {
            "limit": config.calls_per_minute,
            "period_s": config.rate_period_s,
            "admitted_per_second": sim.admitted_per_second.tolist(),
        }
    )


async def sim_advance(request: web.Request) -> web.Response:
    """Jump simulated time forward: POST /_sim/advance?seconds=N."""
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    try:
        seconds = float(request.query["seconds"])
        sim.clock.advance(seconds)
    except (KeyError, ValueError) as exc:
        raise web.HTTPBadRequest(text=f"seconds: {exc}") from exc
    sim.advance()
    sim.wake()
    return web.json_response({"sim_time": sim.clock.now()})


async def server_date(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer's `Date` header is the account's clock, as a real server's is its own: a
    client that bounds id_list windows by the server's time sees the simulated days."""
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    response.headers["Date"] = formatdate(sim.clock.now(), usegmt=True)


async def sim_faults(request: web.Request) -> web.Response:
    """Change the share of faulty calls, or of failed webhook deliveries, while running
    (`{"fault_rate": 0}` ends faults; `{"webhook_fail_rate": 1}` is a receiver gone down), or
    script the next faults of a function (`{"next": {"task_get": ["drop_after"]}}`)."""
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    try:
        body = await request.json()
        rates = {k: float(body[k]) for k in ("fault_rate", "webhook_fail_rate") if k in body}
        script = body.get("next", {})
        if not (rates or script) or not all(0 <= rate <= 1 for rate in rates.values()):
            raise ValueError("give fault_rate or webhook_fail_rate within 0..1, or next")
        names = {r.name for r in request.app.router.routes()}
        functions = sorted(n for n in names if n is not None and not n.startswith("sim_"))
        if not isinstance(script, dict) or not all(
            name in functions and isinstance(kinds, list) for name, kinds in script.items()
        ):
            raise ValueError(f"next maps a function ({', '.join(functions)}) to fault kinds")
        sim.faults.script(script)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise web.HTTPBadRequest(text=f'expected {{"fault_rate": 0..1}}: {exc}') from exc
    if "fault_rate" in rates:
        sim.faults.rate = rates["fault_rate"]
    if "webhook_fail_rate" in rates:
        sim.webhooks.fail_rate = rates["webhook_fail_rate"]
    return web.json_response({**rates, "next": script})


async def sim_webhooks(request: web.Request) -> web.Response:
    """Hold deliveries (`{"held": true}`) or send every held one at once (`{"held": false}`)."""
    sim: Simulator = request.app[routes.SIMULATOR_KEY]
    try:
        held = (await request.json())["held"]
        if not isinstance(held, bool):
            raise TypeError("held is true or false")
    except (ValueError, KeyError, TypeError) as exc:
        raise web.HTTPBadRequest(text=f'expected {{"held": true|false}}: {exc}') from exc
    sim.hold_webhooks(held)
    return web.json_response({"held": held})


def postback_body(sim: Simulator, task: SimTask) -> bytes:
    """What a postback of a finished task carries: its task_get answer."""
    return routes.task_get_body(sim, task, task.outcome, "postback")


def build_app(sim: Simulator) -> web.Application:
    """The aiohttp application serving one simulated account."""
    app = web.Application(middlewares=[admission], client_max_size=64 * 1024 * 1024)
    app[routes.SIMULATOR_KEY] = sim
    app.on_response_prepare.append(server_date)
    r = app.router
    r.add_post("/v3/serp/{se}/{se_type}/task_post", routes.task_post, name="task_post")
    r.add_get("/v3/serp/tasks_ready", routes.tasks_ready, name="tasks_ready")
    r.add_get("/v3/serp/{se}/tasks_ready", routes.tasks_ready, name="tasks_ready_se")
    r.add_get("/v3/serp/{se}/{se_type}/tasks_ready", routes.tasks_ready, name="tasks_ready_se_type")
    r.add_get(
        "/v3/serp/{se}/{se_type}/task_get/{variant:regular|advanced|html}/{id}",
        routes.task_get,
        name="task_get",
    )
    r.add_get("/v3/serp/{se}/{se_type}/tasks_fixed", list_routes.tasks_fixed, name="tasks_fixed")
    r.add_get("/v3/serp/{se}/locations", list_routes.locations, name="locations")
    r.add_get("/v3/serp/{se}/locations/{country}", list_routes.locations, name="locations_of")
    r.add_get("/v3/serp/{se}/languages", list_routes.languages, name="languages")
    r.add_post("/v3/serp/id_list", routes.id_list, name="id_list")
    r.add_post("/v3/serp/errors", webhook_routes.errors, name="errors")
    r.add_post("/v3/appendix/webhook_resend", webhook_routes.webhook_resend, name="webhook_resend")
    r.add_get("/v3/appendix/errors", routes.appendix_errors, name="appendix_errors")
    r.add_get("/v3/appendix/user_data", routes.user_data, name="user_data")
    r.add_get("/_sim/stats", sim_stats, name="sim_stats")
    r.add_get("/_sim/timeline", sim_timeline, name="sim_timeline")
    r.add_post("/_sim/advance", sim_advance, name="sim_advance")
    r.add_post("/_sim/faults", sim_faults, name="sim_faults")
    r.add_post("/_sim/webhooks", sim_webhooks, name="sim_webhooks")
    return app


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    """What `serve` hands out: the base URL to point a client at, and the live state."""

    url: str
    port: int
    sim: Simulator


@asynccontextmanager
async def serve(
    config: SimulatorConfig | None = None, *, host: str | None = None, port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """Run a simulator on `host:port` (default: loopback, an ephemeral port) until exit."""
    config = config or SimulatorConfig()
    sim = Simulator(config, postback_body)
    # The body is read as sent: the API takes a plain body under `Content-Encoding: gzip`
    # (DataForSEO's legacy Python client sends that header on every POST), which aiohttp's own
    # decompression refused with a 500. routes.py unpacks a gzip body by its magic bytes.
    runner = web.AppRunner(
        build_app(sim), access_log=None, handle_signals=False, auto_decompress=False
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host or config.host, port)
        await site.start()
        bound = runner.addresses[0][1]
        await sim.webhooks.start()
        try:
            async with anyio.create_task_group() as tg:
                sim._task_group = tg
                await tg.start(sim.tick)
                try:
                    yield RunningSimulator(f"http://{host or config.host}:{bound}", bound, sim)
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The background tasks never fail on their own; hand the caller its own exception.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
    finally:
        sim._task_group = None
        await sim.webhooks.close()
        await runner.cleanup()
