"""The receiver: an `aiohttp.web` app that takes DataForSEO's postbacks (the finished task's
answer, gzip-compressed, POSTed to us) and pingbacks (a GET saying a task is ready), so that
collecting costs no API calls. It serves for as long as `orchestrator run` runs.

Every request is treated as hostile. The path must carry this ledger's secret (403 otherwise);
a body may hold at most `max_body_mb` once decompressed, whether the gzip is announced by a
`Content-Encoding` header or not (the reference marks which one the API sends UNCERTAIN; 413
otherwise, and a clear log line); the task must be one this ledger posted and has not settled
(404 otherwise). Nothing is written for a request that fails any of these. A postback is
answered 200 only once its line is written, fsynced and settled (`settle.SinkWriter`); a task
already settled gets 200 and nothing more. What the receiver misses (we were down, answered
an error, or took over 10 s) the API leaves in tasks_ready, where the poller finds it.
"""

import hmac
import logging
import time
import zlib
from typing import TYPE_CHECKING, Final

import anyio
import msgspec
from aiohttp import web

from orchestrator.config import PostbackConfig, listen_address
from orchestrator.errors import ApiError
from orchestrator.ledger import DONE, FAILED, POSTED, POSTING
from orchestrator.pipeline.collected import collected_of
from orchestrator.pipeline.context import RunContext
from orchestrator.pipeline.reconcile import id_list_time
from orchestrator.pipeline.settle import SinkWriter
from orchestrator.pipeline.tags import split_attempt_tag

if TYPE_CHECKING:
    from orchestrator.pipeline.poller import Poller

log = logging.getLogger(__name__)
EARLY_WAIT_S: Final = 5.0  # a delivery for a batch whose task_post answer is being recorded
GZIP_MAGIC: Final = b"\x1f\x8b"
ERRORS_PAGE: Final = 1000  # /v3/serp/errors answers at most this many a call
RESEND_MAX: Final = 100  # /v3/appendix/webhook_resend takes at most this many ids a call
ERRORS_SLACK_S: Final = 60.0  # how far past "now" the errors window reaches
RESEND_GRACE_S: Final = 60.0  # re-sent deliveries have this long before the poller fetches


def webhook_url(postback: PostbackConfig, secret: str) -> str:
    """The URL the API is given for each task, `$id` and `$tag` filled in by the API."""
    kind = "postback" if postback.mode == "postback" else "pingback"
    return f"{postback.public_url.rstrip('/')}/{secret}/{kind}?id=$id&tag=$tag"


def with_webhook(body: bytes, postback: PostbackConfig, url: str, variant: str) -> bytes:
    """A task body (a JSON object) with the webhook fields added for this post only: the
    stored body, and with it the input's key, stays the same with postbacks on or off. A
    postback carries the job's task_get variant, the answer polling would fetch."""
    if postback.mode == "postback":
        extra = {"postback_url": url, "postback_data": variant}
    else:
        extra = {"pingback_url": url}
    return body[:-1] + b"," + msgspec.json.encode(extra)[1:]


async def catch_up(run: RunContext) -> None:
    """Deliveries that failed while no run was up (or answered an error): ask /v3/serp/errors
    for them and have the API send them again with /v3/appendix/webhook_resend, 100 ids a
    call (both free), instead of a task_get each. The poller leaves them alone for
    RESEND_GRACE_S, then fetches whatever has still not arrived."""
    postback = run.config.postback
    if postback is None:
        return
    function = "postback_url" if postback.mode == "postback" else "pingback_url"
    now = time.time() + run.client.server_skew_s  # the server's clock, to the second
    start = id_list_time(now - postback.errors_lookback_h * 3600)
    end = id_list_time(now + ERRORS_SLACK_S)  # failures of the last second are in too
    failed: list[str] = []
    try:
        while True:
            page = await run.client.webhook_errors(function, start, end, len(failed))
            failed += [item.id for item in page]
            if len(page) < ERRORS_PAGE:
                break
        ours = list(await run.db(run.ledger.posted_jobs, list(dict.fromkeys(failed))))
        deadline = time.monotonic() + RESEND_GRACE_S
        for at in range(0, len(ours), RESEND_MAX):
            chunk = ours[at : at + RESEND_MAX]
            run.resent.update(dict.fromkeys(chunk, deadline))
            await run.client.webhook_resend(chunk)
    except ApiError as exc:  # tasks_ready still has them: the poller collects them
        log.warning("webhook_catch_up_failed error=%s", exc)
        return
    if ours:
        log.info("webhook_resend tasks=%d failed_deliveries=%d", len(ours), len(failed))


class TooLarge(Exception):
    """A body over the bound, compressed or not."""


