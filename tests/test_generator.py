"""The simulator's results have the shapes the schemas type, so benchmarks decode real shapes."""

from collections import Counter
from typing import Any

import msgspec
import pytest

import schemas
from orchestrator.simulator.generator import generate_result
from schemas.catalogue import SERP_ENDPOINTS
from schemas.google import GoogleOrganicItem
from schemas.items import GenericItem
from tests.test_schemas import contained

UNTYPED = {"answer_box"}  # generated on purpose so consumers meet generic items
PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("google", "organic"): {
        "keyword": "iphone",
        "location_code": 2840,
        "language_code": "en",
        "depth": 100,
    },
    ("google", "search_by_image"): {
        "image_url": "https://example.com/a.jpg",
        "location_code": 2840,
        "language_code": "en",
    },
    ("naver", "organic"): {"keyword": "아이폰", "depth": 45},
}
_WEB: dict[str, Any] = {"keyword": "pizza near me", "location_code": 2840, "language_code": "en"}
_VIDEO: dict[str, Any] = {"video_id": "dQw4w9WgXcQ", "location_code": 2840, "language_code": "en"}
_OWN: dict[tuple[str, str], dict[str, Any]] = {
    ("google", "dataset_info"): {"dataset_id": "L2cvMTFq", "language_code": "en"},
    ("google", "ads_search"): {"target": "example.com", "location_code": 2840},
    ("google", "ads_advertisers"): {"keyword": "pizza", "location_code": 2840},
    ("google", "dataset_search"): {"keyword": "pizza sales", "language_code": "en"},
    ("google", "finance_explore"): {"location_code": 2840, "language_code": "en"},
    ("google", "finance_markets"): {"location_code": 2840, "language_code": "en"},
}


def _params(key: tuple[str, str]) -> dict[str, Any]:
    if key in PARAMS or key in _OWN:
        return PARAMS.get(key) or _OWN[key]
    return _VIDEO if key[0] == "youtube" and key[1] != "organic" else _WEB


ALL_PARAMS = {key: _params(key) for key in sorted(SERP_ENDPOINTS)}


