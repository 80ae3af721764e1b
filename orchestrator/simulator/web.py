"""Web results: the organic SERPs of every engine, search by image, Bing's local pack and
Google's AI Mode (item types as in docs/endpoint-sources.md)."""

from collections.abc import Callable
from typing import Any

from orchestrator.simulator.serp import Serp, site_name, video_id


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


def other_organic(s: Serp, depth: int, cap: int | None = None) -> None:
    """Bing, Yahoo, Baidu and Seznam organic: ads on top, the ranked list, related searches
    (their item types are the same union as Google's: reference 8.4, UNCERTAIN which appear).
    With a `cap`, the answer holds no more items than that, every type counted."""
    room = cap if cap is not None else 1 << 30
    for _ in range(s.rng.choice((0, 1, 2)) if room > 3 else 0):
        s.add("paid", s.paid())
    related = room > 3
    for n in range(depth):
        if len(s.items) >= room - related:
            break
        s.add("organic", s.organic(google=True), paged=True)
        if n == 4 and s.rng.random() < 0.3 and len(s.items) < room - related - 1:
            s.add("video", s.video())
    if related:
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


def _reference(s: Serp, domain: str) -> dict[str, Any]:
    return {
        "type": "ai_overview_reference",
        "source": site_name(domain),
        "domain": domain,
        "url": s.url(domain),
        "title": s.text(3, 6),
        "text": s.text(8, 16),
    }


def _ai_mode_element(s: Serp) -> dict[str, Any]:
    """A paragraph of the answer (the official client's ai_overview_element of ai_mode)."""
    text = s.text(20, 40)
    title = s.text(2, 5) if s.rng.random() < 0.5 else None
    d = s.domain()
    return {
        "type": "ai_overview_element",
        "title": title,
        "text": text,
        "markdown": (f"### {title}\n\n" if title else "") + text,
        "links": [
            {
                "type": "link_element",
                "title": s.text(2, 4),
                "description": None,
                "url": s.url(d),
                "domain": d,
            }
        ]
        if s.rng.random() < 0.4
        else None,
        "images": [
            {
                "type": "images_element",
                "alt": s.text(2, 4),
                "url": s.url(d),
                "image_url": f"https://{d}/img/{s.rng.getrandbits(32):x}.jpg",
            }
        ]
        if s.rng.random() < 0.3
        else None,
        "references": [_reference(s, s.domain()) for _ in range(s.rng.randint(1, 3))],
    }


def _ai_mode_expanded(s: Serp) -> dict[str, Any]:
    """An expandable section: its components each with their own text and references."""
    components = []
    for _ in range(s.rng.randint(2, 4)):
        text = s.text(10, 20)
        components.append(
            {
                "type": "ai_overview_expanded_component",
                "title": s.text(2, 4),
                "text": text,
                "markdown": text,
                "images": None,
                "links": None,
                "references": [_reference(s, s.domain())],
            }
        )
    return {
        "type": "ai_overview_expanded_element",
        "title": s.text(2, 5),
        "text": None,
        "components": components,
        "references": None,
    }


def _ai_mode_video(s: Serp, datetime: str) -> dict[str, Any]:
    return {
        "type": "ai_overview_video_element",
        "title": s.text(3, 7),
        "snippet": s.text(6, 12),
        "url": f"https://www.youtube.com/watch?v={video_id(s.rng)}",
        "domain": "www.youtube.com",
        "image_url": f"https://i.ytimg.com/vi/{video_id(s.rng)}/hqdefault.jpg",
        "source": "YouTube",
        "date": None,
        "timestamp": datetime,
    }


def ai_mode(s: Serp, depth: int, datetime: str = "") -> None:
    """One ai_overview item: Google's AI Mode answer as the official client models it, its
    paragraphs with markdown, links, images and references, sometimes an expandable section
    and a video, the whole answer's markdown and references."""
    elements = [_ai_mode_element(s) for _ in range(s.rng.randint(2, 5))]
    if s.rng.random() < 0.5:
        elements.insert(s.rng.randint(1, len(elements)), _ai_mode_expanded(s))
    if s.rng.random() < 0.3:
        elements.append(_ai_mode_video(s, datetime))
    markdown = "\n\n".join(e["markdown"] for e in elements if e.get("markdown"))
    references = [r for e in elements for r in e.get("references") or ()]
    s.add("ai_overview", {"markdown": markdown, "items": elements, "references": references})
