"""task_post request structs with the documented limits (reference section 7; seed S0).

Every endpoint's struct forbids unknown fields, so a typo in a config (`lanuage_code`) is
caught before a paid task is posted, and no field given is dropped. Google organic and
search_by_image and Naver organic have hand-written structs with their required combinations;
the others are made from `task_fields.ENDPOINT_FIELDS`, each field with its rule from
`field_rules.FIELD_TYPES`. The rules that differ by endpoint (what it requires, its depth
limit, its task_get variants) are checked after decoding. Defaults are omitted on encode: what
is posted is what the user set.
"""

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, cast

import msgspec

from schemas import status
from schemas.catalogue import task_get_variants
from schemas.depths import depth_field, depth_of, depth_rule
from schemas.field_rules import (
    FIELD_TYPES,
    Coordinate,
    CrawlPages,
    Depth,
    Device,
    Keyword,
    MatchTargets,
    Os,
    Priority,
    ScreenRatio,
    ScreenSize,
    Tag,
    Url,
)
from schemas.task_fields import ENDPOINT_FIELDS


class TaskValidationError(ValueError):
    """A task breaks a documented rule; `field` names it, `code` is what the API would answer."""

    def __init__(self, field: str, rule: str, code: int = status.INVALID_FIELD) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule
        self.code = code