def gunzip(raw: bytes, limit: int) -> bytes:
    """Decompress a raw gzip body without ever holding more than `limit` bytes of it."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(raw, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge
    return out


class Receiver:
    """The web app and its server; `start` binds, `close` stops taking requests."""

    def __init__(self, run: RunContext, sink: SinkWriter, poller: "Poller") -> None:
        postback = run.config.postback
        if postback is None:
            raise ValueError("no [postback] in the config")
        self.run, self.sink, self.poller, self.postback = run, sink, poller, postback
        self.secret = run.ledger.webhook_secret()
        self.limit = int(postback.max_body_mb * 1024 * 1024)
        self.refused: dict[int, int] = {}  # HTTP status -> requests refused with it
        app = web.Application(client_max_size=self.limit)  # the decompressed body's bound
        app.router.add_route("*", "/{path:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self) -> None:
        host, port = listen_address(self.postback.listen)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port, reuse_port=self.postback.reuse_port).start()
        log.info("receiver_listening listen=%s mode=%s", self.postback.listen, self.postback.mode)

    async def close(self) -> None:
        await self.runner.cleanup()

    def refuse(self, status: int, reason: str) -> web.Response:
        """Count and log a refusal (the first of each kind and every 100th: a flood of forged
        requests must not flood the log), and answer with nothing of ours in it."""
        seen = self.refused[status] = self.refused.get(status, 0) + 1
        if seen == 1 or seen % 100 == 0:
            log.warning("webhook_refused status=%d reason=%s count=%d", status, reason, seen)
        return web.Response(status=status)

    async def handle(self, request: web.Request) -> web.Response:
        parts = request.path.rsplit("/", 2)
        kind = parts[-1] if len(parts) == 3 else ""
        given = parts[-2] if len(parts) == 3 else ""
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return self.refuse(403, "secret")
        if kind == "postback" and request.method == "POST":
            return await self.postback_received(request)
        if kind == "pingback" and request.method == "GET":
            return await self.pingback_received(request)
        return self.refuse(404, "path")

    async def read_body(self, request: web.Request) -> bytes:
        """The decompressed body; TooLarge over the bound. With `Content-Encoding: gzip`
        aiohttp decompresses within `client_max_size`; a raw gzip body is done here."""
        if request.content_length is not None and request.content_length > self.limit:
            raise TooLarge
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge from None
        if raw[:2] == GZIP_MAGIC:
            raw = gunzip(raw, self.limit)
        return raw

    async def postback_received(self, request: web.Request) -> web.Response:
        try:
            raw = await self.read_body(request)
        except TooLarge:
            return self.refuse(413, f"body over max_body_mb {self.postback.max_body_mb:g}")
        except (zlib.error, EOFError):
            return self.refuse(400, "not gzip or truncated")
        try:
            collected = collected_of(raw)  # its job and period: the sink asks the ledger
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self.refuse(400, "not a task envelope")
        if collected is None or request.query.get("id", collected.task_id) != collected.task_id:
            return self.refuse(400, "no finished task, or not the one in the URL")
        if await self.sink.put_and_wait(collected):  # the usual way: no deadline to keep
            return web.Response(status=200)
        with anyio.move_on_after(EARLY_WAIT_S):
            while True:
                state = await self.run.db(self.run.ledger.task_state, collected.task_id)
                if state in (DONE, FAILED):
                    return web.Response(status=200)  # delivered again: written once already
                if state == POSTED and await self.run.db(
                    self.run.ledger.fetching_elsewhere, collected.task_id
                ):
                    return web.Response(status=200)  # another worker writes it
                if not self.early(request.query.get("tag", ""), state):
                    break
                await anyio.sleep(0.1)
                if await self.sink.put_and_wait(collected):
                    return web.Response(status=200)
        return self.refuse(404, "not a task of this ledger")

    async def pingback_received(self, request: web.Request) -> web.Response:
        task_id = request.query.get("id", "")
        place = await self.place_of(task_id, request.query.get("tag", "")) if task_id else None
        if place is None:
            return self.refuse(404, "not a task of this ledger")
        await self.poller.fetch_now({task_id: place})
        return web.Response(status=200)

    def early(self, tag: str, state: str | None) -> bool:
        """A delivery may beat the recording of its task_post answer: worth waiting for when
        its tag names this ledger and no row holds its task id yet."""
        _, owner, batch = split_attempt_tag(tag)
        return owner == self.run.ledger.id and batch is not None and state in (None, POSTING)

    async def place_of(self, task_id: str, tag: str) -> tuple[str, str] | None:
        """(job, period) of a posted task of ours, waiting a little for an early one."""
        ledger = self.run.ledger
        with anyio.move_on_after(EARLY_WAIT_S):
            while True:
                found = await self.run.db(ledger.posted_jobs, [task_id])
                if task_id in found:
                    return found[task_id]
                if not self.early(tag, await self.run.db(ledger.task_state, task_id)):
                    return None
                await anyio.sleep(0.1)
        return None
