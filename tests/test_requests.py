"""task_post validation names the field and the rule, as the API's 40501 would."""

from typing import Any, Literal, get_args, get_origin

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.catalogue import task_get_variants
from schemas.pricing import PriceTable, task_cost
from schemas.requests import TASK_POST_TYPES, TaskValidationError, decode_task, validate_task

GOOD = {"keyword": "running shoes", "location_code": 2840, "language_code": "en"}


@pytest.mark.parametrize(
    ("se", "se_type", "task", "field", "rule"),
    [
        ("google", "organic", {**GOOD, "keyword": "x" * 701}, "keyword", "length <= 700"),
        ("google", "organic", {**GOOD, "tag": "t" * 256}, "tag", "length <= 255"),
        ("google", "organic", {**GOOD, "depth": 701}, "depth", "<= 700"),
        ("google", "organic", {**GOOD, "max_crawl_pages": 101}, "max_crawl_pages", "<= 100"),
        ("google", "organic", {**GOOD, "priority": 3}, "priority", "Invalid enum value 3"),
        ("google", "organic", {**GOOD, "location_name": "London"}, "location_code", "exactly one"),
        (
            "google",
            "organic",
            {"keyword": "k", "language_code": "en"},
            "location_code",
            "exactly one",
        ),
        (
            "google",
            "organic",
            {"keyword": "k", "location_code": 2840},
            "language_code",
            "exactly one",
        ),
        (
            "google",
            "organic",
            {"location_code": 2840, "language_code": "en"},
            "keyword",
            "required",
        ),
        ("google", "organic", {**GOOD, "postback_url": "http://x"}, "postback_data", "required"),
        (
            "google",
            "search_by_image",
            {"location_code": 2840, "language_code": "en"},
            "image_url",
            "missing",
        ),
        (
            "naver",
            "organic",
            {"keyword": "k", "location_code": 2840},
            "location_code",
            "unknown field",
        ),
        ("google", "organic", {**GOOD, "lanuage_name": "x"}, "lanuage_name", "unknown field"),
    ],
)
def test_invalid_tasks_name_their_field(
    se: str, se_type: str, task: dict[str, Any], field: str, rule: str
) -> None:
    """Each documented limit is enforced and reported with the field that breaks it."""
    with pytest.raises(TaskValidationError) as caught:
        validate_task(se, se_type, task)
    assert caught.value.field == field
    assert rule in caught.value.rule
    assert str(caught.value).startswith(f"{field}: ")


def test_unknown_field_maps_to_40506_and_invalid_value_to_40501() -> None:
    """The code a rejection carries is the one the API answers."""
    with pytest.raises(TaskValidationError) as unknown:
        validate_task("google", "organic", {**GOOD, "colour": "red"})
    with pytest.raises(TaskValidationError) as invalid:
        validate_task("google", "organic", {**GOOD, "depth": 0})
    assert (unknown.value.code, invalid.value.code) == (40506, 40501)


def test_csv_strings_are_coerced_only_when_asked() -> None:
    """A CSV row's "2840" is a valid location_code; in JSON it is a type error."""
    row = {"keyword": "k", "location_code": "2840", "language_code": "en", "depth": "100"}
    task = validate_task("google", "organic", row, from_strings=True)
    assert task.location_code == 2840 and task.depth == 100
    with pytest.raises(TaskValidationError):
        validate_task("google", "organic", row)


# A value each field's rule accepts, to give every documented field of an endpoint at once.
SAMPLE_VALUES = {
    "stop_crawl_on_match": [{"match_value": "example.com", "match_type": "domain"}],
    "location_coordinate": "52.6178549,-155.352142,20",
    "device": "desktop",
    "os": "windows",
    "priority": 2,
    "postback_data": "advanced",
    "browser_screen_width": 1920,
    "browser_screen_height": 1080,
    "browser_screen_resolution_ratio": 1.5,
    "min_rating": 4.5,
    "time_filter": "tuesday;18",
    "location_radius": "50",
    "people_also_ask_click_depth": 2,
    "target_search_mode": "any",
}


def _first_literal(kind: object) -> object:
    """The first value a Literal field allows ([it] for a list of them), else None."""
    origin = get_origin(kind)
    if origin is Literal:
        return get_args(kind)[0]
    for arg in get_args(kind):
        found = _first_literal(arg)
        if found is not None:
            return [found] if origin is list else found
    return None


