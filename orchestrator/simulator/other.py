"""Google's other SERPs: autocomplete, dataset search and info, the ads transparency center
and finance, with the item types their task_get/advanced documents
(docs/endpoint-sources.md). Fewer fields are realistic here; every field is present."""

from typing import Any, Final
from urllib.parse import quote_plus

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


def _dataset(s: Serp, dataset_id: str | None = None) -> dict[str, Any]:
    ident = s.entity()
    provider = s.domain(ident)
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
        "formats": [{"type": "formats_element", "format": "csv", "size": None}],
        "authors": [{"type": "authors_element", "name": s.words(2, 2, ident).title(), "url": None}],
        "licenses": [
            {
                "type": "license",
                "title": "CC BY 4.0",
                "url": "https://creativecommons.org/licenses/by/4.0/",
                "domain": "creativecommons.org",
            }
        ],
        "updated_date": "2025-10-01 00:00:00 +00:00",
        "area_covered": [s.market.location.name.rsplit(",", 1)[-1]],
        "period_covered": {"start_date": "2010-01-01", "end_date": "2025-12-31"},
        "dataset_description": {"text": s.words(20, 40, ident).capitalize(), "links": None},
    }


# The filters Dataset Search shows above its results, as the result's refinement_chips
_DATASET_FILTERS: Final = ("Last updated", "Download format", "Usage rights", "Topic", "Free")


def dataset_search(s: Serp, depth: int) -> dict[str, Any]:
    """The datasets, and the result's refinement_chips (the docs' dataset_search result has
    them; the official client's 2.1.10 model does not, which loses nothing it reads)."""
    for _ in range(depth):
        s.add("dataset", _dataset(s))
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


def dataset_info(s: Serp, params: dict[str, Any]) -> None:
    s.add("dataset", _dataset(s, str(params.get("dataset_id") or "")))


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


def quoted(keyword: str) -> tuple[str, str] | None:
    """(ticker, exchange) of a finance_quote keyword, `GOOG:NASDAQ` as the docs give it."""
    ticker, sep, exchange = keyword.strip().upper().partition(":")
    if not sep or not ticker.replace(".", "").isalnum() or not exchange.isalnum():
        return None
    return ticker, exchange


def _instrument(
    s: Serp, kind: str, datetime: str, named: tuple[str, str] | None = None, prefix: str = ""
) -> dict[str, Any]:
    """A stock or an index; `named` (ticker, exchange) is the one asked for, and `prefix`
    starts the ticker of one a ticker search found."""
    ident = s.entity()
    ticker = prefix + "".join(ident.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=ident.randint(1, 3)))
    ticker, exchange = named or (ticker[:5], "NASDAQ")
    price = round(ident.uniform(5, 900), 2)
    delta = round(s.rng.uniform(-5, 5), 2)
    common = {
        "identifier": f"{ticker}:{exchange}",
        "displayed_name": f"{site_name(s.domain(ident))} Inc",
        "url": f"https://www.google.com/finance/quote/{ticker}:{exchange}",
        "location": "US",
        "trend": "up" if delta >= 0 else "down",
        "timestamp": datetime,
        "percentage_delta": round(delta / price * 100, 2),
    }
    if kind.startswith("google_finance_market_index"):
        return {
            **common,
            "ticker": ticker,
            "market_identifier": "INDEXNASDAQ",
            "index_value": price * 40,
            "index_value_delta": delta * 40,
        }
    return {
        **common,
        "ticker": ticker,
        "price": price,
        "price_delta": delta,
        "price_currency": "USD",
    }


def finance(s: Serp, se_type: str, datetime: str, keyword: str = "") -> None:
    """Finance pages: groups of instruments and news around the quote or the market. A
    quote is of the instrument its keyword names (`GOOG:NASDAQ`); markets are
    `{market, items}` as the spec has them."""
    element = "google_finance_market_instrument_element"
    s.add(
        "google_finance_hero_groups",
        {
            "markets": [
                {
                    "market": "US",
                    "items": [
                        {"type": element, **_instrument(s, element, datetime)} for _ in range(3)
                    ],
                }
            ]
        },
    )
    if se_type == "finance_quote":
        quote = {"type": element, **_instrument(s, element, datetime, quoted(keyword))}
        s.add("google_finance_quote", {"quote": quote, "graph_items": None})
        s.add(
            "google_finance_about",
            {
                "displayed_name": s.keyword.title(),
                "description": s.words(20, 40).capitalize(),
                "description_source_url": None,
                "ceo": None,
                "founded": None,
                "headquarters": None,
                "website": None,
                "employees": None,
            },
        )
    for kind in ("google_finance_interested", "google_finance_most_followed"):
        if se_type != "finance_quote":
            s.add(
                kind,
                {
                    "items": [
                        {"type": element, **_instrument(s, element, datetime)} for _ in range(4)
                    ]
                },
            )
    news = []
    for _ in range(4):
        d = s.domain()
        news.append(
            {
                "type": "google_finance_news_element",
                "title": s.text(5, 10),
                "source": site_name(d),
                "url": s.url(d),
                "image_url": None,
                "timestamp": datetime,
            }
        )
    s.add("google_finance_news", {"title": "Top news", "sub_title": None, "items": news})


def ticker_search(s: Serp, datetime: str, keyword: str = "") -> None:
    """Instruments whose ticker starts with the keyword's letters, as a ticker search finds
    them (`GOO`: GOOG, GOOGL, ...)."""
    prefix = "".join(ch for ch in keyword.upper() if ch.isalnum())[:4]
    for kind in ("google_finance_market_instrument", "google_finance_market_index"):
        for _ in range(3 if kind.endswith("instrument") else 1):
            s.add(kind, _instrument(s, kind, datetime, prefix=prefix))
