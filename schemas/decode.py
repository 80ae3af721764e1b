"""Decoders for every response the orchestrator reads, built once at import, straight from bytes.

`decode_task_get` first tries one pass with the endpoint's tagged union of items (the fast
path: every item known). If any item does not fit, it decodes again in two steps: the envelope
with each item kept as `msgspec.Raw` (a slice of the input, no dict), then each item by the
union. An item whose `type` is unknown, or whose known type no longer matches its struct,
becomes a `GenericItem` holding its raw JSON: a change on the API side never fails a decode.
"""

from collections.abc import Sequence
from typing import Any, Generic, TypeVar, cast

import msgspec

from schemas.envelope import ErrorItem, IdListItem, Response, Task, TasksReadyItem, UserData
from schemas.google import GoogleOrganicItemUnion, GoogleSearchByImageItemUnion
from schemas.items import AdvancedResultBase, GenericItem
from schemas.local import BingLocalPackItem, GoogleMapsItemUnion, LocalFinderItem
from schemas.naver import NaverOrganicItemUnion
from schemas.verticals import (
    AdsAdvertisersItemUnion,
    AdsSearchItem,
    AiModeItemUnion,
    AutocompleteItem,
    DatasetItem,
    EventItem,
    FinanceItemUnion,
    GoogleJobsItem,
    ImagesItemUnion,
    NewsItemUnion,
    TickerSearchItemUnion,
)
from schemas.video import (
    YoutubeCommentItem,
    YoutubeOrganicItemUnion,
    YoutubeSubtitlesItem,
    YoutubeVideoInfoItem,
)

I = TypeVar("I")  # noqa: E741 - the conventional name of an item type parameter


class AdvancedResult(AdvancedResultBase, Generic[I], kw_only=True):
    """`result[0]` of a task_get/advanced answer with its decoded items."""

    items: list[I | GenericItem] | None = None


class SearchByImageResult(AdvancedResult[I], kw_only=True):
    """search_by_image results also echo the image they were asked about."""

    image_url: str | None = None


class _AllKnownResult(AdvancedResult[I], kw_only=True):
    """Fast path: every item is of a known type (the common case)."""

    items: list[I] | None = None  # type: ignore[assignment]  # narrower: no GenericItem


class _AllKnownByImageResult(SearchByImageResult[I], kw_only=True):
    items: list[I] | None = None  # type: ignore[assignment]  # narrower: no GenericItem


class _WireResult(AdvancedResultBase, kw_only=True):
    """Step one of a task_get decode: items left as raw JSON slices."""

    items: list[msgspec.Raw] | None = None
    image_url: str | None = None


TaskPostResponse = Response[msgspec.Raw]
TasksReadyResponse = Response[TasksReadyItem]
IdListResponse = Response[IdListItem]
TaskGetResponse = Response[AdvancedResult[Any]]

_task_post_decoder = msgspec.json.Decoder(TaskPostResponse)
_tasks_ready_decoder = msgspec.json.Decoder(TasksReadyResponse)
_id_list_decoder = msgspec.json.Decoder(IdListResponse)
_user_data_decoder = msgspec.json.Decoder(Response[UserData])
_errors_decoder = msgspec.json.Decoder(Response[ErrorItem])
_wire_task_get_decoder = msgspec.json.Decoder(Response[_WireResult])
_generic_item_decoder = msgspec.json.Decoder(GenericItem)


class _Endpoint:
    """How to turn the raw items of one se/se_type into typed ones."""

    def __init__(
        self,
        item_union: Any | None,
        result_cls: type[AdvancedResult[Any]],
        all_known_cls: Any | None = None,
    ) -> None:
        self.item_decoder = msgspec.json.Decoder(item_union) if item_union is not None else None
        self.fast: msgspec.json.Decoder[Any] | None = None
        if item_union is not None and all_known_cls is not None:
            fast_type = Response[all_known_cls[item_union]]  # type: ignore[valid-type]
            self.fast = msgspec.json.Decoder(fast_type)
        self.result_cls = result_cls
        self.fields = tuple(f for f in msgspec.structs.fields(result_cls) if f.name != "items")

    def item(self, raw: msgspec.Raw) -> Any:
        if self.item_decoder is not None:
            try:
                return self.item_decoder.decode(raw)
            except msgspec.ValidationError:
                pass  # unknown or changed type: keep it whole as a generic item
        generic = _generic_item_decoder.decode(raw)
        generic.raw = raw
        return generic

    def result(self, wire: _WireResult) -> AdvancedResult[Any]:
        items = None if wire.items is None else [self.item(raw) for raw in wire.items]
        values = {f.name: getattr(wire, f.name) for f in self.fields}
        return self.result_cls(**values, items=items)


