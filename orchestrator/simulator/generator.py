"""Deterministic SERP results: the same task parameters always give the same result.

Every endpoint of the catalogue answers with its own item types and result fields
(docs/endpoint-sources.md: the official client's models and the docs' pages); sizes are
realistic (Google organic at depth 100: ~100 items, ~100-200 KB). Each call seeds its own
generator from a hash of the parameters (never Python's salted `hash`), so results survive a
restart. `regular_of` and `html_of` turn an advanced result into the other task_get variants.
"""

import hashlib
import random
from types import SimpleNamespace
from typing import Any, Final
from urllib.parse import quote, quote_plus, unquote_plus

import msgspec

from orchestrator.simulator import finance, other, verticals, web, youtube
from orchestrator.simulator.clock import parse_datetime
from orchestrator.simulator.markets import language_of, location_of
from orchestrator.simulator.serp import Market, Serp
from schemas.depths import depth_of, depth_rule

_ENCODER: Final = msgspec.json.Encoder()
_SHAPING_PARAMS: Final = (
    "keyword",
    "image_url",
    "url",
    "location_code",
    "location_name",
    "language_code",
    "language_name",
    "device",
    "os",
    "depth",
    "max_crawl_pages",
    "se_domain",
    "video_id",
    "dataset_id",
    "block_depth",
)


def result_seed(seed: int, se: str, se_type: str, params: dict[str, Any]) -> int:
    """Stable seed from the global seed and the parameters that shape a SERP."""
    material = _ENCODER.encode([seed, se, se_type, [params.get(k) for k in _SHAPING_PARAMS]])
    return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big")


DRIFT_DAYS: Final = 7  # a result's score is the sum of this many daily shocks: smooth moves
DRIFT_SIGMA: Final = 0.35  # per daily shock, in ranks: most days a result moves by 0 or 1
JUMP_DAYS: Final = 14  # a jump (an update, a penalty, a new backlink) lasts this long
JUMP_CYCLE: Final = 250  # each result jumps once in this many days (at its own phase)
CHURN_SHARE: Final = 0.08  # results that come and go (new pages, lost pages)
_UNIT: Final = 12**0.5  # scales random() - 0.5 to a standard deviation of 1


def _shocks(pool_seed: int, day: int, n: int) -> list[float]:
    rng = random.Random(pool_seed ^ (day * 0x9E3779B1))
    draw = rng.random
    return [(draw() - 0.5) * _UNIT for _ in range(n)]


