"""The wire structs decode real and synthetic answers losslessly and never break on news."""

import json
from typing import Any

import msgspec
import pytest

import schemas
from schemas.items import GenericItem, LocalPackItem, OrganicItem, PaidItem
from tests.conftest import FIXTURES

NAVER = (FIXTURES / "naver_organic_task_get_advanced.json").read_bytes()


def contained(original: Any, reencoded: Any, path: str = "$") -> list[str]:
    """Differences where `reencoded` lost or changed something of `original`."""
    problems: list[str] = []
    if isinstance(original, dict):
        if not isinstance(reencoded, dict):
            return [f"{path}: not an object"]
        for key, value in original.items():
            if key not in reencoded:
                problems.append(f"{path}.{key}: dropped")
            else:
                problems += contained(value, reencoded[key], f"{path}.{key}")
        problems += [
            f"{path}.{k}: invented"
            for k in reencoded
            if k not in original and reencoded[k] is not None
        ]
    elif isinstance(original, list):
        if not isinstance(reencoded, list) or len(original) != len(reencoded):
            return [f"{path}: list changed"]
        for n, (a, b) in enumerate(zip(original, reencoded, strict=True)):
            problems += contained(a, b, f"{path}[{n}]")
    elif original != reencoded:
        problems.append(f"{path}: {original!r} != {reencoded!r}")
    return problems


def test_naver_seed_decodes_to_typed_items_with_their_values() -> None:
    """The real Naver answer of the docs decodes into typed items carrying the right values."""
    response = schemas.decode_task_get(NAVER, "naver", "organic")
    assert response.status_code == 20000
    task = response.tasks[0]
    assert task.id == "03171324-1535-0066-0000-770617fdc9a8"
    assert task.data["tag"] == "some_string_123"
    result = task.result[0]
    assert result.keyword == "iphone"
    assert result.se_domain == "search.naver.com"
    assert result.items_count == 117 and result.pages_count == 1
    assert result.item_types == [
        "organic",
        "paid",
        "related_searches",
        "images",
        "video",
        "local_pack",
        "map",
    ]
    kinds = [type(item).__name__ for item in result.items]
    assert "GenericItem" not in kinds
    organic = result.items[0]
    assert isinstance(organic, OrganicItem)
    assert organic.domain == "www.apple.com"
    assert organic.description.startswith("세상에서 가장 강력한 개인용 기기")
    assert [link.title for link in organic.links] == ["구입", "제품 사양", "액세서리", "iOS"]
    paid = result.items[1]
    assert isinstance(paid, PaidItem) and paid.title == "IPHONE LG헬로모바일"
    places = [i for i in result.items if isinstance(i, LocalPackItem)]
    assert places[0].cid == "21607745"


def test_naver_seed_reencodes_without_losing_a_field() -> None:
    """to_builtins of the typed decode gives back every field and value of the seed."""
    decoded = msgspec.to_builtins(schemas.decode_task_get(NAVER, "naver", "organic"))
    assert contained(json.loads(NAVER), decoded) == []


def _answer(items: list[dict[str, Any]], se: str = "google", se_type: str = "organic") -> bytes:
    result = {"keyword": "k", "type": se_type, "items_count": len(items), "items": items}
    task = {"id": "x", "status_code": 20000, "result_count": 1, "result": [result]}
    return json.dumps({"status_code": 20000, "tasks_count": 1, "tasks": [task]}).encode()


def test_unknown_item_type_becomes_a_generic_item_with_its_raw_json() -> None:
    """A type the structs do not know keeps its type, common fields and every raw field."""
    new = {
        "type": "holographic_answer",
        "rank_group": 1,
        "rank_absolute": 3,
        "page": 1,
        "position": "left",
        "xpath": "/html[1]",
        "hologram": {"depth": 3},
    }
    known = {"type": "organic", "rank_group": 1, "rank_absolute": 1, "domain": "a.com"}
    items = (
        schemas.decode_task_get(_answer([known, new]), "google", "organic").tasks[0].result[0].items
    )
    generic = items[1]
    assert isinstance(generic, GenericItem)
    assert (generic.type, generic.rank_absolute, generic.xpath) == (
        "holographic_answer",
        3,
        "/html[1]",
    )
    assert msgspec.json.decode(generic.raw) == new
    assert items[0].domain == "a.com"


def test_new_fields_and_changed_types_never_fail_a_decode() -> None:
    """An unknown field is ignored; a known type whose field changed type falls back to generic."""
    extra = {"type": "organic", "rank_group": 1, "domain": "a.com", "brand_new_field": [1, 2]}
    changed = {"type": "organic", "rank_group": 2, "domain": {"now": "an object"}}
    items = (
        schemas.decode_task_get(_answer([extra, changed]), "google", "organic")
        .tasks[0]
        .result[0]
        .items
    )
    assert items[0].domain == "a.com"
    assert isinstance(items[1], GenericItem)
    assert msgspec.json.decode(items[1].raw)["domain"] == {"now": "an object"}