@pytest.mark.parametrize(("se", "se_type"), list(ALL_PARAMS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_results_decode_typed_and_losslessly(se: str, se_type: str, seed: int) -> None:
    """Each generated item of every endpoint decodes to its typed struct and re-encodes whole,
    the result's own fields included."""
    params = ALL_PARAMS[se, se_type]
    result = generate_result(seed, se, se_type, params, "2026-11-22 10:00:00 +00:00")
    task = {"id": "x", "status_code": 20000, "result_count": 1, "result": result}
    raw = msgspec.json.encode({"status_code": 20000, "tasks_count": 1, "tasks": [task]})
    decoded = schemas.decode_task_get(raw, se, se_type)
    items = decoded.tasks[0].result[0].items
    generic = {i.type for i in items if isinstance(i, GenericItem)}
    assert generic <= UNTYPED
    if se == "google":  # Google's own subclasses, with their extra fields, not the shared base
        assert all(
            isinstance(i, GoogleOrganicItem)
            for i in items
            if type(i).__name__.endswith("OrganicItem")
        )
    typed = [msgspec.to_builtins(i) for i in items if not isinstance(i, GenericItem)]
    original = [i for i in result[0]["items"] if i["type"] not in UNTYPED]
    assert contained(original, typed) == []
    raws = [msgspec.json.decode(i.raw) for i in items if isinstance(i, GenericItem)]
    assert raws == [i for i in result[0]["items"] if i["type"] in UNTYPED]
    head = msgspec.json.decode(msgspec.json.encode(decoded.tasks[0].result[0]))
    head.pop("items")
    assert contained({k: v for k, v in result[0].items() if k != "items"}, head) == []


def test_google_depth_100_is_about_100_items_and_tens_of_kb() -> None:
    """A Google organic SERP at depth 100 has ~100 organic items and weighs 50-400 KB."""
    result = generate_result(
        0, "google", "organic", PARAMS["google", "organic"], "2026-11-22 10:00:00 +00:00"
    )
    size = len(msgspec.json.encode(result))
    organic = [i for i in result[0]["items"] if i["type"] == "organic"]
    assert 90 <= len(organic) <= 100 and 50_000 < size < 400_000
    assert result[0]["items_count"] == len(result[0]["items"])
    assert {i["page"] for i in organic} == set(range(1, 11))


def test_one_unknown_item_does_not_change_how_the_known_ones_decode() -> None:
    """The one-pass decode (all items known) and the item-by-item fallback agree."""
    params = PARAMS["google", "organic"]
    result = generate_result(5, "google", "organic", params, "2026-11-22 10:00:00 +00:00")
    result[0]["items"] = [i for i in result[0]["items"] if i["type"] not in UNTYPED]
    task = {"id": "x", "status_code": 20000, "result_count": 1, "result": result}
    known = msgspec.json.encode({"status_code": 20000, "tasks_count": 1, "tasks": [task]})
    result[0]["items"].append({"type": "brand_new_widget", "rank_group": 1, "rank_absolute": 99})
    mixed = msgspec.json.encode({"status_code": 20000, "tasks_count": 1, "tasks": [task]})
    fast = schemas.decode_task_get(known, "google", "organic").tasks[0].result[0].items
    slow = schemas.decode_task_get(mixed, "google", "organic").tasks[0].result[0].items
    assert fast is not None and slow is not None
    assert len(fast) > 50 and slow[:-1] == fast
    assert isinstance(slow[-1], GenericItem) and slow[-1].type == "brand_new_widget"


def _organic_ranks(day: str) -> dict[str, int]:
    params = {"keyword": "running shoes", "location_code": 2840, "language_code": "en"}
    result = generate_result(0, "google", "organic", {**params, "depth": 100}, day)[0]
    return {i["url"]: i["rank_group"] for i in result["items"] if i["type"] == "organic"}


def test_rankings_move_between_days_as_real_serps_do() -> None:
    """Same day, same SERP; the next day mostly the same ranks with small moves; weeks apart,
    bigger moves and URLs that came or went."""
    day1 = _organic_ranks("2026-11-22 10:00:00 +00:00")
    assert _organic_ranks("2026-11-22 18:30:00 +00:00") == day1  # the day decides, not the hour
    day2 = _organic_ranks("2026-11-23 10:00:00 +00:00")
    shared = [url for url in day1 if url in day2]
    assert len(shared) >= 0.9 * len(day1)
    moves = [abs(day1[url] - day2[url]) for url in shared]
    assert sum(m == 0 for m in moves) >= 0.4 * len(moves)  # mostly stable
    assert 0 < sum(m > 0 for m in moves)  # but not frozen
    assert sum(m > 5 for m in moves) <= 0.1 * len(moves)  # big jumps are rare
    later = _organic_ranks("2026-12-20 10:00:00 +00:00")
    assert set(later) != set(day1)  # new and lost URLs
    assert sum(later[u] != day1[u] for u in later if u in day1) > len(moves) // 2


def test_serps_draw_from_a_long_tail_of_domains_as_real_ones_do() -> None:
    """A top 100 holds 80 to 100 distinct domains and a top 10 at most two results of one
    (it was 15 domains repeating, one with up to 21 of 100 slots); keywords differ in their
    sites; a user's own domain (`simulate --domains`) shows up in about half the SERPs."""
    own = ("www.client-shop.com",)
    day = "2026-12-03 10:00:00 +00:00"
    distinct, crowded, with_own, sites = [], 0, 0, []
    for i in range(40):
        params = {"keyword": f"running shoes {i}", "location_code": 2840, "depth": 100}
        result = generate_result(0, "google", "organic", params, day, own)[0]
        domains = [item["domain"] for item in result["items"] if item["type"] == "organic"]
        distinct.append(len(set(domains)))
        crowded += max(Counter(domains[:10]).values()) > 2
        with_own += own[0] in domains
        sites.append(set(domains))
    assert 80 <= min(distinct) and max(distinct) <= 100
    assert crowded == 0
    assert 10 <= with_own <= 30
    assert len(sites[0] & sites[1]) < 30  # two keywords share few sites
