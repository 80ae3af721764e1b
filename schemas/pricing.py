"""What a task costs at task_post (reference section 11), shared by the simulator's charges and
the orchestrator's budget estimates.

Prices change (the docs show 0.0015, 0.00075 and 0.0006 per task over the years), so every
number is a field of `PriceTable`. UNCERTAIN points, modelled as stated and configurable:
pricing of non-organic types after 2025-09 (modelled like organic, per page of results), and
search_by_image paging (one page unless `max_crawl_pages` asks for more).
"""

import math
import re
from typing import Final

import msgspec

from schemas.requests import TaskPostBase

DEFAULT_PAGE_SIZE: Final = 10
PAGE_SIZE: Final[dict[str, int]] = {"naver": 15}  # Naver's first page holds 15 results
DEFAULT_DEPTH: Final[dict[str, int]] = {"naver": 15}
_OPERATOR = re.compile(r"(^|\s)(site|intitle|inurl|intext|allinurl|allintitle|filetype|related):")


class PriceTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Prices in USD; defaults are the public prices of a standard task (2025-09-19 update)."""

    base_usd: float = 0.0006
    high_priority_multiplier: float = 2.0
    extra_page_factor: float = 0.75
    operator_multiplier: float = 5.0
    search_by_image_rectangles_multiplier: float = 2.0


def pages_billed(se: str, task: TaskPostBase) -> int:
    """SERP pages paid for up front: depth in pages, capped by max_crawl_pages."""
    depth = getattr(task, "depth", None) or DEFAULT_DEPTH.get(se, DEFAULT_PAGE_SIZE)
    pages = math.ceil(depth / PAGE_SIZE.get(se, DEFAULT_PAGE_SIZE))
    crawl = getattr(task, "max_crawl_pages", None)
    return max(1, min(pages, crawl) if crawl else pages)


def task_cost(se: str, se_type: str, task: TaskPostBase, prices: PriceTable) -> float:
    """Charge of one task: base x priority, +extra_page_factor x base per extra page, extras."""
    base = prices.base_usd * (prices.high_priority_multiplier if task.priority == 2 else 1.0)
    if se_type == "search_by_image":
        crawl = getattr(task, "max_crawl_pages", None) or 1
        cost = base * (1 + prices.extra_page_factor * (crawl - 1))
        if getattr(task, "calculate_rectangles", False):
            cost *= prices.search_by_image_rectangles_multiplier
        return round(cost, 8)
    cost = base * (1 + prices.extra_page_factor * (pages_billed(se, task) - 1))
    if getattr(task, "calculate_rectangles", False):
        cost += base
    keyword = getattr(task, "keyword", None)
    if keyword and _OPERATOR.search(keyword.lower()):
        cost *= prices.operator_multiplier
    return round(cost, 8)
