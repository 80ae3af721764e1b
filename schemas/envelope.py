"""The response envelope every v3 endpoint answers with, generic over the result type.

Wire structs tolerate unknown fields (msgspec's default): a field the API adds tomorrow must
not break today's decode. Fields default so that a partial answer (an error envelope with
`tasks: null`) still decodes.
"""

from typing import Any, Generic, TypeVar

import msgspec

R = TypeVar("R")


class Task(msgspec.Struct, Generic[R], kw_only=True):
    """One task object of `tasks[]`: its own status, cost and (maybe) results."""

    id: str = ""
    status_code: int = 0
    status_message: str = ""
    time: str | None = None
    cost: float = 0.0
    result_count: int = 0
    path: list[str] | None = None
    data: dict[str, Any] | None = None
    result: list[R] | None = None


class Response(msgspec.Struct, Generic[R], kw_only=True):
    """Top-level envelope; `tasks` is null on auth failure."""

    version: str | None = None
    status_code: int = 0
    status_message: str = ""
    time: str | None = None
    cost: float = 0.0
    tasks_count: int = 0
    tasks_error: int = 0
    tasks: list[Task[R]] | None = None


class TasksReadyItem(msgspec.Struct, kw_only=True):
    """One completed, uncollected task listed by `tasks_ready`."""

    id: str
    se: str | None = None
    se_type: str | None = None
    date_posted: str | None = None
    tag: str | None = None
    endpoint_regular: str | None = None
    endpoint_advanced: str | None = None
    endpoint_html: str | None = None


class IdListItem(msgspec.Struct, kw_only=True):
    """One task of `/v3/serp/id_list`; `metadata` holds the posted parameters (tag included)."""

    id: str
    url: str | None = None
    datetime_posted: str | None = None
    datetime_done: str | None = None
    status: str | None = None
    cost: float = 0.0
    metadata: dict[str, Any] | None = None


class ErrorListItem(msgspec.Struct, kw_only=True):
    """One entry of `/v3/appendix/errors`."""

    code: int
    message: str


class Money(msgspec.Struct, kw_only=True):
    """`money` of `/v3/appendix/user_data`: what the account holds, USD."""

    total: float | None = None
    balance: float | None = None


class UserData(msgspec.Struct, kw_only=True):
    """`result[0]` of `/v3/appendix/user_data` (free). `rates` is kept as JSON: its keys per
    API and function are dynamic (`rates.limits.minute.serp.tasks_ready`, ...)."""

    login: str | None = None
    timezone: str | None = None
    money: Money | None = None
    rates: dict[str, Any] | None = None

    def minute_limit(self) -> int | None:
        """The account's general calls-per-minute limit, where the answer gives one.
        UNCERTAIN where the real answer puts it: `rates.limits.minute.total` is read."""
        minute = ((self.rates or {}).get("limits") or {}).get("minute") or {}
        total = minute.get("total") if isinstance(minute, dict) else None
        return total if isinstance(total, int) else None


class ErrorItem(msgspec.Struct, kw_only=True):
    """One entry of `/v3/serp/errors`: a task whose call (or webhook delivery) failed."""

    id: str
    datetime: str | None = None
    function: str | None = None  # "postback_url", "pingback_url", "task_get", ...
    http_code: int | None = None
    error_message: str | None = None
