"""A load balancer for tests: an HTTP proxy in front of several postback receivers, as users
put one in front of their workers. Each request goes to the next backend in turn; with
`--copies 2` it goes to two of them (a delivery retried through another receiver), and the
answer is the first 2xx among them (else the last one's status, 502 when none answered).

    python -m tests.balancer --backend http://127.0.0.1:8001 --backend http://127.0.0.1:8002

prints `listening on http://127.0.0.1:PORT`; `GET /_balancer/stats` counts the requests sent
to each backend and the statuses they answered.
"""

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

PASSED_HEADERS = ("Content-Type",)  # aiohttp has inflated a gzip body: passed on plain


@dataclass
class Balancer:
    backends: list[str]
    copies: int
    session: aiohttp.ClientSession
    turn: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/_balancer/stats":
            return web.json_response({"sent": self.sent, "answered": self.answered})
        body = await request.read()
        chosen = [self.backends[(self.turn + i) % len(self.backends)] for i in range(self.copies)]
        self.turn += 1
        statuses = await asyncio.gather(*(self.forward(b, request, body) for b in chosen))
        status = next((s for s in statuses if 200 <= s < 300), statuses[-1])
        return web.Response(status=status)

    async def forward(self, backend: str, request: web.Request, body: bytes) -> int:
        headers = {k: v for k, v in request.headers.items() if k in PASSED_HEADERS}
        self.sent[backend] += 1
        try:
            async with self.session.request(
                request.method, backend + request.path_qs, data=body, headers=headers
            ) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            status = 502
        self.answered[str(status)] += 1
        return status


async def serve(args: argparse.Namespace) -> None:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        balancer = Balancer([b.rstrip("/") for b in args.backend], args.copies, session)
        app = web.Application(client_max_size=256 << 20)
        app.router.add_route("*", "/{tail:.*}", balancer.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        sys.stdout.write(f"listening on http://127.0.0.1:{runner.addresses[0][1]}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", required=True)
    parser.add_argument("--copies", type=int, default=1)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