def _sample(name: str, kind: object) -> object:
    if name in SAMPLE_VALUES:
        return SAMPLE_VALUES[name]
    allowed = _first_literal(kind)
    if allowed is not None:
        return allowed
    text = str(kind)
    if "bool" in text:
        return True
    if "list[str]" in text:
        return ["a"]
    if "int" in text:
        return 3
    if "float" in text:
        return 1.0
    return "https://example.com/x" if name.endswith("url") else "x"


@pytest.mark.parametrize("endpoint", sorted(TASK_POST_TYPES))
def test_every_field_an_endpoint_documents_reaches_the_posted_body(
    endpoint: tuple[str, str],
) -> None:
    """Nothing a user gives is dropped: on every SERP endpoint, each of its fields, given
    alone with what the endpoint requires, is in the encoded body; an unknown one is refused
    by its name with the API's 40506 (the maps defect: location and device were dropped)."""
    se, se_type = endpoint
    fields = msgspec.structs.fields(TASK_POST_TYPES[endpoint])
    for field in fields:
        if field.name in ("url", "location_name", "location_coordinate", "language_name"):
            continue  # alternatives to keyword/location_code/language_code, tried below
        task = {f.name: _sample(f.name, f.type) for f in fields if f.name in REQUIRED}
        task[field.name] = _sample(field.name, field.type)
        if field.name in ("date_from", "date_to"):  # a range is given whole
            task.update(date_from="2026-01-01", date_to="2026-02-01")
        if field.name in ("postback_url", "postback_data"):
            task["postback_data"] = task_get_variants(se, se_type)[0]
        body = msgspec.json.decode(msgspec.json.encode(validate_task(se, se_type, task)))
        assert body[field.name] == task[field.name], (endpoint, field.name)
    with pytest.raises(TaskValidationError) as caught:
        validate_task(se, se_type, {"notes": "x"})
    assert (caught.value.field, caught.value.code) == ("notes", 40506)


REQUIRED = {
    "keyword",
    "location_code",
    "language_code",
    "image_url",
    "video_id",
    "dataset_id",
    "target",
}


def test_maps_rows_from_a_csv_keep_their_market() -> None:
    """The reported defect: a maps CSV row's location, language and device were dropped."""
    row = {"keyword": "pizza near me", "location_code": "2276", "language_code": "de"}
    task = validate_task("google", "maps", {**row, "device": "mobile"}, from_strings=True)
    body = msgspec.json.decode(msgspec.json.encode(task))
    assert body == {
        "keyword": "pizza near me",
        "location_code": 2276,
        "language_code": "de",
        "device": "mobile",
    }
    with pytest.raises(TaskValidationError):
        validate_task("bing", "organic", {"keyword": "k", "priority": 5})


@given(st.text(min_size=1, max_size=700))
def test_any_keyword_up_to_700_chars_is_valid(keyword: str) -> None:
    """The keyword limit is 700 characters, whatever they are."""
    validate_task("naver", "organic", {"keyword": keyword})


