"""How many results each endpoint returns by default, how many one billing unit covers, and
the most a task may ask for: from each endpoint's task_post `depth` description in the
official client's models (docs/endpoint-sources.md). Shared by validation, pricing and the
simulator."""

from typing import Final, NamedTuple


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


def depth_field(se: str, se_type: str) -> str:
    """The field that sets a task's depth: YouTube's search calls it block_depth."""
    return "block_depth" if (se, se_type) == ("youtube", "organic") else "depth"


def depth_of(se: str, se_type: str, task: object) -> int:
    """The depth a task asks for (its own, else the endpoint's default)."""
    rule = depth_rule(se, se_type, getattr(task, "device", None))
    return int(getattr(task, depth_field(se, se_type), None) or rule.default)
