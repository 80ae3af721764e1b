"""task_post validation names the field and the rule, as the API's 40501 would."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.pricing import PriceTable, task_cost
from schemas.requests import TaskValidationError, validate_task

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


def test_other_endpoints_pass_unknown_fields_but_check_common_rules() -> None:
    """bing/organic tasks keep their own fields; the common limits still apply."""
    validate_task("bing", "organic", {"keyword": "k", "location_code": 2840, "anything": 1})
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