@given(st.integers(min_value=1, max_value=700), st.sampled_from([1, 2]))
def test_cost_grows_by_three_quarters_of_base_per_extra_page(depth: int, priority: int) -> None:
    """Organic cost = base x priority x (1 + 0.75 x extra pages of 10 results)."""
    task = validate_task("google", "organic", {**GOOD, "depth": depth, "priority": priority})
    base = 0.0006 * (2 if priority == 2 else 1)
    pages = -(-depth // 10)
    assert task_cost("google", "organic", task, PriceTable()) == pytest.approx(
        base * (1 + 0.75 * (pages - 1))
    )


def test_naver_pages_hold_15_results_and_operators_cost_five_times() -> None:
    """Naver bills per 15 results; a site: operator multiplies the charge by 5."""
    prices = PriceTable()
    naver = validate_task("naver", "organic", {"keyword": "k", "depth": 30})
    assert task_cost("naver", "organic", naver, prices) == pytest.approx(0.0006 * 1.75)
    site = validate_task("google", "organic", {**GOOD, "keyword": "site:example.com shoes"})
    assert task_cost("google", "organic", site, prices) == pytest.approx(0.003)


_MARKET = {"location_code": 2840, "language_code": "en"}


@pytest.mark.parametrize(
    ("se", "se_type", "task", "field"),
    [
        ("google", "maps", {"keyword": "pizza", "language_code": "en"}, "location_code"),
        ("google", "news", {"keyword": "pizza", "location_code": 2840}, "language_code"),
        ("bing", "organic", {"keyword": "pizza", "language_code": "en"}, "location_code"),
        ("youtube", "video_info", _MARKET, "video_id"),
        ("google", "dataset_info", {"language_code": "en"}, "dataset_id"),
        ("google", "ads_search", {"location_code": 2840}, "target"),
        ("google", "ads_search", {"target": "a.com", "date_from": "2026-01-01"}, "date_from"),
        ("google", "jobs", {"keyword": "nurse", **_MARKET, "depth": 201}, "depth"),
        (
            "google",
            "jobs",
            {"keyword": "x", **_MARKET, "employment_type": ["full"]},
            "employment_type[0]",
        ),
        (
            "google",
            "local_finder",
            {"keyword": "x", **_MARKET, "time_filter": "noon"},
            "time_filter",
        ),
        ("google", "local_finder", {"keyword": "x", **_MARKET, "min_rating": 5}, "min_rating"),
        (
            "google",
            "events",
            {"keyword": "x", "location_code": 2840, "date_range": "yesterday"},
            "date_range",
        ),
        ("google", "finance_quote", {"keyword": "AAPL", **_MARKET, "window": "2D"}, "window"),
        ("seznam", "organic", {"keyword": "x", **_MARKET, "depth": 501}, "depth"),
        (
            "google",
            "local_finder",
            {"keyword": "x", **_MARKET, "device": "mobile", "depth": 351},
            "depth",
        ),
        (
            "google",
            "maps",
            {"keyword": "x", **_MARKET, "postback_url": "https://h/p", "postback_data": "html"},
            "postback_data",
        ),
    ],
)
def test_each_endpoint_refuses_what_its_docs_refuse(
    se: str, se_type: str, task: dict[str, Any], field: str
) -> None:
    """Per-endpoint rules: location and language where the endpoint needs them, its own
    required ids, its depth limit (by device), and only the task_get variants it has."""
    with pytest.raises(TaskValidationError) as caught:
        validate_task(se, se_type, task)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("se", "se_type", "task"),
    [
        ("google", "events", {"keyword": "concerts", "location_code": 2840}),  # no language
        ("google", "maps", {"url": "https://www.google.com/maps/search/pizza"}),
        ("google", "local_finder", {"keyword": "x", **_MARKET, "depth": 500}),
        ("google", "ads_search", {"advertiser_ids": ["AR1"]}),
        (
            "bing",
            "local_pack",
            {"keyword": "x", **_MARKET, "postback_url": "https://h/p", "postback_data": "regular"},
        ),
    ],
)
def test_what_an_endpoint_allows_passes(se: str, se_type: str, task: dict[str, Any]) -> None:
    validate_task(se, se_type, task)


def test_each_endpoint_bills_by_its_own_depth_rule() -> None:
    """Maps bills per 100 results, local finder per 20 (10 on mobile), Naver per 15; an
    endpoint's own base price applies where the config gives one; AI Mode costs twice the base
    ($0.0012 a page on its pricing page; 0.0024 at high priority), whatever the account's base."""
    prices = PriceTable()
    maps = validate_task("google", "maps", {"keyword": "x", **_MARKET, "depth": 200})
    assert task_cost("google", "maps", maps, prices) == pytest.approx(0.0006 * 1.75)
    finder = {"keyword": "x", **_MARKET, "depth": 20}
    desktop = validate_task("google", "local_finder", finder)
    mobile = validate_task("google", "local_finder", {**finder, "device": "mobile"})
    assert task_cost("google", "local_finder", desktop, prices) == pytest.approx(0.0006)
    assert task_cost("google", "local_finder", mobile, prices) == pytest.approx(0.0006 * 1.75)
    naver = validate_task("naver", "organic", {"keyword": "x", "depth": 30})
    assert task_cost("naver", "organic", naver, prices) == pytest.approx(0.0006 * 1.75)
    ai = validate_task("google", "ai_mode", {"keyword": "x", **_MARKET})
    own = PriceTable(endpoint_base_usd={"google/ai_mode": 0.002})
    assert task_cost("google", "ai_mode", ai, own) == pytest.approx(0.002)
    assert task_cost("google", "ai_mode", ai, prices) == pytest.approx(0.0012)
    high = validate_task("google", "ai_mode", {"keyword": "x", **_MARKET, "priority": 2})
    assert task_cost("google", "ai_mode", high, prices) == pytest.approx(0.0024)
    discounted = PriceTable(base_usd=0.0005)
    assert task_cost("google", "ai_mode", ai, discounted) == pytest.approx(0.001)


