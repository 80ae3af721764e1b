"""Pingback (GET) and postback (gzip POST) delivery when a task completes (reference section 9).

`$id` becomes the task id and `$tag` the urlencoded tag. A delivery that times out (10 s) or
answers outside 2xx fails, and the task is then listed in tasks_ready. Only loopback targets
are contacted unless `allow_external_webhooks` is set. At most SENDING deliveries are under
way at once (the client's pool); the timeout counts from a delivery's start, not its wait.
"""

import gzip
import ipaddress
import logging
import random
from collections.abc import Callable
from typing import Final
from urllib.parse import quote, urlsplit

import aiohttp
import anyio
from yarl import URL

from orchestrator.simulator.state import Failure, SimTask

log = logging.getLogger(__name__)
SENDING: Final = 100  # aiohttp's default connection pool


def substitute(url: str, task: SimTask) -> str:
    """Fill in `$id` and `$tag` as the API does."""
    return url.replace("$id", task.id).replace("$tag", quote(task.tag, safe=""))


def is_loopback_url(url: str) -> bool:
    """True if the URL's host is localhost or a loopback address."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookSender:
    """Delivers webhooks with one client session; counts what happened."""

    def __init__(
        self,
        timeout_s: float,
        allow_external: bool,
        postback_body: Callable[[SimTask], bytes],
        fail_rate: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.fail_rate = fail_rate  # deliveries failed as if the receiver were down
        self._rng = rng or random.Random(0)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._allow_external = allow_external
        self._postback_body = postback_body
        self._session: aiohttp.ClientSession | None = None
        self._sending = anyio.Semaphore(SENDING)
        self.sent = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def postback(self, task: SimTask) -> bytes:
        """The gzip body a postback of this task carries."""
        return gzip.compress(self._postback_body(task))

    async def deliver(self, task: SimTask, body: bytes | None = None) -> Failure | None:
        """Send the task's webhook (a postback, else a pingback), with its `body` if made
        already (`postback`); None if it was accepted with a 2xx, else what failed."""
        if task.postback_url:
            url, method, function = substitute(task.postback_url, task), "POST", "postback_url"
        elif task.pingback_url:
            url, method, function = substitute(task.pingback_url, task), "GET", "pingback_url"
        else:
            return None
        if self.fail_rate and self._rng.random() < self.fail_rate:
            self.failed += 1
            return Failure(function, url, method, 0, "Connection refused (simulated)")
        headers = {}
        if method == "POST":
            body = self.postback(task) if body is None else body
            headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        async with self._sending:
            code, message = await self._send(
                method, url, body if method == "POST" else None, headers
            )
        if 200 <= code < 300:
            self.sent += 1
            return None
        self.failed += 1
        return Failure(function, url, method, code, message)

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str]:
        """(HTTP status, what went wrong): status 0 when nothing answered."""
        if self._session is None:
            raise RuntimeError("WebhookSender.start() was not awaited")
        if not self._allow_external and not is_loopback_url(url):
            log.warning("webhook_blocked method=%s reason=not_loopback", method)
            return 0, "not a loopback address (simulator)"
        try:
            async with self._session.request(
                method, URL(url, encoded=True), data=body, headers=headers
            ) as resp:
                await resp.read()
                return resp.status, resp.reason or ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("webhook_failed method=%s error=%s", method, type(exc).__name__)
            return 0, type(exc).__name__
