"""Google Finance's pages: explore, markets, a quote and a ticker search, with the item types
their task_get/advanced documents. `news_type` and `market_type` pick the tab the page shows
(docs/endpoint-sources.md)."""

from typing import Any, Final

from orchestrator.simulator.serp import Serp, site_name


def quoted(keyword: str) -> tuple[str, str] | None:
    """(ticker, exchange) of a finance_quote keyword, `GOOG:NASDAQ` as the docs give it."""
    ticker, sep, exchange = keyword.strip().upper().partition(":")
    if not sep or not ticker.replace(".", "").isalnum() or not exchange.isalnum():
        return None
    return ticker, exchange


def _instrument(
    s: Serp,
    kind: str,
    datetime: str,
    named: tuple[str, str] | None = None,
    prefix: str = "",
    trend: int = 0,
) -> dict[str, Any]:
    """A stock or an index; `named` (ticker, exchange) is the one asked for, and `prefix`
    starts the ticker of one a ticker search found. `trend` 1 is a gainer, -1 a loser."""
    ident = s.entity()
    ticker = prefix + "".join(ident.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=ident.randint(1, 3)))
    ticker, exchange = named or (ticker[:5], "NASDAQ")
    price = round(ident.uniform(5, 900), 2)
    delta = round(s.rng.uniform(-5, 5), 2)
    if trend:
        delta = trend * round(s.rng.uniform(0.01, 5), 2)
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
            "market_identifier": exchange if named else "INDEXNASDAQ",
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


# The tabs of Google Finance's pages, as they are titled there (INFERRED: the docs list the
# values, not how the page shows them): news_type on explore, market_type on markets.
NEWS_TABS: Final = {
    "top_stories": "Top stories",
    "local_market": "Local market",
    "world_markets": "World markets",
}
MARKET_TABS: Final = {
    "most-active": "Most active",
    "indexes": "Market indexes",
    "indexes/americas": "Americas",
    "indexes/europe-middle-east-africa": "Europe, Middle East, and Africa",
    "indexes/asia-pacific": "Asia Pacific",
    "gainers": "Gainers",
    "losers": "Losers",
    "climate-leaders": "Climate leaders",
    "cryptocurrencies": "Crypto",
    "currencies": "Currencies",
}
# Each region's indexes as Google Finance names them, and the spec's `market` of the region.
_INDEXES: Final = {
    "US": (".DJI:INDEXDJX", ".INX:INDEXSP", ".IXIC:INDEXNASDAQ"),
    "Europe": ("DAX:INDEXDB", "UKX:INDEXFTSE", "PX1:INDEXEURO"),
    "Asia": ("NI225:INDEXNIKKEI", "HSI:INDEXHANGSENG", "000001:SHA"),
}
_REGION_OF_TAB: Final = {
    "indexes/americas": "US",
    "indexes/europe-middle-east-africa": "Europe",
    "indexes/asia-pacific": "Asia",
}
_PAIRS: Final = {
    "cryptocurrencies": (("BTC", "USD"), ("ETH", "USD"), ("SOL", "USD"), ("XRP", "USD")),
    "currencies": (("EUR", "USD"), ("USD", "JPY"), ("GBP", "USD"), ("USD", "CHF")),
}
ELEMENT: Final = "google_finance_market_instrument_element"


def _pair(s: Serp, base: str, quote: str, datetime: str) -> dict[str, Any]:
    """A currency or crypto pair (`BTC-USD`), as the asset pair element carries it."""
    price = round(s.rng.uniform(0.5, 90_000 if quote == "USD" and base != "EUR" else 2), 4)
    delta = round(price * s.rng.uniform(-0.03, 0.03), 4)
    return {
        "type": "google_finance_asset_pair_element",
        "identifier": f"{base}-{quote}",
        "displayed_name": f"{base} / {quote}",
        "url": f"https://www.google.com/finance/quote/{base}-{quote}",
        "location": None,
        "trend": "up" if delta >= 0 else "down",
        "timestamp": datetime,
        "percentage_delta": round(delta / price * 100, 2),
        "base_symbol": base,
        "quote_symbol": quote,
        "base_display_name": base,
        "quote_display_name": quote,
        "price": price,
        "price_delta": delta,
    }


def _index(s: Serp, identifier: str, datetime: str) -> dict[str, Any]:
    ticker, exchange = identifier.split(":")
    kind = "google_finance_market_index_element"
    return {"type": kind, **_instrument(s, kind, datetime, (ticker, exchange))}


def _market_tab(s: Serp, market_type: str, datetime: str) -> dict[str, Any]:
    """The instruments of a markets tab: a region's indexes, pairs, gainers rising, losers
    falling, stocks otherwise."""
    if market_type.startswith("indexes"):
        regions = [_REGION_OF_TAB[market_type]] if market_type in _REGION_OF_TAB else _INDEXES
        items = [_index(s, name, datetime) for region in regions for name in _INDEXES[region]]
    elif market_type in _PAIRS:
        items = [_pair(s, base, quote, datetime) for base, quote in _PAIRS[market_type]]
    else:
        trend = {"gainers": 1, "losers": -1}.get(market_type, 0)
        items = [
            {"type": ELEMENT, **_instrument(s, ELEMENT, datetime, trend=trend)} for _ in range(6)
        ]
    return {"title": MARKET_TABS[market_type], "sub_title": None, "items": items}


def finance(s: Serp, se_type: str, datetime: str, params: dict[str, Any]) -> None:
    """Finance pages: groups of instruments and news around the quote or the market. A
    quote is of the instrument its keyword names (`GOOG:NASDAQ`); markets are
    `{market, items}` as the spec has them; explore's news are of its `news_type` tab, and
    markets show its `market_type` tab (INFERRED as an explore_market_trends block)."""
    market_type = str(params.get("market_type") or "indexes")
    region = _REGION_OF_TAB.get(market_type, "US") if se_type == "finance_markets" else "US"
    heroes = [_index(s, name, datetime) for name in _INDEXES[region]]
    s.add("google_finance_hero_groups", {"markets": [{"market": region, "items": heroes}]})
    if se_type == "finance_quote":
        named = quoted(s.keyword)
        quote = {"type": ELEMENT, **_instrument(s, ELEMENT, datetime, named)}
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
    if se_type == "finance_markets" and market_type in MARKET_TABS:
        s.add("google_finance_explore_market_trends", _market_tab(s, market_type, datetime))
    for kind in ("google_finance_interested", "google_finance_most_followed"):
        if se_type != "finance_quote":
            items = [{"type": ELEMENT, **_instrument(s, ELEMENT, datetime)} for _ in range(4)]
            s.add(kind, {"items": items})
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
    title = NEWS_TABS.get(str(params.get("news_type") or "top_stories"), "Top stories")
    s.add("google_finance_news", {"title": title, "sub_title": None, "items": news})


def ticker_search(s: Serp, datetime: str, keyword: str = "") -> None:
    """Instruments whose ticker starts with the keyword's letters, as a ticker search finds
    them (`GOO`: GOOG, GOOGL, ...)."""
    prefix = "".join(ch for ch in keyword.upper() if ch.isalnum())[:4]
    for kind in ("google_finance_market_instrument", "google_finance_market_index"):
        for _ in range(3 if kind.endswith("instrument") else 1):
            s.add(kind, _instrument(s, kind, datetime, prefix=prefix))
