"""Deterministic SERP results: the same task parameters always give the same result.

Shapes follow the reference (section 8) and the seed's real Naver answer; sizes are realistic
(Google organic at depth 100: ~100 items, ~100-200 KB). Each call seeds its own generator from
a hash of the parameters (never Python's salted `hash`), so results survive a restart.
"""

import hashlib
import random
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote_plus

import msgspec

from orchestrator.simulator.clock import parse_datetime

WORDS: Final = (
    "best cheap online review price buy guide top new free near me official store compare "
    "how to what is vs deals sale shop 2026 fast local service repair rent hire used "
    "아이폰 가격 추천 후기 구매 서울 강남 최신 리뷰"
).split()
DOMAINS: Final = (
    "www.apple.com en.wikipedia.org www.amazon.com www.bestbuy.com www.reddit.com "
    "www.youtube.com www.theverge.com www.cnet.com www.nytimes.com www.bbc.co.uk "
    "blog.naver.com www.coupang.com www.gsmarena.com support.google.com www.ebay.com "
    "medium.com www.forbes.com www.techradar.com www.walmart.com www.target.com"
).split()
_XPATH: Final = "/html[1]/body[1]/div[3]/div[2]/div[1]/div[1]/div[{}]/div[1]"
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


class _Serp:
    """Builds the items of one SERP, keeping rank_group per type and rank_absolute."""

    def __init__(
        self,
        rng: random.Random,
        keyword: str,
        rectangles: bool,
        per_page: int,
        pool: list[tuple[str, str]] | None = None,
    ) -> None:
        self.rng = rng
        self.keyword = keyword
        self.rectangles = rectangles
        self.per_page = per_page
        self.items: list[dict[str, Any]] = []
        self._groups: dict[str, int] = {}
        self._pool = list(reversed(pool or []))  # popped from the end: best first

    def candidate(self) -> tuple[str, str]:
        """The next organic result of the day's ranking: (domain, url)."""
        if self._pool:
            return self._pool.pop()
        domain = self.rng.choice(DOMAINS)
        return domain, self.url(domain)

    def text(self, low: int, high: int) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(low, high))
        return " ".join([self.keyword, *words]).capitalize()

    def url(self, domain: str) -> str:
        slug = "-".join(self.rng.choices(WORDS[:30], k=3))
        return f"https://{domain}/{slug}/{self.rng.randint(1, 99999)}"

    def add(self, kind: str, fields: dict[str, Any], position: str = "left") -> None:
        group = self._groups.get(kind, 0) + 1
        self._groups[kind] = group
        absolute = len(self.items) + 1
        rect = None
        if self.rectangles:
            rect = {"x": 20.0, "y": 120.0 * absolute, "width": 600.0, "height": 110.0}
        page = 1 + (group - 1) // self.per_page if kind == "organic" else 1
        self.items.append(
            {
                "type": kind,
                "rank_group": group,
                "rank_absolute": absolute,
                "page": page,
                "position": position,
                "xpath": _XPATH.format(absolute),
                **fields,
                "rectangle": rect,
            }
        )

    def links(self, domain: str, count: int) -> list[dict[str, Any]] | None:
        if count == 0:
            return None
        return [
            {
                "type": "link_element",
                "title": self.text(1, 2),
                "description": None,
                "url": self.url(domain),
            }
            for _ in range(count)
        ]

    def organic(self, google: bool) -> dict[str, Any]:
        rng = self.rng
        domain, url = self.candidate()
        fields: dict[str, Any] = {
            "domain": domain,
            "title": self.text(4, 9),
            "url": url,
            "cache_url": None,
            "breadcrumb": f"https://{domain} › {rng.choice(WORDS)}",  # noqa: RUF001 - as Google shows it
            "is_image": False,
            "is_video": rng.random() < 0.05,
            "is_featured_snippet": False,
            "is_malicious": False,
            "is_web_story": False,
            "description": self.text(18, 40),
            "pre_snippet": None,
            "extended_snippet": None,
            "amp_version": False,
            "rating": None,
            "highlighted": [self.keyword],
            "links": self.links(domain, rng.choice((0, 0, 2, 4))),
            "faq": None,
            "extended_people_also_search": None,
            "timestamp": None,
        }
        if rng.random() < 0.15:
            fields["rating"] = {
                "rating_type": "Max5",
                "value": round(rng.uniform(3, 5), 1),
                "votes_count": rng.randint(3, 9000),
                "rating_max": 5,
            }
        if google:
            fields.update(
                related_search_url=None,
                website_name=domain.removeprefix("www.").split(".")[0].title(),
                images=None,
                price=None,
                about_this_result={
                    "type": "about_this_result_element",
                    "url": fields["url"],
                    "source": domain,
                    "source_info": self.text(10, 25),
                    "source_url": f"https://{domain}/about",
                    "language": "English",
                    "location": "United States",
                    "search_terms": [self.keyword],
                    "related_terms": self.rng.choices(WORDS, k=3),
                },
                related_result=None,
            )
        return fields

    def paid(self) -> dict[str, Any]:
        domain = self.rng.choice(DOMAINS)
        return {
            "domain": domain,
            "title": self.text(3, 7),
            "url": self.url(domain),
            "breadcrumb": domain,
            "description": self.text(10, 20),
            "highlighted": None,
            "extra": {"ad_aclk": None},
            "description_rows": None,
            "links": None,
        }

    def images(self, count: int, image_url: bool) -> dict[str, Any]:
        elements = []
        for _ in range(count):
            element = {
                "type": "images_element",
                "alt": self.text(1, 3),
                "url": self.url(self.rng.choice(DOMAINS)),
            }
            if image_url:
                element["image_url"] = f"data:image/jpeg;base64,{self.rng.getrandbits(64):x}"
            elements.append(element)
        return {"title": None, "url": None, "items": elements}

    def video(self) -> dict[str, Any]:
        return {
            "items": [
                {
                    "type": "video_element",
                    "source": "YouTube",
                    "title": self.text(3, 8),
                    "timestamp": "2026-01-15 00:00:00 +00:00",
                    "url": f"https://www.youtube.com/watch?v={self.rng.getrandbits(40):x}",
                }
                for _ in range(self.rng.randint(2, 4))
            ]
        }

    def local_pack(self) -> dict[str, Any]:
        return {
            "title": self.text(1, 3),
            "description": self.text(3, 8),
            "domain": None,
            "phone": f"+1 555-{self.rng.randint(1000, 9999)}",
            "url": None,
            "is_paid": False,
            "rating": {"rating_type": "Max5", "value": 4.5, "votes_count": 120, "rating_max": 5},
            "cid": str(self.rng.getrandbits(60)),
        }

    def related(self) -> dict[str, Any]:
        return {"items": [self.text(1, 3).lower() for _ in range(8)]}


