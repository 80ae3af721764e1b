"""A hostile server for tests: an HTTP proxy in front of the simulator that alters answers as
told, for the cases the simulator itself will not play. Each rule `ENDPOINT:KIND=COUNT`
alters the first COUNT answers to calls whose path ends with ENDPOINT:

- `truncate`: a task_post answer loses its last task (and `tasks_count` says so).
- `swap`: a task_get answer carries the `data` and `result` of the task_get answered before
  it, under its own id: another task's result.
- `huge`: instead of the answer, a body of `--huge-mb` MB (valid JSON: its padding is
  whitespace) streams out until the client stops reading.

    python -m tests.hostile_proxy --upstream http://127.0.0.1:8080 --rule task_get:huge=3

prints `listening on http://127.0.0.1:PORT`; `GET /_proxy/stats` says what it altered.
"""

import argparse
import asyncio
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

KINDS = ("truncate", "swap", "huge")
PIECE = b" " * (1 << 20)


@dataclass
class Rule:
    endpoint: str
    kind: str
    left: int


@dataclass
class Proxy:
    upstream: str
    rules: list[Rule]
    huge_mb: int
    altered: Counter[str] = field(default_factory=Counter)
    last_task: dict[str, Any] | None = None
    session: aiohttp.ClientSession | None = None

    def rule_for(self, path: str) -> Rule | None:
        """The first rule with answers left to alter whose endpoint this path calls."""
        return next((r for r in self.rules if r.left > 0 and f"/{r.endpoint}" in path), None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_proxy/stats":
            return web.json_response({"altered": dict(self.altered)})
        rule = self.rule_for(request.path)
        if rule is not None:
            rule.left -= 1  # taken now: answers in flight together must not all take it
        if rule is not None and rule.kind == "huge":
            self.altered["huge"] += 1
            return await self.huge(request)
        assert self.session is not None
        headers = {
            k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")
        }
        async with self.session.request(
            request.method,
            self.upstream + request.path_qs,
            data=await request.read(),
            headers=headers,
        ) as upstream:
            body = await upstream.read()
            status = upstream.status
        if rule is not None and status == 200:
            body = self.alter(rule, body)
        elif rule is not None:
            rule.left += 1  # an error answer: not altered
        return web.Response(body=body, status=status, content_type="application/json")

    def alter(self, rule: Rule, body: bytes) -> bytes:
        answer = json.loads(body)
        tasks = answer.get("tasks") or []
        if rule.kind == "truncate" and len(tasks) > 1:
            answer["tasks"] = tasks[:-1]
            answer["tasks_count"] = len(tasks) - 1
        elif rule.kind == "swap" and tasks and tasks[0].get("result"):
            mine, before = tasks[0], self.last_task
            self.last_task = {"data": mine.get("data"), "result": mine.get("result")}
            if before is None:
                rule.left += 1  # nothing to swap with yet: not altered
                return body
            mine.update(before)
        else:
            rule.left += 1
            return body
        self.altered[rule.kind] += 1
        return json.dumps(answer).encode()

    async def huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write(b'{"status_code": 20000, "status_message": "Ok.", "tasks": [')
            for _ in range(self.huge_mb):
                await response.write(PIECE)
            await response.write(b"]}")
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading, as it should
        return response


def parse_rule(text: str) -> Rule:
    where, _, count = text.partition("=")
    endpoint, _, kind = where.rpartition(":")
    if kind not in KINDS or not endpoint or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected ENDPOINT:{'|'.join(KINDS)}=COUNT, got {text}")
    return Rule(endpoint, kind, int(count))


async def serve(args: argparse.Namespace) -> None:
    proxy = Proxy(args.upstream.rstrip("/"), args.rule, args.huge_mb)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        proxy.session = session
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", proxy.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        sys.stdout.write(f"listening on http://127.0.0.1:{port}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rule", type=parse_rule, action="append", default=[])
    parser.add_argument("--huge-mb", type=int, default=400)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
