"""What a task costs at task_post (reference section 11), shared by the simulator's charges and
the orchestrator's budget estimates.

Prices change (the docs show 0.0015, 0.00075 and 0.0006 per task over the years), so every
number is a field of `PriceTable`. UNCERTAIN points, modelled as stated and configurable:
pricing of non-organic types after 2025-09 (modelled like organic: the base price per billing
unit of results, 0.75 of it for each further unit), the base price of endpoints whose price
the docs we read do not give (ai_mode, YouTube, finance, ...: the standard base unless
`endpoint_base_usd` says otherwise), and search_by_image paging (one page unless
`max_crawl_pages` asks for more).

Each endpoint's depth rule (default, billing unit, maximum) is from its task_post `depth`
description in the official client's models (docs/endpoint-sources.md).
"""

import math
import re
from typing import Final, NamedTuple

import msgspec

from schemas.requests import TaskPostBase


class DepthRule(NamedTuple):
    """Results a task returns by default, how many one billing unit covers, and the most."""

    default: int
    unit: int
    most: int


_ORGANIC: Final = DepthRule(10, 10, 700)
DEPTH_RULES: Final[dict[tuple[str, str], DepthRule]] = {
    ("google", "organic"): _ORGANIC,
    ("bing", "organic"): _ORGANIC,
    ("baidu", "organic"): _ORGANIC,
    ("naver", "organic"): DepthRule(15, 15, 700),
    ("seznam", "organic"): DepthRule(10, 10, 500),
    ("yahoo", "organic"): DepthRule(6, 6, 700),  # "billed per each SERP" of about 6 results
    ("bing", "local_pack"): DepthRule(5, 5, 200),
    ("google", "maps"): DepthRule(100, 100, 700),
    ("google", "local_finder"): DepthRule(20, 20, 500),
    ("google", "news"): _ORGANIC,
    ("google", "events"): _ORGANIC,
    ("google", "images"): DepthRule(100, 100, 700),
    ("google", "jobs"): DepthRule(10, 10, 200),
    ("google", "ads_search"): DepthRule(40, 40, 700),
    ("google", "dataset_search"): DepthRule(20, 20, 700),
    # UNCERTAIN: the docs we read give no numbers for these two (block_depth / depth)
    ("youtube", "organic"): DepthRule(20, 20, 700),
    ("youtube", "video_comments"): DepthRule(20, 20, 700),
}
# On mobile some types return fewer results a unit (the docs' depth notes).
MOBILE_DEPTH_RULES: Final[dict[tuple[str, str], DepthRule]] = {
    ("google", "local_finder"): DepthRule(10, 10, 350),
    ("google", "maps"): DepthRule(100, 20, 700),
}
_ONE: Final = DepthRule(1, 1, 1)


def depth_rule(se: str, se_type: str, device: str | None = None) -> DepthRule:
    """The depth rule of an endpoint (one result, one unit where it takes no depth)."""
    if device == "mobile" and (se, se_type) in MOBILE_DEPTH_RULES:
        return MOBILE_DEPTH_RULES[se, se_type]
    return DEPTH_RULES.get((se, se_type), _ONE)


def depth_of(se: str, se_type: str, task: object) -> int:
    """The depth a task asks for (its own, else the endpoint's default)."""
    rule = depth_rule(se, se_type, getattr(task, "device", None))
    given = getattr(
        task, "block_depth" if se_type == "organic" and se == "youtube" else "depth", None
    )
    return int(given or rule.default)


_OPERATOR = re.compile(r"(^|\s)(site|intitle|inurl|intext|allinurl|allintitle|filetype|related):")


class PriceTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Prices in USD; defaults are the public prices of a standard task (2025-09-19 update)."""

    base_usd: float = 0.0006
    high_priority_multiplier: float = 2.0
    extra_page_factor: float = 0.75
    operator_multiplier: float = 5.0
    search_by_image_rectangles_multiplier: float = 2.0
    # A base price per endpoint ("google/ai_mode" = 0.0012, ...) where it differs from base_usd.
    endpoint_base_usd: dict[str, float] = {}


def pages_billed(se: str, se_type: str, task: TaskPostBase) -> int:
    """Billing units paid for up front: depth in units, capped by max_crawl_pages."""
    rule = depth_rule(se, se_type, getattr(task, "device", None))
    pages = math.ceil(depth_of(se, se_type, task) / rule.unit)
    crawl = getattr(task, "max_crawl_pages", None)
    return max(1, min(pages, crawl) if crawl else pages)


def task_cost(se: str, se_type: str, task: TaskPostBase, prices: PriceTable) -> float:
    """Charge of one task: base x priority, +extra_page_factor x base per extra unit, extras."""
    base = prices.endpoint_base_usd.get(f"{se}/{se_type}", prices.base_usd)
    base *= prices.high_priority_multiplier if task.priority == 2 else 1.0
    if se_type == "search_by_image":
        crawl = getattr(task, "max_crawl_pages", None) or 1
        cost = base * (1 + prices.extra_page_factor * (crawl - 1))
        if getattr(task, "calculate_rectangles", False):
            cost *= prices.search_by_image_rectangles_multiplier
        return round(cost, 8)
    cost = base * (1 + prices.extra_page_factor * (pages_billed(se, se_type, task) - 1))
    if getattr(task, "calculate_rectangles", False):
        cost += base
    keyword = getattr(task, "keyword", None)
    if keyword and _OPERATOR.search(keyword.lower()):
        cost *= prices.operator_multiplier
    return round(cost, 8)