def _google_organic(s: _Serp, depth: int) -> None:
    rng = s.rng
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        s.add("paid", s.paid())
    if rng.random() < 0.4:
        ai = {
            "asynchronous_ai_overview": False,
            "markdown": s.text(40, 80),
            "items": [{"type": "ai_overview_element", "title": None, "text": s.text(20, 40)}],
            "references": [
                {
                    "type": "ai_overview_reference",
                    "source": d,
                    "domain": d,
                    "url": s.url(d),
                    "title": s.text(3, 6),
                    "text": None,
                }
                for d in rng.choices(DOMAINS, k=3)
            ],
        }
        s.add("ai_overview", ai)
    if rng.random() < 0.3:
        d = rng.choice(DOMAINS)
        s.add(
            "featured_snippet",
            {
                "domain": d,
                "title": s.text(3, 6),
                "description": s.text(20, 40),
                "url": s.url(d),
                "breadcrumb": d,
                "featured_title": None,
                "timestamp": None,
                "images": None,
                "table": None,
            },
        )
    features: dict[int, tuple[str, float, Callable[[], dict[str, Any]]]] = {
        3: (
            "people_also_ask",
            0.6,
            lambda: {
                "items": [
                    {
                        "type": "people_also_ask_element",
                        "title": s.text(4, 7) + "?",
                        "seed_question": None,
                        "xpath": None,
                        "expanded_element": None,
                    }
                    for _ in range(4)
                ]
            },
        ),
        4: ("local_pack", 0.2, s.local_pack),
        5: ("images", 0.3, lambda: {**s.images(8, True), "related_image_searches": None}),
        6: ("video", 0.3, s.video),
        7: (
            "top_stories",
            0.2,
            lambda: {
                "title": "Top stories",
                "items": [
                    {
                        "type": "top_stories_element",
                        "source": d,
                        "domain": d,
                        "title": s.text(4, 8),
                        "date": "2 hours ago",
                        "url": s.url(d),
                    }
                    for d in rng.choices(DOMAINS, k=3)
                ],
            },
        ),
        9: ("answer_box", 0.1, lambda: {"text": [s.text(10, 20)], "links": None}),
    }
    for n in range(depth):
        s.add("organic", s.organic(google=True))
        if n in features and rng.random() < features[n][1]:
            kind, _, build = features[n]
            s.add(kind, build())
    if rng.random() < 0.15:
        s.add(
            "knowledge_graph",
            {
                "title": s.keyword.title(),
                "subtitle": None,
                "description": s.text(20, 40),
                "card_id": f"/g/{rng.getrandbits(32):x}",
                "url": None,
                "image_url": None,
                "logo_url": None,
                "cid": None,
                "items": [{"type": "knowledge_graph_row_item", "title": "Founded", "text": "1976"}],
            },
            position="right",
        )
    s.add("related_searches", s.related())


