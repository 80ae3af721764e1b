"""The rule of each task_post field: the documented limits (reference section 7; seed S0)
and, for fields with listed values, those values (the official client's request models,
2.1.5; docs/endpoint-sources.md). `requests.py` builds each endpoint's struct from them."""

from typing import Annotated, Any, Final, Literal

import msgspec

MAX_TASKS_PER_POST: Final = 100
MAX_KEYWORD_LEN: Final = 700
MAX_TAG_LEN: Final = 255
MAX_DEPTH: Final = 700
MAX_CRAWL_PAGES: Final = 100
MAX_MATCH_TARGETS: Final = 10

Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_KEYWORD_LEN)]
Tag = Annotated[str, msgspec.Meta(max_length=MAX_TAG_LEN)]
Depth = Annotated[int, msgspec.Meta(ge=1, le=MAX_DEPTH)]
CrawlPages = Annotated[int, msgspec.Meta(ge=1, le=MAX_CRAWL_PAGES)]
ScreenSize = Annotated[int, msgspec.Meta(ge=240, le=9999)]
ScreenRatio = Annotated[float, msgspec.Meta(ge=0.5, le=3)]
Priority = Literal[1, 2]
Device = Literal["desktop", "mobile"]
Os = Literal["windows", "macos", "android", "ios"]
Url = Annotated[str, msgspec.Meta(min_length=1)]
Coordinate = Annotated[
    str, msgspec.Meta(pattern=r"^-?\d{1,3}(\.\d{1,7})?,-?\d{1,3}(\.\d{1,7})?(,\d+)?$")
]


class MatchTarget(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One `stop_crawl_on_match` target."""

    match_value: str
    match_type: Literal["domain", "with_subdomains", "wildcard"]


MatchTargets = Annotated[list[MatchTarget], msgspec.Meta(max_length=MAX_MATCH_TARGETS)]


# The rule of each field wherever an endpoint of `task_fields` takes it.
_Text = Annotated[str, msgspec.Meta(min_length=1)]
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME_FILTER = rf"^(open_now|24_hours|({_DAYS})(;([01]\d|2[0-3]))?)$"
FIELD_TYPES: Final[dict[str, Any]] = {
    "keyword": Keyword,
    "url": Url,
    "depth": Depth,
    "max_crawl_pages": CrawlPages,
    "device": Device,
    "os": Os,
    "location_code": Annotated[int, msgspec.Meta(ge=1)],
    "location_name": _Text,
    "location_coordinate": _Text,  # "lat,lng,radius" or "lat,lng,zoom" as the endpoint says
    "language_code": _Text,
    "language_name": _Text,
    "se_domain": _Text,
    "search_param": _Text,
    "calculate_rectangles": bool,
    "browser_screen_width": ScreenSize,
    "browser_screen_height": ScreenSize,
    "browser_screen_resolution_ratio": ScreenRatio,
    "stop_crawl_on_match": MatchTargets,
    "get_website_url": bool,
    "search_this_area": bool,
    "search_places": bool,
    "is_free": bool,
    "cursor_pointer": Annotated[int, msgspec.Meta(ge=0)],
    "block_depth": Annotated[int, msgspec.Meta(ge=1)],
    "advertiser_ids": list[str],
    # The values each field's docs list (the official client's request models, 2.1.5).
    "min_rating": Annotated[float, msgspec.Meta(ge=2, le=4.5, multiple_of=0.5)],  # 3.5+ desktop
    "time_filter": Annotated[str, msgspec.Meta(pattern=_TIME_FILTER)],
    "location_radius": Annotated[str, msgspec.Meta(pattern=r"^\d+(\.\d+)?$")],  # km, <= 300
    "employment_type": list[Literal["fulltime", "partime", "contractor", "intern"]],
    "date_range": Literal[
        "today", "tomorrow", "week", "weekend", "next_week", "month", "next_month"
    ],
    "client": Literal[
        "chrome",
        "chrome-omni",
        "gws-wiz",
        "gws-wiz-serp",
        "safari",
        "firefox",
        "psy-ab",
        "toolbar",
        "youtube",
        "gws-wiz-local",
        "img",
        "products-cc",
    ],
    "last_updated": Literal["1m", "1y", "3y"],
    "file_formats": list[Literal["other", "archive", "text", "image", "document", "tabular"]],
    "usage_rights": Literal["commercial", "noncommercial"],
    "topics": list[
        Literal[
            "humanities",
            "social_sciences",
            "life_sciences",
            "agriculture",
            "natural_sciences",
            "geo",
            "computer",
            "architecture_and_urban_planning",
            "engineering",
        ]
    ],
    "news_type": Literal["top_stories", "local_market", "world_markets"],
    "market_type": Literal[
        "most-active",
        "indexes",
        "indexes/americas",
        "indexes/europe-middle-east-africa",
        "indexes/asia-pacific",
        "gainers",
        "losers",
        "climate-leaders",
        "cryptocurrencies",
        "currencies",
    ],
    "window": Literal["1D", "5D", "1M", "6M", "YTD", "1Y", "5Y", "MAX"],
    "category": Literal["all", "stock", "index", "mutual_fund", "currency", "futures"],
    "platform": Literal[
        "all", "google_play", "google_maps", "google_search", "google_shopping", "youtube"
    ],
    "format": Literal["all", "text", "image", "video"],
    **{
        name: _Text
        for name in (
            "dataset_id target date_from date_to video_id subtitles_language "
            "subtitles_translate_language"
        ).split()
    },
}