def test_an_item_type_the_endpoint_does_not_have_is_kept_as_a_generic_item() -> None:
    """An `organic` item in a google/maps answer (maps has maps_search and maps_paid_item
    only) is kept whole as a generic item; the place beside it is typed."""
    items = [
        {"type": "organic", "rank_group": 1, "rank_absolute": 1, "url": "https://b"},
        {"type": "maps_search", "rank_group": 1, "rank_absolute": 2, "cid": "123"},
    ]
    answer = _answer(items, "google", "maps")
    result = schemas.decode_task_get(answer, "google", "maps").tasks[0].result[0]
    assert isinstance(result.items[0], GenericItem)
    assert msgspec.json.decode(result.items[0].raw)["url"] == "https://b"
    assert type(result.items[1]).__name__ == "MapsSearchItem" and result.items[1].cid == "123"


def test_search_by_image_keeps_image_url_and_types_its_items() -> None:
    """search_by_image results carry image_url and typed organic/images items."""
    raw = json.loads(
        _answer(
            [
                {
                    "type": "images",
                    "items": [{"type": "images_element", "url": "u", "image_url": "i"}],
                }
            ],
            se_type="search_by_image",
        )
    )
    raw["tasks"][0]["result"][0]["image_url"] = "https://img/x.png"
    result = (
        schemas.decode_task_get(json.dumps(raw).encode(), "google", "search_by_image")
        .tasks[0]
        .result[0]
    )
    assert result.image_url == "https://img/x.png"
    assert result.items[0].items[0].image_url == "i"


def test_task_post_seed_answer_decodes() -> None:
    """The docs' task_post answer gives the id, 20100 and the cost of the task."""
    raw = (FIXTURES / "google_search_by_image_task_post.json").read_bytes()
    response = schemas.decode_task_post(raw)
    task = response.tasks[0]
    assert (task.id, task.status_code, task.cost) == (
        "09291721-1535-0066-0000-dbd5370d3547",
        20100,
        0.0015,
    )
    assert task.result is None and task.data["priority"] == 2


def test_auth_failure_envelope_with_null_tasks_decodes() -> None:
    """A 401 body (tasks: null) decodes with every decoder."""
    raw = b'{"status_code": 40100, "status_message": "Unauthorized", "cost": 0, "tasks": null}'
    for response in (
        schemas.decode_task_post(raw),
        schemas.decode_tasks_ready(raw),
        schemas.decode_id_list(raw),
        schemas.decode_task_get(raw, "google", "organic"),
    ):
        assert response.status_code == 40100 and response.tasks is None


def test_tasks_ready_and_id_list_items_decode() -> None:
    """tasks_ready and id_list result items decode with their documented fields."""
    ready = {
        "status_code": 20000,
        "tasks": [
            {
                "id": "r",
                "status_code": 20000,
                "result": [
                    {
                        "id": "11081554-0696-0066-0000-27e68ec15871",
                        "se": "google",
                        "se_type": "organic",
                        "date_posted": "2019-11-08 13:54:43 +00:00",
                        "tag": "",
                        "endpoint_regular": None,
                        "endpoint_advanced": "/v3/serp/google/organic/task_get/advanced/x",
                        "endpoint_html": None,
                    }
                ],
            }
        ],
    }
    item = schemas.decode_tasks_ready(json.dumps(ready).encode()).tasks[0].result[0]
    assert (item.se_type, item.tag, item.endpoint_regular) == ("organic", "", None)
    ids = {
        "status_code": 20000,
        "tasks": [
            {
                "id": "l",
                "status_code": 20000,
                "result": [
                    {
                        "id": "a",
                        "datetime_posted": "2026-01-01 00:00:00 +00:00",
                        "datetime_done": None,
                        "status": "in_progress",
                        "cost": 0.0006,
                        "metadata": {"tag": "job:1"},
                    }
                ],
            }
        ],
    }
    listed = schemas.decode_id_list(json.dumps(ids).encode()).tasks[0].result[0]
    assert listed.metadata == {"tag": "job:1"} and listed.cost == 0.0006


def test_malformed_json_raises_msgspec_decode_error() -> None:
    """Garbage is a decode error, not a half-filled struct."""
    with pytest.raises(msgspec.DecodeError):
        schemas.decode_task_post(b'{"status_code": 200')


def test_an_html_answer_decodes_its_pages_as_generic_items() -> None:
    """task_get/html items have no `type` ({page, date, html}): kept whole, never a failure."""
    page = {"page": 1, "date": "2026-11-23 10:00:00 +00:00", "html": "<html></html>"}
    decoded = schemas.decode_task_get(_answer([page]), "google", "organic")
    items = decoded.tasks[0].result[0].items
    assert items is not None and len(items) == 1
    item = items[0]
    assert isinstance(item, GenericItem) and item.type == ""
    assert msgspec.json.decode(item.raw) == page