def _naver_organic(s: _Serp, depth: int) -> None:
    rng = s.rng
    s.add("paid", s.paid())
    if rng.random() < 0.5:
        s.add("map", {"title": "서울특별시", "url": "https://map.naver.com/v5/directions"})
    for n in range(depth):
        s.add("organic", s.organic(google=False))
        if n == 2:
            s.add("local_pack", {**s.local_pack(), "domain": "map.naver.com"})
        if n == 4 and rng.random() < 0.5:
            s.add("images", s.images(3, False))
        if n == 6 and rng.random() < 0.5:
            s.add("video", s.video())
    s.add("related_searches", s.related())


def _search_by_image(s: _Serp, count: int) -> None:
    s.add("images", {**s.images(10, True), "related_image_searches": None})
    for _ in range(count):
        fields = s.organic(google=True)
        fields["images"] = s.images(1, True)["items"]
        s.add("organic", fields)


def _generic(s: _Serp, depth: int) -> None:
    for _ in range(depth):
        d, url = s.candidate()
        s.add(
            "organic",
            {"domain": d, "title": s.text(4, 9), "url": url, "description": s.text(15, 30)},
        )


def generate_result(
    seed: int, se: str, se_type: str, params: dict[str, Any], datetime: str
) -> list[dict[str, Any]]:
    """The `result` array of task_get/advanced for a task with these parameters, as the SERP
    stood on the simulated day of `datetime`: the same parameters and day give the same result,
    and from one day to the next the organic ranking moves as real ones do (mostly stable, some
    small moves, a few big jumps, new and lost URLs)."""
    pool_seed = result_seed(seed, se, se_type, params)
    day = int(parse_datetime(datetime) // 86400)
    rng = random.Random(pool_seed ^ day)  # features and snippets: the day's own
    keyword = str(params.get("keyword") or "")
    per_page = 15 if se == "naver" else 10
    depth = int(params.get("depth") or per_page)
    crawl = params.get("max_crawl_pages")
    if crawl:
        depth = min(depth, int(crawl) * per_page)
    pool_rng = random.Random(pool_seed)
    size = int(depth * 1.4) + 6  # more candidates than places: some enter, some drop out
    pool = []
    for _ in range(size):
        domain = pool_rng.choice(DOMAINS)
        slug = "-".join(pool_rng.choices(WORDS[:30], k=3))
        pool.append((domain, f"https://{domain}/{slug}/{pool_rng.randint(1, 99999)}"))
    depth = max(1, depth - rng.randint(0, max(0, depth // 20)))  # SERPs come a little short
    order = ranked_candidates(pool_seed, day, size)
    s = _Serp(
        rng,
        keyword,
        bool(params.get("calculate_rectangles")),
        per_page,
        [pool[i] for i in order],
    )
    location_code = params.get("location_code") or 0
    result: dict[str, Any] = {
        "keyword": keyword or None,
        "type": se_type,
        "se_domain": params.get("se_domain") or f"{'search.' if se == 'naver' else ''}{se}.com",
        "location_code": location_code if se != "naver" else 0,
        "language_code": params.get("language_code") or "",
        "check_url": f"https://www.{se}.com/search?q={quote_plus(keyword)}",
        "datetime": datetime,
        "spell": None,
        "refinement_chips": None,
    }
    if (se, se_type) == ("google", "organic"):
        _google_organic(s, depth)
    elif (se, se_type) == ("naver", "organic"):
        _naver_organic(s, depth)
    elif (se, se_type) == ("google", "search_by_image"):
        result = {
            "image_url": params.get("image_url"),
            **result,
            "keyword": None,
            "se_domain": "lens.google.com",
        }
        _search_by_image(s, 10 * int(crawl or 6))
    else:
        _generic(s, depth)
    kinds = list(dict.fromkeys(item["type"] for item in s.items))
    pages = max(item["page"] for item in s.items)
    result.update(
        item_types=kinds,
        se_results_count=rng.randint(10_000, 90_000_000)
        if se == "google" and se_type == "organic"
        else 0,
        pages_count=pages,
        items_count=len(s.items),
        items=s.items,
    )
    return [result]