def _typed(union: Any) -> _Endpoint:
    return _Endpoint(union, AdvancedResult, _AllKnownResult)


_GENERIC = _Endpoint(None, AdvancedResult)
_FINANCE = _typed(FinanceItemUnion)
_ENDPOINTS: dict[tuple[str, str], _Endpoint] = {
    ("google", "organic"): _typed(GoogleOrganicItemUnion),
    ("google", "search_by_image"): _Endpoint(
        GoogleSearchByImageItemUnion, SearchByImageResult, _AllKnownByImageResult
    ),
    ("naver", "organic"): _typed(NaverOrganicItemUnion),
    # Bing, Yahoo, Baidu and Seznam share Google's item types (the client's models do)
    **{
        (se, "organic"): _typed(GoogleOrganicItemUnion)
        for se in ("bing", "yahoo", "baidu", "seznam")
    },
    ("bing", "local_pack"): _typed(BingLocalPackItem),
    ("google", "maps"): _typed(GoogleMapsItemUnion),
    ("google", "local_finder"): _typed(LocalFinderItem),
    ("google", "news"): _typed(NewsItemUnion),
    ("google", "images"): _typed(ImagesItemUnion),
    ("google", "jobs"): _typed(GoogleJobsItem),
    ("google", "events"): _typed(EventItem),
    ("google", "ai_mode"): _typed(AiModeItemUnion),
    ("google", "autocomplete"): _typed(AutocompleteItem),
    ("google", "dataset_search"): _typed(DatasetItem),
    ("google", "dataset_info"): _typed(DatasetItem),
    ("google", "ads_advertisers"): _typed(AdsAdvertisersItemUnion),
    ("google", "ads_search"): _typed(AdsSearchItem),
    ("google", "finance_explore"): _FINANCE,
    ("google", "finance_markets"): _FINANCE,
    ("google", "finance_quote"): _FINANCE,
    ("google", "finance_ticker_search"): _typed(TickerSearchItemUnion),
    ("youtube", "organic"): _typed(YoutubeOrganicItemUnion),
    ("youtube", "video_info"): _typed(YoutubeVideoInfoItem),
    ("youtube", "video_comments"): _typed(YoutubeCommentItem),
    ("youtube", "video_subtitles"): _typed(YoutubeSubtitlesItem),
}


def decode_task_post(raw: bytes) -> TaskPostResponse:
    """Decode a task_post answer (task results are always null there)."""
    return _task_post_decoder.decode(raw)


def decode_tasks_ready(raw: bytes) -> TasksReadyResponse:
    """Decode a tasks_ready answer: `tasks[0].result` lists the ready tasks."""
    return _tasks_ready_decoder.decode(raw)


def decode_id_list(raw: bytes) -> IdListResponse:
    """Decode an id_list answer."""
    return _id_list_decoder.decode(raw)


def decode_task_get(raw: bytes, se: str, se_type: str) -> TaskGetResponse:
    """Decode a task_get/advanced answer of any SERP se/se_type into typed items: each
    endpoint's documented item types get their structs, an unknown one a `GenericItem`."""
    endpoint = _ENDPOINTS.get((se, se_type), _GENERIC)
    if endpoint.fast is not None:
        try:
            return cast(TaskGetResponse, endpoint.fast.decode(raw))
        except msgspec.ValidationError:
            pass  # an unknown or changed item somewhere: decode item by item below
    wire = _wire_task_get_decoder.decode(raw)
    if wire.tasks is not None:
        for task in wire.tasks:
            if task.result is not None:
                typed = [endpoint.result(r) for r in task.result]
                task.result = cast(list[_WireResult], typed)  # same object, items now typed
    return cast(TaskGetResponse, wire)


def typed_endpoints() -> Sequence[tuple[str, str]]:
    """The se/se_type pairs whose items decode into typed structs."""
    return tuple(_ENDPOINTS)


__all__ = [
    "AdvancedResult",
    "SearchByImageResult",
    "Task",
    "decode_id_list",
    "decode_task_get",
    "decode_task_post",
    "decode_tasks_ready",
    "typed_endpoints",
]


def decode_user_data(raw: bytes) -> Response[UserData]:
    """Decode a `/v3/appendix/user_data` answer."""
    return _user_data_decoder.decode(raw)


def decode_errors(raw: bytes) -> Response[ErrorItem]:
    """Decode a `/v3/serp/errors` answer."""
    return _errors_decoder.decode(raw)