def test_finance_options_the_docs_bill_double_cost_double() -> None:
    prices = PriceTable()
    quote = {"keyword": "AAPL", **_MARKET}
    day = validate_task("google", "finance_quote", {**quote, "window": "1D"})
    year = validate_task("google", "finance_quote", {**quote, "window": "1Y"})
    assert task_cost("google", "finance_quote", day, prices) == pytest.approx(0.0006)
    assert task_cost("google", "finance_quote", year, prices) == pytest.approx(0.0012)
    world = validate_task("google", "finance_explore", {**_MARKET, "news_type": "world_markets"})
    assert task_cost("google", "finance_explore", world, prices) == pytest.approx(0.0012)


@given(
    endpoint=st.sampled_from(
        [
            ("google", "organic"),
            ("google", "maps"),
            ("google", "local_finder"),
            ("naver", "organic"),
        ]
    ),
    depth=st.one_of(st.none(), st.integers(1, 200)),
    priority=st.sampled_from([None, 1, 2]),
    device=st.sampled_from([None, "desktop", "mobile"]),
    operator=st.booleans(),
)
def test_the_cost_cache_prices_every_task_as_task_cost_does(
    endpoint: tuple[str, str],
    depth: int | None,
    priority: int | None,
    device: str | None,
    operator: bool,
) -> None:
    """Loading prices each input through CostCache (a dict lookup); it must agree with
    task_cost on every combination, tasks priced before it included."""
    from schemas.pricing import CostCache

    se, se_type = endpoint
    cache = CostCache(se, se_type, PriceTable())
    given: dict[str, Any] = {"keyword": "site:a.com x" if operator else "x"}
    if se != "naver":
        given.update(_MARKET)
    for name, value in (("depth", depth), ("priority", priority), ("device", device)):
        if value is not None:
            given[name] = value
    try:
        task = validate_task(se, se_type, given)
    except TaskValidationError:
        return  # a depth past this endpoint's limit on this device
    plain = validate_task(se, se_type, {**given, "keyword": "plain words"})
    assert cache.cost(plain) == task_cost(se, se_type, plain, PriceTable())
    assert cache.cost(task) == task_cost(se, se_type, task, PriceTable())


@pytest.mark.parametrize(
    ("se_type", "task", "message"),
    [
        (
            "organic",
            {"keyword": "a", "language_code": "en"},
            "location_code: exactly one of location_code, location_name, location_coordinate"
            " is required (got none)",
        ),
        (
            "organic",
            {
                "keyword": "a",
                "location_code": 2840,
                "location_name": "France",
                "language_code": "en",
            },
            "location_code: exactly one of location_code, location_name, location_coordinate"
            " is required (got location_code, location_name)",
        ),
        (
            "search_by_image",
            {"image_url": "https://example.com/a.png", "location_code": 2840},
            "language_code: exactly one of language_code, language_name is required (got none)",
        ),
        ("organic", {"keyword": "cache:a"}, "keyword: the cache: operator is not supported"),
    ],
)
def test_a_task_needs_one_location_and_one_language_and_says_which(
    se_type: str, task: dict[str, object], message: str
) -> None:
    """The hand-written structs (Google organic, search by image) give the same refusals as
    every other endpoint, whether the task comes as fields or as JSON."""
    with pytest.raises(TaskValidationError) as raised:
        validate_task("google", se_type, task)
    assert str(raised.value) == message
    with pytest.raises(TaskValidationError) as decoded:
        decode_task("google", se_type, msgspec.json.encode(task))
    assert str(decoded.value) == message
