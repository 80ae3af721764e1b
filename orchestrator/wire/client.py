"""The HTTP boundary: every call to the API goes through here, through the shared limiter.

Retry rules (never pay twice):
- GETs and id_list are idempotent: transient failures (network, HTTP 5xx, 50000/50301/50401,
  40202, 40209, a truncated body) are retried with exponential backoff and full jitter.
- task_post is retried only when the API said nothing was done (40202, 40209). Any other
  failure after the request may have reached the server (a drop, a timeout, a 5xx, a
  truncated answer) raises `AmbiguousPost`: the caller must reconcile through id_list before
  posting those tasks again.
- Account codes (40100, 40200, 40201, 40204, 40207) raise `AccountError` at once.
"""

import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import aiohttp
import anyio
import msgspec

import schemas
from orchestrator.config import ApiConfig, Credentials
from orchestrator.errors import (
    AccountError,
    ApiError,
    Disposition,
    TransientApiError,
    classify,
    error_for,
)
from orchestrator.wire.limiter import AccountLimiter
from schemas.decode import IdListResponse, TaskPostResponse, TasksReadyResponse
from schemas.envelope import ErrorItem, Response, UserData

R = TypeVar("R")

log = logging.getLogger(__name__)

NOTHING_DONE: Final = frozenset({40202, 40209})  # the API refused before doing anything
_HEADER_DECODER: Final = msgspec.json.Decoder(schemas.envelope.Response[msgspec.Raw])
_LIST_DECODER: Final = msgspec.json.Decoder(schemas.envelope.Response[dict[str, Any]])
OnWire = Callable[[], Awaitable[None]]
# The task_post being sent in this task: its hook runs once the limiter lets it onto the wire.
_ON_WIRE: ContextVar[OnWire | None] = ContextVar("on_wire", default=None)


def first_result(answer: Response[R]) -> list[R]:
    """`tasks[0].result` of a one-task answer, or [] when it is empty or null."""
    if not answer.tasks or not answer.tasks[0].result:
        return []
    return answer.tasks[0].result


class AmbiguousPost(TransientApiError):
    """A task_post may or may not have created its tasks: reconcile through id_list."""


class AnswerTooLarge(TransientApiError):
    """An answer went past `max_answer_mb` while it streamed: its read was cut there."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt))."""

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


