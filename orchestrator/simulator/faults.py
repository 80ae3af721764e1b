"""Injected transient faults: what real networks and a busy API do to a client.

A share `fault_rate` of admitted calls gets one fault, its kind drawn by `fault_weights`:
- http_500: HTTP 500 with status 50000, nothing done.
- task_error: task_post tasks answer 50301/50401 and are not created; task_get answers 50401;
  id_list answers a task-level 50000 with no result (the envelope says 20000).
- drop: the connection is closed before anything is done.
- drop_after: the call is carried out (tasks created and charged, results marked collected),
  then the connection is closed before the answer: only id_list can tell what happened.
- slow: the answer comes `slow_real_s` late. The request is read first and carried out even
  if the client has gone meanwhile (a killed run): UNCERTAIN whether the real API goes on with
  a call whose connection closed; going on is the case a client must not pay twice for.
- truncate: the call is carried out and the body is cut off halfway.
- short (task_post only, never drawn unless named): every task is created, and the answer
  leaves out the last one.
- foreign (task_get only, never drawn unless named): the answer is another finished task's,
  its data and result, under the id asked for.
- refused (task_get only, never drawn unless named): a top-level 40400 with HTTP 404, as for
  a path the API does not know; nothing is done.
Faults are never 40202: `rate_limited` counts real limit violations only.

A weight's key is a kind, for every function, or `function:kind` for one function only
(`task_post:drop_after`): then functions no key names get no fault.

A test that needs one exact sequence scripts it (`script`, or `POST /_sim/faults` with
`{"next": {"task_get": ["drop_after", "task_error"]}}`): the next calls of that function get
those faults in order, whatever the rate, before any drawn one.
"""

import random
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Final

from aiohttp import web

from orchestrator.simulator.settings import FAULT_KINDS, FaultKind, SimulatorConfig

TASK_ERROR_FUNCTIONS: Final = frozenset({"task_post", "task_get", "id_list"})
ONLY_FOR: Final[dict[str, frozenset[str]]] = {
    "task_error": TASK_ERROR_FUNCTIONS,
    "short": frozenset({"task_post"}),
    "foreign": frozenset({"task_get"}),
    "refused": frozenset({"task_get"}),
}
SCRIPT_MAX: Final = 10_000  # scripted faults held at once, over all functions


def fault_kind(key: str) -> str:
    """The kind a weight's key names (`drop` or `task_post:drop`)."""
    return key.rpartition(":")[2]


class FaultPlan:
    """Draws the fault (or none) for each admitted call, reproducibly from the seed."""

    def __init__(self, config: SimulatorConfig) -> None:
        unknown = {fault_kind(k) for k in config.fault_weights} - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")
        self.rate = config.fault_rate
        self.weights = {k: w for k, w in config.fault_weights.items() if w > 0}
        self.rng = random.Random(config.seed ^ 0xFA17)
        self.scripted: dict[str, deque[FaultKind]] = {}

    def script(self, kinds_by_function: Mapping[str, Sequence[str]]) -> None:
        """The next calls of each function get these faults, in order. ValueError, and
        nothing scripted, if a kind is unknown or not possible there, or the script would
        grow past SCRIPT_MAX."""
        for function, kinds in kinds_by_function.items():
            for kind in kinds:
                if kind not in FAULT_KINDS:
                    raise ValueError(f"unknown fault kind {kind!r}")
                if kind in ONLY_FOR and function not in ONLY_FOR[kind]:
                    known = ", ".join(sorted(ONLY_FOR[kind]))
                    raise ValueError(f"{kind} is for {known} only, not {function}")
        held = sum(map(len, self.scripted.values()))
        if held + sum(map(len, kinds_by_function.values())) > SCRIPT_MAX:
            raise ValueError(f"at most {SCRIPT_MAX} scripted faults at once")
        for function, kinds in kinds_by_function.items():
            queue = self.scripted.setdefault(function, deque())
            queue.extend(kinds)  # type: ignore[arg-type]  # checked against FAULT_KINDS

    def draw(self, function: str) -> FaultKind | None:
        """The fault for one call of `function`, or None."""
        queue = self.scripted.get(function)
        if queue:
            return queue.popleft()
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        keys = [
            k
            for k in self.weights
            if k.partition(":")[0] in (k, function)
            and function in ONLY_FOR.get(fault_kind(k), (function,))
        ]
        if not keys:
            return None
        chosen = self.rng.choices(keys, weights=[self.weights[k] for k in keys])[0]
        return fault_kind(chosen)  # type: ignore[return-value]  # checked against FAULT_KINDS


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