class TaskPostBase(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Fields every SERP task_post takes."""

    priority: Priority | None = None
    tag: Tag | None = None
    pingback_url: Url | None = None
    postback_url: Url | None = None
    postback_data: Literal["regular", "advanced", "html"] | None = None

    def __post_init__(self) -> None:
        if self.postback_url is not None and self.postback_data is None:
            raise ValueError("postback_data: required when postback_url is set")

    def require_one(self, names: tuple[str, ...]) -> None:
        """Exactly one of `names` must be set (location, language)."""
        count = 0
        for name in names:  # a plain loop: this runs twice for each of a million inputs
            if getattr(self, name) is not None:
                count += 1
        if count != 1:
            given = [n for n in names if getattr(self, n) is not None]
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"{names[0]}: exactly one of {', '.join(names)} is required (got {found})"
            )


class _SearchEngineParams(TaskPostBase, kw_only=True):
    se_domain: str | None = None
    search_param: str | None = None


class _LocatedTask(_SearchEngineParams, kw_only=True):
    location_code: Annotated[int, msgspec.Meta(ge=1)] | None = None
    location_name: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    location_coordinate: Coordinate | None = None
    language_code: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    language_name: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    calculate_rectangles: bool | None = None
    browser_screen_width: ScreenSize | None = None
    browser_screen_height: ScreenSize | None = None
    browser_screen_resolution_ratio: ScreenRatio | None = None


class GoogleOrganicTaskPost(_LocatedTask, kw_only=True, forbid_unknown_fields=True):
    """POST /v3/serp/google/organic/task_post."""

    keyword: Keyword | None = None
    url: Url | None = None
    depth: Depth | None = None
    max_crawl_pages: CrawlPages | None = None
    device: Device | None = None
    os: Os | None = None
    people_also_ask_click_depth: Annotated[int, msgspec.Meta(ge=1, le=4)] | None = None
    load_async_ai_overview: bool | None = None
    expand_ai_overview: bool | None = None
    group_organic_results: bool | None = None
    remove_from_url: Annotated[list[str], msgspec.Meta(max_length=10)] | None = None
    stop_crawl_on_match: MatchTargets | None = None
    target_search_mode: Literal["any", "all"] | None = None
    find_targets_in: list[str] | None = None
    ignore_targets_in: list[str] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.url is not None:
            return  # a direct SE URL carries keyword, location and language itself
        if self.keyword is None:
            raise ValueError("keyword: required unless url is set")
        if self.keyword.lstrip().lower().startswith("cache:"):
            raise ValueError("keyword: the cache: operator is not supported")
        # location and language: the endpoint's rules, as for every endpoint


class GoogleSearchByImageTaskPost(_LocatedTask, kw_only=True, forbid_unknown_fields=True):
    """POST /v3/serp/google/search_by_image/task_post."""

    image_url: Url
    max_crawl_pages: CrawlPages | None = None
    postback_data: Literal["advanced", "html"] | None = None

    # location and language: the endpoint's rules, as for every endpoint


class NaverOrganicTaskPost(_SearchEngineParams, kw_only=True, forbid_unknown_fields=True):
    """POST /v3/serp/naver/organic/task_post (Naver takes no location or language)."""

    keyword: Keyword | None = None
    url: Url | None = None
    depth: Depth | None = None
    max_crawl_pages: CrawlPages | None = None
    device: Device | None = None
    os: Os | None = None
    stop_crawl_on_match: MatchTargets | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.keyword is None and self.url is None:
            raise ValueError("keyword: required unless url is set")


_BASE_FIELDS: Final = frozenset(f.name for f in msgspec.structs.fields(TaskPostBase))


def _endpoint_struct(se: str, se_type: str, names: frozenset[str]) -> type[TaskPostBase]:
    """A strict struct for one endpoint of `task_fields`: its fields and no others."""
    fields = [(n, FIELD_TYPES[n] | None, None) for n in sorted(names - _BASE_FIELDS)]
    name = "".join(part.title() for part in f"{se}_{se_type}".split("_")) + "TaskPost"
    made = msgspec.defstruct(
        name,
        fields,
        bases=(TaskPostBase,),
        module=__name__,
        kw_only=True,
        omit_defaults=True,
        forbid_unknown_fields=True,
    )
    return cast(type[TaskPostBase], made)


TASK_POST_TYPES: Final[dict[tuple[str, str], type[TaskPostBase]]] = {
    ("google", "organic"): GoogleOrganicTaskPost,
    ("google", "search_by_image"): GoogleSearchByImageTaskPost,
    ("naver", "organic"): NaverOrganicTaskPost,
    **{key: _endpoint_struct(*key, names) for key, names in ENDPOINT_FIELDS.items()},
}

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_NAMED_FIELD = re.compile(r"field `(?P<name>[^`]+)`")
_RULE_FIELD = re.compile(r"^(?P<field>[\w.\[\]]+): (?P<rule>.+)$")


def _to_validation_error(exc: msgspec.ValidationError) -> TaskValidationError:
    """Turn msgspec's message into (field, rule); unknown fields get the API's 40506."""
    text = str(exc)
    at = _PATH.search(text)
    path = at.group("path") if at else ""
    rule = text[: at.start()] if at else text
    named = _NAMED_FIELD.search(rule)
    if named and rule.startswith("Object contains unknown field"):
        field = f"{path}.{named.group('name')}" if path else named.group("name")
        return TaskValidationError(field, "unknown field", status.UNKNOWN_FIELDS)
    if named and rule.startswith("Object missing required field"):
        field = f"{path}.{named.group('name')}" if path else named.group("name")
        return TaskValidationError(field, "required field is missing")
    custom = _RULE_FIELD.match(rule)
    if custom and not path:
        return TaskValidationError(custom.group("field"), custom.group("rule"))
    return TaskValidationError(path or "task", rule)


def task_post_type(se: str, se_type: str) -> type[TaskPostBase]:
    """The request struct that validates tasks of `se/se_type` (a SERP endpoint)."""
    return TASK_POST_TYPES[(se, se_type)]


def task_field_names(se: str, se_type: str) -> frozenset[str]:
    """The fields a task of `se/se_type` may carry, `tag` included."""
    return frozenset(f.name for f in msgspec.structs.fields(task_post_type(se, se_type)))


def validate_task(
    se: str, se_type: str, task: Mapping[str, Any], *, from_strings: bool = False
) -> TaskPostBase:
    """Check one task against its endpoint's rules; raise TaskValidationError naming the field.

    `from_strings=True` accepts "2840" for an int and "true" for a bool, as read from a CSV.
    """
    if type(task) is not dict and not isinstance(task, Mapping):  # the ABC check is slow
        raise TaskValidationError("task", "expected a JSON object")
    try:
        checked = msgspec.convert(task, task_post_type(se, se_type), strict=not from_strings)
    except msgspec.ValidationError as exc:
        raise _to_validation_error(exc) from exc
    return _check_endpoint_rules(se, se_type, checked)


def decode_task(se: str, se_type: str, raw: bytes) -> TaskPostBase:
    """Decode and check one task object straight from its JSON bytes."""
    try:
        checked = msgspec.json.decode(raw, type=task_post_type(se, se_type))
    except msgspec.ValidationError as exc:
        raise _to_validation_error(exc) from exc
    return _check_endpoint_rules(se, se_type, checked)


# What each endpoint requires (the "required field" notes of its task_post fields in the
# official client's models; YouTube's from its docs pages). `url` (a direct SE URL), where the
# endpoint takes it, stands in for keyword, location and language.
_NEEDS_LOCATION: Final = frozenset(
    {(se, "organic") for se in ("google", "bing", "yahoo", "baidu", "seznam", "youtube")}
    | {("bing", "local_pack")}
    | {("youtube", t) for t in ("video_info", "video_subtitles", "video_comments")}
    | {
        ("google", t)
        for t in (
            "ai_mode autocomplete events finance_explore finance_markets finance_quote "
            "finance_ticker_search images jobs local_finder maps news search_by_image"
        ).split()
    }
)
_NO_LANGUAGE_NEEDED: Final = frozenset({("google", "events")})
_NEEDS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("google", "dataset_info"): ("dataset_id",),
    **{("youtube", t): ("video_id",) for t in ("video_info", "video_subtitles", "video_comments")},
}
_LOCATIONS: Final = ("location_code", "location_name", "location_coordinate")
_LANGUAGES: Final = ("language_code", "language_name")
# The location fields each endpoint that needs a location has (all three on most).
_LOCATIONS_OF: Final = {
    key: tuple(n for n in _LOCATIONS if n in task_field_names(*key)) for key in _NEEDS_LOCATION
}


def _check_endpoint_rules(se: str, se_type: str, task: TaskPostBase) -> TaskPostBase:
    """The rules that differ by endpoint: what it requires, how deep it goes, and which
    task_get variant a postback may carry. They read `keyword` and `image_url` only for
    whether they are set: orchestrator/pipeline/keyword_rows.py relies on that, and runs only a
    struct's `__post_init__` again for each new keyword of a task that passed them."""
    key = (se, se_type)
    names = ENDPOINT_FIELDS.get(key)
    if names is not None:  # the hand-written structs check their own requirements
        for field in _NEEDS.get(key, ("keyword",) if "keyword" in names else ()):
            if getattr(task, field, None) is None and getattr(task, "url", None) is None:
                raise TaskValidationError(field, "required field is missing")
    if key in _NEEDS_LOCATION and getattr(task, "url", None) is None:
        try:
            task.require_one(_LOCATIONS_OF[key])
            if key not in _NO_LANGUAGE_NEEDED:
                task.require_one(_LANGUAGES)
        except ValueError as exc:
            field, _, rule = str(exc).partition(": ")
            raise TaskValidationError(field, rule) from None
    if key == ("google", "ads_search"):
        _check_ads_search(task)
    most = depth_rule(se, se_type, getattr(task, "device", None)).most
    if depth_of(se, se_type, task) > most:
        raise TaskValidationError(depth_field(se, se_type), f"at most {most} on {se}/{se_type}")
    if task.postback_data is not None:
        variants = task_get_variants(se, se_type)
        if task.postback_data not in variants:
            rule = f"{se}/{se_type} answers {' or '.join(variants)}"
            raise TaskValidationError("postback_data", rule)
    return task


def _check_ads_search(task: TaskPostBase) -> None:
    """ads_search needs a target or advertiser ids, and a whole date range or none."""
    if getattr(task, "target", None) is None and getattr(task, "advertiser_ids", None) is None:
        raise TaskValidationError("target", "required unless advertiser_ids is set")
    if (getattr(task, "date_from", None) is None) != (getattr(task, "date_to", None) is None):
        raise TaskValidationError("date_from", "date_from and date_to go together")
