"""Advanced result items of Google's other verticals: news, images, jobs, events, AI Mode,
autocomplete, dataset search, the ads transparency center and finance. Fields from the
official client's models (docs/endpoint-sources.md); nested blocks whose shape varies stay
plain objects, kept whole."""

from typing import Any

import msgspec

from schemas.google import AiOverviewItem, TopStoriesItem
from schemas.items import Item, LinkElement, RelatedSearchesItem


class NewsSearchItem(Item, tag="news_search"):
    """An article of Google News: source, time and snippet."""

    title: str | None = None
    domain: str | None = None
    url: str | None = None
    image_url: str | None = None
    snippet: str | None = None
    time_published: str | None = None
    timestamp: str | None = None


class ImagesSearchItem(Item, tag="images_search"):
    """A picture of Google Images and the page it is on."""

    title: str | None = None
    subtitle: str | None = None
    alt: str | None = None
    url: str | None = None
    source_url: str | None = None
    encoded_url: str | None = None


class CarouselElement(msgspec.Struct, kw_only=True):
    type: str = "carousel_element"
    title: str | None = None
    subtitle: str | None = None
    image_url: str | None = None


class CarouselItem(Item, tag="carousel"):
    """A carousel of topics above the pictures."""

    title: str | None = None
    items: list[CarouselElement | None] | None = None


class GoogleJobsItem(Item, tag="google_jobs_item"):
    """A job posting: employer, place, source, salary and contract."""

    job_id: str | None = None
    title: str | None = None
    employer_name: str | None = None
    employer_url: str | None = None
    employer_image_url: str | None = None
    location: str | None = None
    source_name: str | None = None
    source_url: str | None = None
    salary: str | None = None
    contract_type: str | None = None
    timestamp: str | None = None
    time_ago: str | None = None


class EventItem(Item, tag="event_item"):
    """An event: its dates, its venue and where to get tickets."""

    title: str | None = None
    description: str | None = None
    url: str | None = None
    image_url: str | None = None
    event_dates: dict[str, Any] | None = None
    location_info: dict[str, Any] | None = None
    information_and_tickets: list[LinkElement | None] | None = None


class AutocompleteItem(Item, tag="autocomplete"):
    """One suggestion of Google's autocomplete."""

    relevance: int | None = None
    suggestion: str | None = None
    suggestion_type: str | None = None
    search_query_url: str | None = None
    thumbnail_url: str | None = None
    highlighted: list[str | None] | None = None


class DatasetItem(Item, tag="dataset"):
    """A dataset of Google Dataset Search."""

    dataset_id: str | None = None
    title: str | None = None
    image_url: str | None = None
    scholarly_citations_count: int | None = None
    scholarly_articles_url: str | None = None
    unique_identifier: str | None = None
    related_article: str | None = None
    links: list[dict[str, Any]] | None = None
    dataset_providers: list[dict[str, Any]] | None = None
    formats: list[dict[str, Any]] | None = None
    authors: list[dict[str, Any]] | None = None
    licenses: list[dict[str, Any]] | None = None
    updated_date: str | None = None
    area_covered: list[str | None] | None = None
    period_covered: dict[str, Any] | None = None
    dataset_description: dict[str, Any] | None = None


class AdsAdvertiserItem(Item, tag="ads_advertiser"):
    """An advertiser of the ads transparency center."""

    title: str | None = None
    advertiser_id: str | None = None
    location: str | None = None
    verified: bool | None = None
    approx_ads_count: int | None = None


class AdsMultiAccountAdvertiserItem(Item, tag="ads_multi_account_advertiser"):
    """An advertiser with several accounts."""

    title: str | None = None
    location: str | None = None
    approx_ads_count: int | None = None
    advertisers: list[dict[str, Any]] | None = None


class AdsDomainItem(Item, tag="ads_domain"):
    domain: str | None = None


class AdsSearchItem(Item, tag="ads_search"):
    """One ad (creative) of the ads transparency center."""

    advertiser_id: str | None = None
    creative_id: str | None = None
    title: str | None = None
    url: str | None = None
    verified: bool | None = None
    format: str | None = None
    preview_image: dict[str, Any] | None = None
    preview_url: str | None = None
    first_shown: str | None = None
    last_shown: str | None = None


class _FinanceInstrument(Item, kw_only=True):
    identifier: str | None = None
    displayed_name: str | None = None
    url: str | None = None
    location: str | None = None
    trend: str | None = None
    timestamp: str | None = None
    percentage_delta: float | None = None


class FinanceMarketInstrumentItem(_FinanceInstrument, tag="google_finance_market_instrument"):
    ticker: str | None = None
    price: float | None = None
    price_delta: float | None = None
    price_currency: str | None = None


class FinanceMarketIndexItem(_FinanceInstrument, tag="google_finance_market_index"):
    ticker: str | None = None
    market_identifier: str | None = None
    index_value: float | None = None
    index_value_delta: float | None = None


class FinanceAssetPairItem(_FinanceInstrument, tag="google_finance_asset_pair"):
    base_symbol: str | None = None
    quote_symbol: str | None = None
    base_display_name: str | None = None
    quote_display_name: str | None = None
    price: float | None = None
    price_delta: float | None = None


class FinanceBlockItem(Item, kw_only=True):
    """A block of a finance page; its instruments are kept as objects (their types vary)."""

    title: str | None = None
    sub_title: str | None = None
    url: str | None = None
    items: list[dict[str, Any]] | None = None
    markets: list[dict[str, Any]] | None = None


class FinanceHeroGroupsItem(FinanceBlockItem, tag="google_finance_hero_groups"):
    pass


class FinanceInterestedItem(FinanceBlockItem, tag="google_finance_interested"):
    pass


class FinanceMostFollowedItem(FinanceBlockItem, tag="google_finance_most_followed"):
    pass


class FinanceNewsItem(FinanceBlockItem, tag="google_finance_news"):
    pass


class FinanceMarketTrendsItem(FinanceBlockItem, tag="google_finance_explore_market_trends"):
    pass


class FinancePeopleAlsoSearchItem(FinanceBlockItem, tag="google_finance_people_also_search"):
    pass


class FinanceCompareToItem(FinanceBlockItem, tag="google_finance_compare_to"):
    pass


class FinanceQuoteItem(Item, tag="google_finance_quote"):
    quote: dict[str, Any] | None = None
    graph_items: list[dict[str, Any]] | None = None


class FinanceAboutItem(Item, tag="google_finance_about"):
    displayed_name: str | None = None
    description: str | None = None
    description_source_url: str | None = None
    ceo: str | None = None
    founded: str | None = None
    headquarters: str | None = None
    website: str | None = None
    employees: int | None = None


NewsItemUnion = NewsSearchItem | TopStoriesItem
ImagesItemUnion = ImagesSearchItem | CarouselItem | RelatedSearchesItem
AiModeItemUnion = AiOverviewItem
AdsAdvertisersItemUnion = AdsAdvertiserItem | AdsMultiAccountAdvertiserItem | AdsDomainItem
FinanceItemUnion = (
    FinanceHeroGroupsItem
    | FinanceInterestedItem
    | FinanceMostFollowedItem
    | FinanceNewsItem
    | FinanceMarketTrendsItem
    | FinancePeopleAlsoSearchItem
    | FinanceCompareToItem
    | FinanceQuoteItem
    | FinanceAboutItem
)
TickerSearchItemUnion = FinanceMarketInstrumentItem | FinanceMarketIndexItem | FinanceAssetPairItem
