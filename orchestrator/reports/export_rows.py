"""The rankings table `export` writes: one row per SERP item, with the columns every item
has (rank, domain, url, title) and those of each family (places: rating, address, phone,
place_id, cid, category, coordinates; video: channel, views, duration, publication; news:
source and time; shopping and ads: price), empty where they do not apply."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

import msgspec

from orchestrator.config import JobConfig
from orchestrator.pipeline.inputs import key_of_tag

COLUMNS: Final = (
    "job",
    "input_key",
    "task_id",
    "se",
    "se_type",
    "keyword",
    "image_url",
    "location",
    "language",
    "device",
    "datetime",
    "type",
    "rank_group",
    "rank_absolute",
    "page",
    "domain",
    "url",
    "title",
    "description",
    "period",  # after it the family columns: earlier versions' columns keep their places
    # places (maps, local finder, local packs) and events
    "rating",
    "rating_votes",
    "address",
    "phone",
    "place_id",
    "cid",
    "category",
    "latitude",
    "longitude",
    # video
    "channel",
    "views",
    "duration_s",
    "published",
    # news
    "source",
    "timestamp",
    # shopping and paid
    "price",
    "currency",
)
# The columns of an item, as opposed to those of its task (null in a task's row of no item).
ITEM_COLUMNS: Final = (
    COLUMNS[COLUMNS.index("type") : COLUMNS.index("period")]
    + COLUMNS[COLUMNS.index("period") + 1 :]
)
INT_COLUMNS: Final = frozenset(
    {"rank_group", "rank_absolute", "page", "location", "rating_votes", "views", "duration_s"}
)
FLOAT_COLUMNS: Final = frozenset({"rating", "latitude", "longitude", "price"})
Row = dict[str, str | int | float | None]
_API_TIME: Final = "%Y-%m-%d %H:%M:%S %z"  # the API writes 2026-11-23 07:30:34 +00:00


class _Item(msgspec.Struct):
    """The columns of any item type; a field of an unexpected shape stays as it came."""

    type: str = ""
    rank_group: Any = None
    rank_absolute: Any = None
    page: Any = None
    domain: Any = None
    url: Any = None
    title: Any = None
    name: Any = None  # a YouTube channel's title
    description: Any = None
    rating: Any = None
    address: Any = None
    location_info: Any = None  # an event's venue
    phone: Any = None
    place_id: Any = None
    cid: Any = None
    category: Any = None
    latitude: Any = None
    longitude: Any = None
    channel_name: Any = None
    views_count: Any = None
    duration_time_seconds: Any = None
    publication_date: Any = None
    time_published: Any = None
    source: Any = None
    timestamp: Any = None
    price: Any = None


class _Result(msgspec.Struct):
    keyword: Any = None
    image_url: Any = None
    datetime: Any = None
    location_code: Any = None
    language_code: Any = None
    items: list[_Item] | None = None


class _Task(msgspec.Struct):
    id: str = ""
    data: dict[str, Any] = {}
    result: list[_Result] | None = None


_TASK = msgspec.json.Decoder(_Task)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return msgspec.json.encode(value).decode()  # a nested shape: keep it as JSON


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _field(block: Any, name: str) -> Any:
    """`block[name]` of a nested object (rating, price, venue), None if not an object."""
    return block.get(name) if isinstance(block, dict) else None


_NEWS: Final = frozenset({"news_search", "top_stories"})
_CHANNELS: Final = frozenset({"youtube_channel"})


def family_columns(item: Any) -> Row:
    """The columns people want of maps, video, news and shopping items; empty where an item
    type has no such field."""
    price = item.price
    return {
        "rating": _float(_field(item.rating, "value")),
        "rating_votes": _int(_field(item.rating, "votes_count")),
        "address": _first(item.address, _field(item.location_info, "address")),
        "phone": _text(item.phone),
        "place_id": _text(item.place_id),
        "cid": _first(item.cid, _field(item.location_info, "cid")),
        "category": _text(item.category),
        "latitude": _float(item.latitude),
        "longitude": _float(item.longitude),
        "channel": _first(item.channel_name, item.name if item.type in _CHANNELS else None),
        "views": _int(item.views_count),
        "duration_s": _int(item.duration_time_seconds),
        "published": _first(item.publication_date, item.time_published),
        "source": _first(item.source, item.domain if item.type in _NEWS else None),
        "timestamp": _iso_time(item.timestamp),
        "price": _float(_field(price, "current")) if isinstance(price, dict) else _float(price),
        "currency": _text(_field(price, "currency")),
    }


def _first(*values: Any) -> str | None:
    for value in values:
        if value is not None:
            return _text(value)
    return None


def _iso_time(value: Any) -> str | None:
    """The API's `2026-11-23 07:30:34 +00:00` as ISO 8601, `2026-11-23T07:30:34+00:00`, which
    DuckDB, Polars and pandas read as a timestamp; anything else is kept as it came."""
    if not isinstance(value, str):
        return _text(value)
    try:
        return datetime.strptime(value, _API_TIME).isoformat()
    except ValueError:
        return value


def _location(result: Any, data: dict[str, Any]) -> int | None:
    """The location code the task ran for: the result's echo (the API turns a location_name
    into its code there), else the posted code; 0 (Naver has no locations) is no location."""
    for value in (result.location_code, data.get("location_code")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _language(result: Any, data: dict[str, Any]) -> str | None:
    for value in (result.language_code, data.get("language_code")):
        if isinstance(value, str) and value:
            return value
    return None


def _label(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def rows_of_task(
    job: JobConfig,
    line: bytes,
    types: frozenset[str] | None,
    period: str = "",
    keep_empty: bool = False,
) -> Iterator[Row]:
    """The rows of one results.jsonl line (a task object as the API sent it). `keep_empty`: a
    task with no item gives one row whose `type` is null (the rankings table keeps it, so that
    a keyword with an empty SERP is still one of the period's keywords)."""
    task = _TASK.decode(line)
    data = task.data
    tag = data.get("tag")
    key = key_of_tag(tag) if isinstance(tag, str) else None
    listed = False
    for result in task.result or [_Result()] if keep_empty else task.result or []:
        base: Row = {
            "job": job.name,
            "period": period or None,
            "input_key": key,
            "task_id": task.id,
            "se": _label(data.get("se"), job.se),  # the task's own, not today's config
            "se_type": _label(data.get("se_type"), job.se_type),
            "keyword": _first(data.get("keyword"), result.keyword),
            "image_url": _first(data.get("image_url"), result.image_url),
            "location": _location(result, data),
            "language": _language(result, data),
            "device": _first(data.get("device"), "desktop"),
            "datetime": _iso_time(result.datetime),
        }
        for item in result.items or []:
            if not item.type:  # an html page (task_get = "html"): no ranked item to list
                continue
            if types is not None and item.type not in types:
                continue
            listed = True
            yield (
                base
                | {
                    "type": item.type,
                    "rank_group": _int(item.rank_group),
                    "rank_absolute": _int(item.rank_absolute),
                    "page": _int(item.page),
                    "domain": _text(item.domain),
                    "url": _text(item.url),
                    "title": _first(item.title, item.name),
                    "description": _text(item.description),
                }
                | family_columns(item)
            )
    if keep_empty and not listed:  # `base` is the last result's: there is at least one
        yield base | dict.fromkeys(ITEM_COLUMNS)