def ranked_candidates(pool_seed: int, day: int, count: int) -> list[int]:
    """The order of a keyword's candidate results on a simulated day (indexes into its pool).

    A candidate's score is its base rank plus a moving sum of daily shocks (small moves from
    day to day), plus jumps that begin on a few days and last two weeks (big moves); a few
    candidates exist only on some weeks (new and lost URLs). Deterministic in (pool, day).
    """
    base = random.Random(pool_seed)
    scores = [i + base.gauss(0.0, 0.3) for i in range(count)]
    churn = [(base.random() < CHURN_SHARE, base.randrange(7), base.randint(2, 6)) for _ in scores]
    for i in range(count):
        phase, size = base.randrange(JUMP_CYCLE), base.uniform(-30, 30)
        if (day + phase) % JUMP_CYCLE < JUMP_DAYS:
            scores[i] += size
    for back in range(DRIFT_DAYS):
        for i, shock in enumerate(_shocks(pool_seed, day - back, count)):
            scores[i] += DRIFT_SIGMA * shock
    alive = [
        i
        for i, (churns, offset, on) in enumerate(churn)
        if not churns or ((day // 7 + offset) % 7) < on
    ]
    return sorted(alive, key=scores.__getitem__)


_SE_DOMAIN: Final[dict[str, str]] = {
    "bing": "bing.com",
    "yahoo": "search.yahoo.com",
    "baidu": "baidu.com",
    "naver": "search.naver.com",
    "seznam": "search.seznam.cz",
    "youtube": "youtube.com",
}
_GOOGLE_HOSTS: Final[dict[str, str]] = {
    "search_by_image": "lens.google.com",
    "dataset_search": "datasetsearch.research.google.com",
    "dataset_info": "datasetsearch.research.google.com",
    "ads_advertisers": "adstransparency.google.com",
    "ads_search": "adstransparency.google.com",
}
_GOOGLE_SEARCH_PARAMS: Final[dict[str, str]] = {
    "news": "&tbm=nws",
    "images": "&tbm=isch",
    "local_finder": "&tbm=lcl",
    "jobs": "&ibp=htl;jobs",
    "events": "&ibp=htl;events",
    "ai_mode": "&udm=50",
}
# Result fields beyond the common ones, and the common ones an endpoint leaves out
# (the official client's result models, docs/endpoint-sources.md).
_PAGED: Final = frozenset({"organic"})
_NO_LOCATION: Final = frozenset({"dataset_search", "dataset_info"})
_DEPTH_PARAMS: Final = ("depth", "block_depth", "device")
_ID_PARAMS: Final = ("image_url", "dataset_id", "video_id")


def se_domain(se: str, se_type: str, market: Market, given: object) -> str:
    """The search engine's host the task ran on: as given, else the engine's (Google's of the
    location's country for its web types: INFERRED from the docs' examples)."""
    if isinstance(given, str) and given:
        return given
    if se != "google":
        return _SE_DOMAIN.get(se, f"{se}.com")
    return _GOOGLE_HOSTS.get(se_type, market.location.google)


def check_url(
    se: str,
    se_type: str,
    market: Market,
    host: str,
    keyword: str,
    params: dict[str, Any],
    depth: int,
) -> str:
    """The URL of the same search on the engine, with its own parameters (INFERRED forms)."""
    q = quote_plus(keyword)
    hl, gl = market.language, market.location.country
    image, dataset, video = (quote_plus(str(params.get(k) or "")) for k in _ID_PARAMS)
    if se == "google":
        if se_type == "maps":
            return f"https://www.{host}/maps/search/{quote(keyword)}/?hl={hl}&gl={gl}"
        if se_type == "search_by_image":
            return f"https://lens.google.com/uploadbyurl?url={image}&hl={hl}&gl={gl}"
        if se_type == "autocomplete":
            client = params.get("client") or "gws-wiz"
            return f"https://www.{host}/complete/search?q={q}&client={client}&hl={hl}&gl={gl}"
        if se_type in ("dataset_search", "dataset_info"):
            if se_type == "dataset_info":
                return f"https://{host}/search?docid={dataset}&hl={hl}"
            return f"https://{host}/search?query={q}&hl={hl}"
        if se_type.startswith("ads_"):
            return f"https://{host}/?region={gl}"
        if se_type.startswith("finance_"):
            page = f"quote/{quote(keyword)}" if se_type == "finance_quote" else ""
            return f"https://www.{host}/finance/{page}?hl={hl}&gl={gl}"
        extra = _GOOGLE_SEARCH_PARAMS.get(se_type, "")
        num = f"&num={depth}" if se_type != "ai_mode" else ""
        return f"https://www.{host}/search?q={q}{num}&hl={hl}&gl={gl}&gws_rd=cr{extra}"
    if se == "bing":
        return f"https://www.bing.com/search?q={q}&count={depth}&setlang={hl}&cc={gl}"
    if se == "yahoo":
        return f"https://search.yahoo.com/search?p={q}&n={depth}"
    if se == "baidu":
        return f"https://www.baidu.com/s?wd={q}&rn={depth}"
    if se == "naver":
        return f"https://search.naver.com/search.naver?where=nexearch&query={q}"
    if se == "seznam":
        return f"https://search.seznam.cz/?q={q}&count={depth}"
    if se_type == "organic":
        return f"https://www.youtube.com/results?search_query={q}&hl={hl}&gl={gl}"
    return f"https://www.youtube.com/watch?v={video}&hl={hl}&gl={gl}"


def _items(
    s: Serp,
    se: str,
    se_type: str,
    params: dict[str, Any],
    depth: int,
    datetime: str,
    cap: int | None,
) -> dict[str, Any]:
    """Fill `s` with the endpoint's items; return the result fields it adds. `cap`, where
    given, bounds the item count of maps and of the other engines' organic SERPs."""
    if se == "google":
        if se_type == "organic":
            web.google_organic(s, depth)
        elif se_type == "search_by_image":
            web.search_by_image(s, 10 * int(params.get("max_crawl_pages") or 6))
            return {"image_url": params.get("image_url")}
        elif se_type == "ai_mode":
            web.ai_mode(s, depth, datetime)
        elif se_type == "maps":
            verticals.maps(s, depth, cap)
        elif se_type == "local_finder":
            verticals.local_finder(s, depth, params.get("min_rating"))
        elif se_type == "news":
            verticals.news(s, depth, datetime)
            return {"includes_non_news_search_results": False}
        elif se_type == "images":
            verticals.images(s, depth)
        elif se_type == "jobs":
            verticals.jobs(s, depth, datetime, params.get("employment_type"))
        elif se_type == "events":
            verticals.events(s, depth, datetime, params.get("date_range"))
        elif se_type == "autocomplete":
            other.autocomplete(s, params)
        elif se_type == "dataset_search":
            return other.dataset_search(s, depth, datetime, params)
        elif se_type == "dataset_info":
            other.dataset_info(s, datetime, params)
        elif se_type == "ads_advertisers":
            other.ads_advertisers(s)
        elif se_type == "ads_search":
            other.ads_search(s, depth)
        elif se_type == "finance_ticker_search":
            finance.ticker_search(s, datetime, s.keyword)
        else:
            finance.finance(s, se_type, datetime, params)
        return {}
    if se == "naver":
        web.naver_organic(s, depth)
    elif se == "bing" and se_type == "local_pack":
        web.bing_local_pack(s, depth)
    elif se == "youtube":
        if se_type == "organic":
            youtube.organic(s, depth, datetime)
        elif se_type == "video_info":
            return youtube.video_info(s, params, datetime)
        elif se_type == "video_comments":
            return youtube.video_comments(s, params, depth)
        else:
            return youtube.video_subtitles(s, params)
    else:
        web.other_organic(s, depth, cap)
    return {}


def generate_result(
    seed: int,
    se: str,
    se_type: str,
    params: dict[str, Any],
    datetime: str,
    own: tuple[str, ...] = (),
    extras_beyond_depth: bool = False,
) -> list[dict[str, Any]]:
    """The `result` array of task_get/advanced for a task with these parameters, as the SERP
    stood on the simulated day of `datetime`: the same parameters and day give the same result,
    and from one day to the next the ranked results move as real ones do (mostly stable, some
    small moves, a few big jumps, new and lost results)."""
    pool_seed = result_seed(seed, se, se_type, params)
    day = int(parse_datetime(datetime) // 86400)
    rng = random.Random(pool_seed ^ day)  # features and snippets: the day's own
    keyword = unquote_plus(str(params.get("keyword") or ""))  # the docs: returned decoded
    location = location_of(params, se)
    market = Market(se, location, language_of(params, location), own)
    device = params.get("device")
    rule = depth_rule(se, se_type, device if isinstance(device, str) else None)
    depth = depth_of(se, se_type, SimpleNamespace(**{k: params.get(k) for k in _DEPTH_PARAMS}))
    crawl = params.get("max_crawl_pages")
    if crawl:
        depth = min(depth, int(crawl) * rule.unit)
    size = int(depth * 1.4) + 6  # more candidates than places: some enter, some drop out
    order = ranked_candidates(pool_seed, day, size)
    asked = depth
    depth = max(1, depth - rng.randint(0, max(0, depth // 20)))  # SERPs come a little short
    s = Serp(
        rng,
        keyword,
        market,
        rectangles=bool(params.get("calculate_rectangles")),
        per_page=rule.unit if se_type == "organic" else 10,
        pool_seed=pool_seed,
        order=order,
    )
    host = se_domain(se, se_type, market, params.get("se_domain"))
    result: dict[str, Any] = {
        "keyword": keyword or None,
        "type": se_type,
        "se_domain": host,
        "location_code": 0 if se == "naver" else location.code,
        "language_code": "" if se == "naver" else market.language,
        "check_url": check_url(se, se_type, market, host, keyword, params, asked),
        "datetime": datetime,
        "spell": None,
        "refinement_chips": None,
    }
    cap = None if extras_beyond_depth else asked
    extra = _items(s, se, se_type, params, depth, datetime, cap)
    if se_type == "search_by_image":
        result = {"image_url": extra.pop("image_url"), **result, "keyword": None}
    if se_type in _NO_LOCATION:
        del result["type"], result["location_code"], result["refinement_chips"]
    if se == "youtube":
        del result["type"], result["refinement_chips"]
        if se_type != "organic":
            del result["keyword"]
    items = s.items
    result.update(extra)
    result["item_types"] = list(dict.fromkeys(item["type"] for item in items))
    if not (se == "youtube" and se_type != "organic"):
        result["se_results_count"] = (
            rng.randint(10_000, 90_000_000)
            if se_type in ("organic", "news", "images") and se != "naver"
            else 0
        )
    if se_type in _PAGED and se != "youtube":
        result["pages_count"] = max((item.get("page", 1) for item in items), default=1)
    result["items_count"] = len(items)
    result["items"] = items
    return [result]


# task_get/regular keeps the main types with their basic fields, as the docs' example of
# google/organic task_get/regular shows them (no page, position, xpath or rectangle).
_REGULAR_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    kind: (
        "type",
        "rank_group",
        "rank_absolute",
        "domain",
        "title",
        "description",
        "url",
        "breadcrumb",
    )
    for kind in ("organic", "paid", "featured_snippet")
}
_REGULAR_FIELDS["local_pack"] = tuple(
    "type rank_group rank_absolute title description domain phone url is_paid rating cid"
    " is_claimed".split()
)


def regular_of(result: list[dict[str, Any]], se: str, se_type: str) -> list[dict[str, Any]]:
    """The task_get/regular form of an advanced result: the main item types only, each with
    its basic fields, ranks counted again among what is left, no pages_count (the docs'
    example; UNCERTAIN for bing/local_pack, whose regular answer we have not seen)."""
    out = []
    for r in result:
        kept: list[dict[str, Any]] = []
        groups: dict[str, int] = {}
        for item in r["items"]:
            fields = _REGULAR_FIELDS.get(item["type"])
            if fields is None:
                continue
            slim = {k: item[k] for k in fields if k in item}
            groups[item["type"]] = groups.get(item["type"], 0) + 1
            slim.update(rank_group=groups[item["type"]], rank_absolute=len(kept) + 1)
            kept.append(slim)
        regular = {k: v for k, v in r.items() if k not in ("items", "pages_count")}
        regular.update(
            item_types=list(dict.fromkeys(i["type"] for i in kept)),
            items_count=len(kept),
            items=kept,
        )
        out.append(regular)
    return out


def html_of(result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The task_get/html form: the result's head and one HTML page per SERP page (reference
    8.1: `items: [{page, date, html}]`)."""
    out = []
    for r in result:
        pages = max((i.get("page", 1) for i in r["items"]), default=1)
        head = {
            k: r.get(k)
            for k in ("keyword", "type", "se_domain", "location_code", "language_code", "datetime")
        }
        items = []
        for page in range(1, pages + 1):
            rows = "".join(
                f'<div class="g"><a href="{_escape(i.get("url"))}">'
                f"<h3>{_escape(i.get('title'))}</h3></a></div>"
                for i in r["items"]
                if i.get("page", 1) == page
            )
            title = _escape(r.get("keyword"))
            head_html = f"<head><title>{title}</title></head>"
            html = f"<!doctype html><html>{head_html}<body>{rows}</body></html>"
            items.append({"page": page, "date": r["datetime"], "html": html})
        out.append({**head, "items_count": len(items), "items": items})
    return out


def _escape(text: object) -> str:
    return (
        str(text or "")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )
