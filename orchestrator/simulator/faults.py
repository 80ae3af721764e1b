"""Injected transient faults: what real networks and a busy API do to a client.

A share `fault_rate` of admitted calls gets one fault, its kind drawn by `fault_weights`:
- http_500: HTTP 500 with status 50000, nothing done.
- task_error: task_post tasks answer 50301/50401 and are not created; task_get answers 50401.
- drop: the connection is closed before anything is done.
- drop_after: the call is carried out (tasks created and charged, results marked collected),
  then the connection is closed before the answer: only id_list can tell what happened.
- slow: the answer comes `slow_real_s` late.
- truncate: the call is carried out and the body is cut off halfway.
Faults are never 40202: `rate_limited` counts real limit violations only.
"""

import random
from typing import Final

from aiohttp import web

from orchestrator.simulator.settings import FAULT_KINDS, FaultKind, SimulatorConfig

TASK_ERROR_FUNCTIONS: Final = frozenset({"task_post", "task_get"})


class FaultPlan:
    """Draws the fault (or none) for each admitted call, reproducibly from the seed."""

    def __init__(self, config: SimulatorConfig) -> None:
        unknown = set(config.fault_weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")
        self.rate = config.fault_rate
        self.weights = {k: w for k, w in config.fault_weights.items() if w > 0}
        self.rng = random.Random(config.seed ^ 0xFA17)

    def draw(self, function: str) -> FaultKind | None:
        """The fault for one call of `function`, or None."""
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        kinds = [k for k in self.weights if k != "task_error" or function in TASK_ERROR_FUNCTIONS]
        if not kinds:
            return None
        chosen = self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
        return chosen  # type: ignore[return-value]  # keys were checked against FAULT_KINDS


def drop_connection(request: web.Request) -> web.Response:
    """Abort the TCP connection; the client sees a disconnect and no answer."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=500)  # never reaches the client


async def truncated(request: web.Request, body: bytes) -> web.StreamResponse:
    """Announce the full length, send half of the body, then abort the connection."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        transport.abort()
    return response
