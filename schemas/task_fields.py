"""Which task_post fields each SERP endpoint takes, so that a field an endpoint does not know
is refused by name instead of being dropped or posted.

Sources: the request models of the official Python client (`dataforseo-client` 2.1.5,
`serp_*_task_post_request_info.py`: field names and types, read, not copied) for every
endpoint but YouTube, whose models there are empty; YouTube's from its task_post pages on
docs.dataforseo.com. The three endpoints with hand-written structs in `requests.py` (google
organic and search_by_image, naver organic) are checked by those structs; this table covers
the rest. The limits of each field and the required combinations per endpoint are the work
of issue 11; here each field gets the rule it has wherever it appears (depth 1-700, ...).
"""

from typing import Final

_WEBHOOKS = "priority tag pingback_url postback_url postback_data"
_LOCATION = "location_code location_name location_coordinate"
_LANGUAGE = "language_code language_name"
_SCREEN = "calculate_rectangles browser_screen_width browser_screen_height"
_SCREEN += " browser_screen_resolution_ratio"


def _fields(*groups: str) -> frozenset[str]:
    return frozenset(" ".join((_WEBHOOKS, *groups)).split())


ENDPOINT_FIELDS: Final[dict[tuple[str, str], frozenset[str]]] = {
    ("google", "ai_mode"): _fields(_LOCATION, _LANGUAGE, _SCREEN, "keyword device os"),
    ("google", "maps"): _fields(
        _LOCATION,
        _LANGUAGE,
        "keyword depth device os max_crawl_pages url se_domain search_this_area search_places",
    ),
    ("google", "local_finder"): _fields(
        _LOCATION, _LANGUAGE, "keyword depth device os min_rating time_filter"
    ),
    ("google", "news"): _fields(
        _LOCATION,
        _LANGUAGE,
        _SCREEN,
        "keyword depth os max_crawl_pages search_param url se_domain",
    ),
    ("google", "events"): _fields(
        _LOCATION, _LANGUAGE, "keyword depth os max_crawl_pages date_range se_domain"
    ),
    ("google", "images"): _fields(
        _LOCATION, _LANGUAGE, "keyword depth os max_crawl_pages search_param url se_domain"
    ),
    ("google", "jobs"): _fields(
        "location_code location_name",
        _LANGUAGE,
        "keyword depth location_radius employment_type",
    ),
    ("google", "autocomplete"): _fields(
        "location_code location_name", _LANGUAGE, "keyword cursor_pointer client"
    ),
    ("google", "dataset_search"): _fields(
        _LANGUAGE,
        "keyword depth device os last_updated file_formats usage_rights is_free topics",
    ),
    ("google", "dataset_info"): _fields(_LANGUAGE, "dataset_id device os"),
    ("google", "ads_advertisers"): _fields(_LOCATION, "keyword"),
    ("google", "ads_search"): _fields(
        _LOCATION, "advertiser_ids target depth platform format date_from date_to"
    ),
    ("google", "finance_explore"): _fields(
        "location_code location_name", _LANGUAGE, "device os news_type"
    ),
    ("google", "finance_markets"): _fields(
        "location_code location_name", _LANGUAGE, "device os market_type"
    ),
    ("google", "finance_quote"): _fields(
        "location_code location_name", _LANGUAGE, "keyword device os window"
    ),
    ("google", "finance_ticker_search"): _fields(
        "location_code location_name", _LANGUAGE, "keyword category"
    ),
    ("bing", "organic"): _fields(
        _LOCATION,
        _LANGUAGE,
        _SCREEN,
        "keyword depth device os max_crawl_pages search_param url stop_crawl_on_match",
    ),
    ("bing", "local_pack"): _fields(
        _LOCATION, _LANGUAGE, "keyword depth os max_crawl_pages search_param url"
    ),
    ("yahoo", "organic"): _fields(
        _LOCATION,
        _LANGUAGE,
        "keyword url device os se_domain depth max_crawl_pages search_param stop_crawl_on_match",
    ),
    ("baidu", "organic"): _fields(
        _LOCATION,
        _LANGUAGE,
        "keyword depth max_crawl_pages device os get_website_url stop_crawl_on_match",
    ),
    ("seznam", "organic"): _fields(
        "location_code location_name",
        _LANGUAGE,
        "keyword url depth max_crawl_pages device os se_domain search_param",
        "calculate_rectangles stop_crawl_on_match",
    ),
    ("youtube", "organic"): _fields(
        "location_code location_name", _LANGUAGE, "keyword device os block_depth"
    ),
    ("youtube", "video_info"): _fields(
        "location_code location_name", _LANGUAGE, "video_id device os"
    ),
    ("youtube", "video_subtitles"): _fields(
        "location_code location_name",
        _LANGUAGE,
        "video_id device os subtitles_language subtitles_translate_language",
    ),
    ("youtube", "video_comments"): _fields(
        "location_code location_name", _LANGUAGE, "video_id device os depth"
    ),
}
