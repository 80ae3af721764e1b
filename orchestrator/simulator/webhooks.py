"""Pingback (GET) and postback (gzip POST) delivery when a task completes (reference section 9).

`$id` becomes the task id and `$tag` the urlencoded tag. A delivery that times out (10 s) or
answers outside 2xx fails, and the task is then listed in tasks_ready. Only loopback targets
are contacted unless `allow_external_webhooks` is set.
"""

import gzip
import ipaddress
import logging
import random
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from orchestrator.simulator.state import SimTask

log = logging.getLogger(__name__)


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
        self.sent = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def deliver(self, task: SimTask) -> bool:
        """Send the task's webhook(s); True if every one was accepted with a 2xx."""
        if self.fail_rate and self._rng.random() < self.fail_rate:
            self.failed += 1
            return False
        ok = True
        if task.postback_url:
            body = gzip.compress(self._postback_body(task))
            headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
            ok &= await self._send("POST", substitute(task.postback_url, task), body, headers)
        if task.pingback_url:
            ok &= await self._send("GET", substitute(task.pingback_url, task), None, {})
        return ok

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> bool:
        if self._session is None:
            raise RuntimeError("WebhookSender.start() was not awaited")
        if not self._allow_external and not is_loopback_url(url):
            log.warning("webhook_blocked method=%s reason=not_loopback", method)
            self.failed += 1
            return False
        try:
            async with self._session.request(
                method, URL(url, encoded=True), data=body, headers=headers
            ) as resp:
                await resp.read()
                delivered = 200 <= resp.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("webhook_failed method=%s error=%s", method, type(exc).__name__)
            delivered = False
        if delivered:
            self.sent += 1
        else:
            self.failed += 1
        return delivered
