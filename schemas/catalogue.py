"""Which SERP endpoints exist (reference section 2, from the docs' navigation tree)."""

from typing import Final

SERP_ENDPOINTS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("google", t)
        for t in (
            "organic ai_mode maps local_finder news events images search_by_image jobs "
            "autocomplete dataset_search dataset_info ads_advertisers ads_search finance_explore "
            "finance_markets finance_quote finance_ticker_search"
        ).split()
    }
    | {("bing", "organic"), ("bing", "local_pack"), ("yahoo", "organic")}
    | {("baidu", "organic"), ("naver", "organic"), ("seznam", "organic")}
    | {("youtube", t) for t in ("organic", "video_info", "video_subtitles", "video_comments")}
)

# The task_get variants of each endpoint (reference section 2, the docs' navigation tree):
# regular (the main item types, fewer fields), advanced (every item type), html (the pages).
_ALL: Final = ("regular", "advanced", "html")
_ADVANCED_HTML: Final = ("advanced", "html")
_ADVANCED: Final = ("advanced",)
TASK_GET: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    **{(se, "organic"): _ALL for se in ("google", "bing", "yahoo", "baidu", "naver", "seznam")},
    ("bing", "local_pack"): ("regular", "html"),
    **{
        ("google", t): _ADVANCED_HTML
        for t in (
            "ai_mode local_finder news images search_by_image jobs finance_explore "
            "finance_markets finance_quote"
        ).split()
    },
    **{
        ("google", t): _ADVANCED
        for t in (
            "maps events autocomplete dataset_search dataset_info ads_advertisers ads_search "
            "finance_ticker_search"
        ).split()
    },
    **{
        ("youtube", t): _ADVANCED
        for t in ("organic", "video_info", "video_subtitles", "video_comments")
    },
}


def task_get_variants(se: str, se_type: str) -> tuple[str, ...]:
    """The task_get variants `/v3/serp/{se}/{se_type}/task_get/...` has (none if unknown)."""
    return TASK_GET.get((se, se_type), ())


def is_serp_endpoint(se: str, se_type: str) -> bool:
    """True if `/v3/serp/{se}/{se_type}/task_post` exists."""
    return (se, se_type) in SERP_ENDPOINTS
