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

# task_get variants other than advanced, for the endpoint_* fields of tasks_ready.
HAS_REGULAR: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("google", "organic"),
        ("bing", "organic"),
        ("bing", "local_pack"),
        ("yahoo", "organic"),
        ("baidu", "organic"),
        ("naver", "organic"),
        ("seznam", "organic"),
    }
)
NO_HTML: Final[frozenset[str]] = frozenset(
    {
        "maps",
        "events",
        "autocomplete",
        "dataset_search",
        "dataset_info",
        "ads_advertisers",
        "ads_search",
        "finance_ticker_search",
        "video_info",
        "video_subtitles",
        "video_comments",
    }
)


# The one endpoint whose task_get has no advanced form (regular and html only): the
# orchestrator collects advanced answers, so it cannot run jobs on it.
NO_ADVANCED: Final[frozenset[tuple[str, str]]] = frozenset({("bing", "local_pack")})


def is_serp_endpoint(se: str, se_type: str) -> bool:
    """True if `/v3/serp/{se}/{se_type}/task_post` exists."""
    return (se, se_type) in SERP_ENDPOINTS
