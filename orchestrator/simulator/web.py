"""Web results: the organic SERPs of every engine, search by image, Bing's local pack and
Google's AI Mode (item types as in docs/endpoint-sources.md)."""

from collections.abc import Callable
from typing import Any

from orchestrator.simulator.serp import Serp


def _people_also_ask(s: Serp) -> dict[str, Any]:
    return {
        "items": [
            {
                "type": "people_also_ask_element",
                "title": s.text(3, 6) + "?",
                "seed_question": None,
                "xpath": None,
                "expanded_element": None,
            }
            for _ in range(4)
        ]
    }


def _top_stories(s: Serp) -> dict[str, Any]:
    return {
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
            for d in s.rng.choices(s.market.domains, k=3)
        ],
    }


def ai_overview(s: Serp) -> dict[str, Any]:
    return {
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
            for d in s.rng.choices(s.market.domains, k=3)
        ],
    }


def google_organic(s: Serp, depth: int) -> None:
    rng = s.rng
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        s.add("paid", s.paid())
    if rng.random() < 0.4:
        s.add("ai_overview", ai_overview(s))
    if rng.random() < 0.3:
        d = s.domain()
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
        3: ("people_also_ask", 0.6, lambda: _people_also_ask(s)),
        4: ("local_pack", 0.2, s.local_pack),
        5: (
            "images",
            0.3,
            lambda: {
                "title": None,
                "url": None,
                "items": s.image_elements(8, True),
                "related_image_searches": None,
            },
        ),
        6: ("video", 0.3, s.video),
        7: ("top_stories", 0.2, lambda: _top_stories(s)),
        9: ("answer_box", 0.1, lambda: {"text": [s.text(10, 20)], "links": None}),
    }
    for n in range(depth):
        s.add("organic", s.organic(google=True), paged=True)
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


def naver_organic(s: Serp, depth: int) -> None:
    rng = s.rng
    s.add("paid", s.paid(google=False))
    if rng.random() < 0.5:
        s.add("map", {"title": "서울특별시", "url": "https://map.naver.com/v5/directions"})
    for n in range(depth):
        s.add("organic", s.organic(google=False), paged=True)
        if n == 2:
            s.add("local_pack", {**s.local_pack(google=False), "domain": "map.naver.com"})
        if n == 4 and rng.random() < 0.5:
            s.add("images", {"title": None, "url": None, "items": s.image_elements(3, False)})
        if n == 6 and rng.random() < 0.5:
            s.add("video", s.video())
    s.add("related_searches", s.related())


def other_organic(s: Serp, depth: int) -> None:
    """Bing, Yahoo, Baidu and Seznam organic: ads on top, the ranked list, related searches
    (their item types are the same union as Google's: reference 8.4, UNCERTAIN which appear)."""
    for _ in range(s.rng.choice((0, 1, 2))):
        s.add("paid", s.paid())
    for n in range(depth):
        s.add("organic", s.organic(google=True), paged=True)
        if n == 4 and s.rng.random() < 0.3:
            s.add("video", s.video())
    s.add("related_searches", s.related())


def search_by_image(s: Serp, count: int) -> None:
    images = {"title": None, "url": None, "items": s.image_elements(10, True)}
    s.add("images", {**images, "related_image_searches": None})
    for _ in range(count):
        fields = s.organic(google=True)
        fields["images"] = s.image_elements(1, True)
        s.add("organic", fields, paged=True)


def bing_local_pack(s: Serp, depth: int) -> None:
    """Bing's local pack (regular and html only): ranked places (UNCERTAIN: the official
    client has no model of it; fields as Google's local_pack item, reference 8.4)."""
    for _ in range(depth):
        ident = s.entity()
        domain = s.domain(ident)
        place = s.local_pack(ident)
        place.update(domain=domain, url=f"https://{domain}/", is_claimed=ident.random() < 0.6)
        s.add("local_pack", place, paged=True)


def ai_mode(s: Serp, depth: int) -> None:
    """One ai_overview item: Google's AI Mode answer with its references."""
    s.add("ai_overview", ai_overview(s))