class ApiClient:
    """Calls the v3 API (or the simulator) with Basic auth, limits, retries and decoding."""

    def __init__(
        self,
        api: ApiConfig,
        credentials: Credentials,
        limiter: AccountLimiter,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._base = api.base_url.rstrip("/")
        self._auth = aiohttp.encode_basic_auth(credentials.login, credentials.password)
        self._timeout = aiohttp.ClientTimeout(
            total=api.request_timeout_s, connect=api.connect_timeout_s
        )
        self._limiter = limiter
        self._max_answer = int(api.max_answer_mb * (1 << 20))
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self.retries = 0
        self.calls = 0  # HTTP exchanges started, for the progress display
        self.server_skew_s = 0.0  # the server's clock (its Date header) minus ours
        self.server_skew_known = False  # an answer with a Date header has come

    async def __aenter__(self) -> "ApiClient":
        headers = {"Authorization": self._auth, "Content-Type": "application/json"}
        self._session = aiohttp.ClientSession(
            headers=headers, timeout=self._timeout, middlewares=(self._admit,)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _once(self, method: str, path: str, body: bytes | None) -> bytes:
        """One HTTP exchange; raises ApiError subclasses, never aiohttp's."""
        if self._session is None:
            raise RuntimeError("use ApiClient as an async context manager")
        async with self._limiter.slot():
            self.calls += 1
            try:
                async with self._session.request(method, self._base + path, data=body) as resp:
                    raw = await self._read_bounded(resp, path)
                    status = resp.status
                    self._note_server_time(resp.headers.get("Date"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise TransientApiError(0, f"{type(exc).__name__}: {exc}", path) from exc
        try:
            head = _HEADER_DECODER.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise TransientApiError(0, f"HTTP {status}, unreadable body", path) from exc
        if head.status_code == 40202:
            self._limiter.slow_down(path)
        if classify(head.status_code) is not Disposition.SUCCESS:
            raise error_for(head.status_code, head.status_message, path)
        return raw

    async def _read_bounded(self, resp: aiohttp.ClientResponse, path: str) -> bytes:
        """The body, decompressed, read in pieces; AnswerTooLarge (and the connection closed,
        the rest unread) once it passes `max_answer_mb`."""
        limit = self._max_answer
        announced = resp.headers.get("Content-Length", "")  # gzip: the compressed size
        if (
            announced.isdigit()
            and int(announced) > limit
            and not resp.headers.get("Content-Encoding")
        ):
            resp.close()
            raise AnswerTooLarge(0, f"answer of {announced} bytes, over max_answer_mb", path)
        pieces, size = [], 0
        async for piece in resp.content.iter_chunked(1 << 16):
            pieces.append(piece)
            size += len(piece)
            if size > limit:
                resp.close()
                raise AnswerTooLarge(0, f"answer over max_answer_mb ({limit >> 20} MB)", path)
        return b"".join(pieces)  # one copy, as aiohttp's own read(): a bytearray made two

    async def _admit(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        """Every attempt on the wire passes the limiter: aiohttp runs client middlewares for
        each, its own re-send of a GET on a dropped keep-alive connection included."""
        path = request.url.path
        post = path.endswith("/task_post")
        await self._limiter.admit(tasks_ready=path.endswith("/tasks_ready"), post=post)
        hook = _ON_WIRE.get() if post else None
        if hook is not None:
            await hook()  # the caller's record that this POST went out, before it does
        return await handler(request)

    def window_full_until(self) -> float | None:
        """When a call waiting for room in the account's window gets it (epoch seconds)."""
        until = self._limiter.full_until_wall
        return until if until > time.time() + 1.0 else None

    def paused_until(self) -> float | None:
        """When a 40202 pause of every call ends (epoch seconds), while one lasts."""
        until = self._limiter.paused_until_wall
        return until if until > time.time() else None

    def _note_server_time(self, header: str | None) -> None:
        """Keep how far the server's clock is from ours: id_list windows are in its time."""
        if header:
            try:
                self.server_skew_s = parsedate_to_datetime(header).timestamp() - time.time()
                self.server_skew_known = True
            except (TypeError, ValueError):
                pass

    def server_now(self) -> float:
        """The server's clock now, as its last `Date` header says (ours until one came)."""
        return time.time() + self.server_skew_s

    async def _call(
        self, method: str, path: str, body: bytes | None = None, *, post: bool = False
    ) -> bytes:
        warned = False
        for attempt in range(self._retry.attempts):
            try:
                return await self._once(method, path, body)
            except AccountError:
                raise
            except TransientApiError as exc:
                if isinstance(exc, AnswerTooLarge) and not warned:
                    warned = True  # once a call: its retries would say the same
                    log.warning("answer_too_large endpoint=%s %s", path, exc.status_message)
                if post and exc.status_code not in NOTHING_DONE:
                    raise AmbiguousPost(exc.status_code, exc.status_message, path) from exc
                if attempt + 1 == self._retry.attempts:
                    raise
                pause = self._retry.delay(attempt, self._rng)
                self.retries += 1
                log.info(
                    "retry endpoint=%s code=%s attempt=%d pause_s=%.2f",
                    path,
                    exc.status_code,
                    attempt + 1,
                    pause,
                )
                await anyio.sleep(pause)
        raise AssertionError("unreachable: the loop returns or raises")

    async def task_post(
        self, se: str, se_type: str, bodies: Sequence[bytes], on_wire: OnWire | None = None
    ) -> TaskPostResponse:
        """POST up to 100 task bodies; see the module docstring for what may be retried.
        `on_wire` is awaited each time the request is let onto the wire, right before it goes:
        if it raises, the request is not sent."""
        payload = b"[" + b",".join(bodies) + b"]"
        token = _ON_WIRE.set(on_wire)
        try:
            path = f"/v3/serp/{se}/{se_type}/task_post"
            raw = await self._call("POST", path, payload, post=True)
        finally:
            _ON_WIRE.reset(token)
        try:
            return schemas.decode_task_post(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise AmbiguousPost(0, f"unreadable task_post answer: {exc}", path) from exc

    async def tasks_ready(self) -> TasksReadyResponse:
        """Completed, uncollected tasks of the whole account (at most 1000)."""
        return schemas.decode_tasks_ready(await self._call("GET", "/v3/serp/tasks_ready"))

    async def task_get(
        self, se: str, se_type: str, task_id: str, variant: str = "advanced"
    ) -> bytes:
        """The raw task_get answer (advanced, regular or html): the sink keeps the task's
        bytes as received."""
        path = f"/v3/serp/{se}/{se_type}/task_get/{variant}/{task_id}"
        return await self._call("GET", path)

    async def user_data(self) -> UserData | None:
        """The account: login, balance and limits (free; `validate --check-account`)."""
        answer = schemas.decode_user_data(await self._call("GET", "/v3/appendix/user_data"))
        found = first_result(answer)
        return found[0] if found else None

    async def serp_list(self, se: str, kind: str) -> list[dict[str, Any]]:
        """A search engine's free list: `locations` or `languages` (`validate
        --check-locations`)."""
        return first_result(_LIST_DECODER.decode(await self._call("GET", f"/v3/serp/{se}/{kind}")))

    async def webhook_errors(
        self, function: str, datetime_from: str, datetime_to: str, offset: int = 0
    ) -> list[ErrorItem]:
        """One page (1000) of failed `function` deliveries (postback_url, pingback_url)."""
        query = [
            {
                "limit": 1000,
                "offset": offset,
                "filtered_function": function,
                "datetime_from": datetime_from,
                "datetime_to": datetime_to,
            }
        ]
        raw = await self._call("POST", "/v3/serp/errors", msgspec.json.encode(query))
        return first_result(schemas.decode_errors(raw))

    async def webhook_resend(self, task_ids: Sequence[str]) -> int:
        """Ask for up to 100 tasks' webhooks again (free); how many the API took."""
        body = msgspec.json.encode([{"id": task_id} for task_id in task_ids])
        raw = await self._call("POST", "/v3/appendix/webhook_resend", body)
        answer = schemas.decode_task_post(raw)
        return sum(1 for task in answer.tasks or [] if task.status_code == 20100)

    async def id_list(
        self, datetime_from: str, datetime_to: str, offset: int = 0
    ) -> IdListResponse:
        """One page (1000) of tasks posted in the period, with metadata (tags)."""
        query = [
            {
                "datetime_from": datetime_from,
                "datetime_to": datetime_to,
                "limit": 1000,
                "offset": offset,
                "sort": "asc",  # tasks posted while paging go to the end: offsets hold
                "include_metadata": True,
            }
        ]
        return schemas.decode_id_list(
            await self._call("POST", "/v3/serp/id_list", msgspec.json.encode(query))
        )


__all__ = ["AmbiguousPost", "AnswerTooLarge", "ApiClient", "ApiError", "RetryPolicy"]
