"""What a task costs at task_post (reference section 11), shared by the simulator's charges and
the orchestrator's budget estimates.

Prices change (the docs show 0.0015, 0.00075 and 0.0006 per task over the years), so every
number is a field of `PriceTable`. UNCERTAIN points, modelled as stated and configurable:
pricing of non-organic types after 2025-09 (modelled like organic: the base price per billing
unit of results, 0.75 of it for each further unit), the base price of endpoints whose price
the docs we read do not give (YouTube and the others: the standard base unless
`endpoint_base_usd` says otherwise), and search_by_image paging (one page unless
`max_crawl_pages` asks for more). Google AI Mode costs twice the base: its pricing page
(dataforseo.com/pricing/serp/google-ai-mode-serp-api) gives $0.0012 a page in the standard queue,
$0.0024 at high priority, where organic's is $0.0006; the finance endpoints' page says "the base
price of SERP API".
"""

import math
import re
from operator import attrgetter
from typing import Final

import msgspec

from schemas.depths import depth_of, depth_rule
from schemas.requests import TaskPostBase, task_field_names

_OPERATOR = re.compile(r"(^|\s)(site|intitle|inurl|intext|allinurl|allintitle|filetype|related):")


class PriceTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Prices in USD; defaults are the public prices of a standard task (2025-09-19 update)."""

    base_usd: float = 0.0006
    high_priority_multiplier: float = 2.0
    extra_page_factor: float = 0.75
    operator_multiplier: float = 5.0
    search_by_image_rectangles_multiplier: float = 2.0
    # A base price per endpoint ("google/news" = 0.0009, ...) where it differs from base_usd
    # (google/ai_mode is 2 x base_usd unless named here: ENDPOINT_BASE_FACTOR).
    endpoint_base_usd: dict[str, float] = {}


# Endpoints whose base price is a multiple of the standard one (pricing pages), unless the
# table's endpoint_base_usd names their price.
ENDPOINT_BASE_FACTOR: Final[dict[str, float]] = {"google/ai_mode": 2.0}


def pages_billed(se: str, se_type: str, task: TaskPostBase) -> int:
    """Billing units paid for up front: depth in units, capped by max_crawl_pages."""
    rule = depth_rule(se, se_type, getattr(task, "device", None))
    pages = math.ceil(depth_of(se, se_type, task) / rule.unit)
    crawl = getattr(task, "max_crawl_pages", None)
    return max(1, min(pages, crawl) if crawl else pages)


def task_cost(se: str, se_type: str, task: TaskPostBase, prices: PriceTable) -> float:
    """Charge of one task: base x priority, +extra_page_factor x base per extra unit, extras."""
    endpoint = f"{se}/{se_type}"
    base = prices.endpoint_base_usd.get(
        endpoint, prices.base_usd * ENDPOINT_BASE_FACTOR.get(endpoint, 1.0)
    )
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
    # finance: news other than top stories, and a quote graph longer than a day, cost double
    news, window = getattr(task, "news_type", None), getattr(task, "window", None)
    if news in ("local_market", "world_markets") or window not in (None, "1D"):
        cost *= 2
    return round(cost, 8)


# What a task's cost depends on besides its endpoint (and its keyword's operators).
_COST_FIELDS: Final = (
    "priority",
    "depth",
    "block_depth",
    "device",
    "max_crawl_pages",
    "calculate_rectangles",
    "news_type",
    "window",
)


def price_reads(field: str, value: str) -> bool:
    """Whether a task's price can change when `field` holds `value` rather than a value
    without ':' (a cost field, or a keyword with a search operator, `site:` and the like): the
    price of tasks that differ in no other field is looked up once for all the others."""
    return field in _COST_FIELDS or (field == "keyword" and ":" in value)


class CostCache:
    """`task_cost` of many tasks of one endpoint, computed once per combination of the few
    fields it depends on: loading a million inputs prices each in a dict lookup."""

    def __init__(self, se: str, se_type: str, prices: PriceTable) -> None:
        self.se, self.se_type, self.prices = se, se_type, prices
        self._known: dict[object, float] = {}
        names = task_field_names(se, se_type)
        # the endpoint's own cost fields, read in one C call (with "tag" there are always two)
        self._fields = attrgetter("tag", *(f for f in _COST_FIELDS if f in names))

    def cost(self, task: TaskPostBase) -> float:
        keyword = getattr(task, "keyword", None)
        operator = bool(keyword and ":" in keyword and _OPERATOR.search(keyword.lower()))
        signature = (self._fields(task)[1:], operator)
        found = self._known.get(signature)
        if found is None:
            found = self._known[signature] = task_cost(self.se, self.se_type, task, self.prices)
        return found
