"""Google's other SERPs: autocomplete, dataset search and info, the ads transparency center
and finance, with the item types their task_get/advanced documents
(docs/endpoint-sources.md). Fewer fields are realistic here; every field is present."""

from typing import Any, Final
from urllib.parse import quote_plus

from orchestrator.simulator.clock import format_datetime, parse_datetime
from orchestrator.simulator.serp import Serp, site_name


def autocomplete(s: Serp, params: dict[str, Any]) -> None:
    keyword = s.keyword
    for n in range(10):
        suggestion = f"{keyword} {s.words(1, 2)}".strip()
        s.add(
            "autocomplete",
            {
                "relevance": 1250 - 50 * n if params.get("client") == "chrome" else None,
                "suggestion": suggestion,
                "suggestion_type": None,
                "search_query_url": f"https://www.google.com/search?q={quote_plus(suggestion)}",
                "thumbnail_url": None,
                "highlighted": None,
            },
        )


# What Dataset Search's filters mean for a dataset (INFERRED: the docs list the values only).
# `last_updated`: how recently it changed; `file_formats`: the kinds its files are of;
# `usage_rights`: whether its license allows commercial use.
_UPDATED_DAYS: Final = {"1m": 30, "1y": 365, "3y": 3 * 365}
_FORMATS: Final = {
    "tabular": ("csv", "xlsx"),
    "document": ("pdf", "docx"),
    "text": ("txt",),
    "image": ("png", "jpg"),
    "archive": ("zip",),
    "other": ("json",),
}
_LICENSES: Final = {
    "commercial": (
        ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
        ("CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ),
    "noncommercial": (("CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/"),),
}


def _dataset(
    s: Serp, datetime: str, params: dict[str, Any], dataset_id: str | None = None
) -> dict[str, Any]:
    """One dataset, within the filters of `params` (last_updated, file_formats, usage_rights)."""
    ident = s.entity()
    provider = s.domain(ident)
    within = _UPDATED_DAYS.get(str(params.get("last_updated")), 10 * 365)
    updated = parse_datetime(datetime) - 86400 * ident.randint(0, within - 1)
    kinds = [k for k in params.get("file_formats") or () if k in _FORMATS] or list(_FORMATS)
    formats = {ident.choice(_FORMATS[ident.choice(kinds)]) for _ in range(ident.randint(1, 2))}
    rights = str(params.get("usage_rights"))
    licence, licence_url = ident.choice(
        _LICENSES.get(rights, (*_LICENSES["commercial"], *_LICENSES["noncommercial"]))
    )
    return {
        "dataset_id": dataset_id or f"L2cvMTFq{ident.getrandbits(48):x}",
        "title": s.text(3, 8, ident),
        "image_url": None,
        "scholarly_citations_count": ident.randint(0, 300),
        "scholarly_articles_url": None,
        "unique_identifier": f"doi:10.{ident.randint(1000, 9999)}/{ident.getrandbits(24):x}",
        "related_article": None,
        "links": [
            {
                "type": "link_element",
                "title": site_name(provider),
                "snippet": None,
                "description": None,
                "url": s.url(provider, ident),
                "domain": provider,
            }
        ],
        "dataset_providers": [
            {
                "type": "dataset_provider",
                "title": site_name(provider),
                "url": f"https://{provider}/",
                "domain": provider,
            }
        ],
        "formats": [
            {"type": "formats_element", "format": f, "size": None} for f in sorted(formats)
        ],
        "authors": [{"type": "authors_element", "name": s.words(2, 2, ident).title(), "url": None}],
        "licenses": [
            {
                "type": "license",
                "title": licence,
                "url": licence_url,
                "domain": "creativecommons.org",
            }
        ],
        "updated_date": format_datetime(updated - updated % 86400),
        "area_covered": [s.market.location.name.rsplit(",", 1)[-1]],
        "period_covered": {"start_date": "2010-01-01", "end_date": "2025-12-31"},
        "dataset_description": {"text": s.words(20, 40, ident).capitalize(), "links": None},
    }


# The filters Dataset Search shows above its results, as the result's refinement_chips
_DATASET_FILTERS: Final = ("Last updated", "Download format", "Usage rights", "Topic", "Free")


def dataset_search(s: Serp, depth: int, datetime: str, params: dict[str, Any]) -> dict[str, Any]:
    """The datasets, within the request's filters, and the result's refinement_chips (the
    docs' dataset_search result has them; the official client's 2.1.10 model does not, which
    loses nothing it reads). `is_free` and `topics` have no field to show their effect."""
    for _ in range(depth):
        s.add("dataset", _dataset(s, datetime, params))
    chips = [
        {
            "type": "refinement_chips_element",
            "title": title,
            "url": None,
            "domain": None,
            "options": None,
        }
        for title in _DATASET_FILTERS
    ]
    return {"refinement_chips": {"type": "refinement_chips", "xpath": None, "items": chips}}


def dataset_info(s: Serp, datetime: str, params: dict[str, Any]) -> None:
    """The dataset its `dataset_id` names."""
    s.add("dataset", _dataset(s, datetime, {}, str(params.get("dataset_id") or "")))


def ads_advertisers(s: Serp) -> None:
    country = s.market.location.name.rsplit(",", 1)[-1]
    for _ in range(s.rng.randint(3, 8)):
        ident = s.entity()
        s.add(
            "ads_advertiser",
            {
                "title": f"{site_name(s.domain(ident))} Inc.",
                "advertiser_id": f"AR{ident.getrandbits(64):020d}"[:22],
                "location": country,
                "verified": ident.random() < 0.8,
                "approx_ads_count": ident.randint(1, 20000),
            },
        )
    s.add("ads_domain", {"domain": s.domain()})


def ads_search(s: Serp, depth: int) -> None:
    for _ in range(depth):
        ident = s.entity()
        domain = s.domain(ident)
        creative = f"CR{ident.getrandbits(64):020d}"[:22]
        s.add(
            "ads_search",
            {
                "advertiser_id": f"AR{ident.getrandbits(64):020d}"[:22],
                "creative_id": creative,
                "title": f"{site_name(domain)} Inc.",
                "url": f"https://adstransparency.google.com/advertiser/creative/{creative}",
                "verified": True,
                "format": ident.choice(("text", "image", "video")),
                "preview_image": {"url": None, "height": 250, "width": 300},
                "preview_url": None,
                "first_shown": "2026-01-10 00:00:00 +00:00",
                "last_shown": "2026-11-20 00:00:00 +00:00",
            },
        )
