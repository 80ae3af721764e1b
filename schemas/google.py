"""Advanced result items of `google/organic` and `google/search_by_image` (reference 8.3, 8.4).

Only the item types an SEO team ranks on are typed; the other 30-odd Google types
(answer_box, shopping, ...) decode as `GenericItem` with their raw JSON.
"""

from typing import Any

import msgspec

from schemas.items import (
    FaqBox,
    ImagesElement,
    Item,
    LinkElement,
    PaidExtra,
    Rating,
    RelatedSearchesItem,
    VideoItem,
)


class Price(msgspec.Struct, kw_only=True):
    """Price shown in a snippet."""

    current: float | None = None
    regular: float | None = None
    max_value: float | None = None
    currency: str | None = None
    is_price_range: bool | None = None
    displayed_price: str | None = None


class AboutThisResult(msgspec.Struct, kw_only=True):
    """Google's 'about this result' panel."""

    type: str = "about_this_result_element"
    url: str | None = None
    source: str | None = None
    source_info: str | None = None
    source_url: str | None = None
    language: str | None = None
    location: str | None = None
    search_terms: list[str] | None = None
    related_terms: list[str] | None = None


class RelatedImageSearch(msgspec.Struct, kw_only=True):
    """A related image search suggestion."""

    type: str = "related_image_searches_element"
    title: str | None = None
    alt: str | None = None
    url: str | None = None
    image_url: str | None = None


class GoogleOrganicItem(Item, tag="organic"):
    """An organic result on Google (also used by search_by_image)."""

    domain: str | None = None
    title: str | None = None
    url: str | None = None
    cache_url: str | None = None
    related_search_url: str | None = None
    breadcrumb: str | None = None
    website_name: str | None = None
    is_image: bool | None = None
    is_video: bool | None = None
    is_featured_snippet: bool | None = None
    is_malicious: bool | None = None
    is_web_story: bool | None = None
    description: str | None = None
    pre_snippet: str | None = None
    extended_snippet: str | None = None
    images: list[ImagesElement] | None = None
    amp_version: bool | None = None
    rating: Rating | None = None
    price: Price | None = None
    highlighted: list[str] | None = None
    links: list[LinkElement] | None = None
    faq: FaqBox | None = None
    extended_people_also_search: list[str] | None = None
    about_this_result: AboutThisResult | None = None
    related_result: list[dict[str, Any]] | None = None
    timestamp: str | None = None
    checks: dict[str, bool] | None = None


class GooglePaidItem(Item, tag="paid"):
    """A Google ad."""

    domain: str | None = None
    title: str | None = None
    description: str | None = None
    url: str | None = None
    breadcrumb: str | None = None
    website_name: str | None = None
    is_image: bool | None = None
    is_video: bool | None = None
    checks: dict[str, bool] | None = None
    images: list[ImagesElement] | None = None
    highlighted: list[str] | None = None
    extra: PaidExtra | None = None
    description_rows: list[Any] | None = None
    links: list[LinkElement] | None = None
    price: Price | None = None
    rating: Rating | None = None


class FeaturedSnippetItem(Item, tag="featured_snippet"):
    """The answer box quoting one page."""

    domain: str | None = None
    title: str | None = None
    description: str | None = None
    url: str | None = None
    breadcrumb: str | None = None
    featured_title: str | None = None
    timestamp: str | None = None
    images: list[ImagesElement] | None = None
    table: dict[str, Any] | None = None


class PeopleAlsoAskElement(msgspec.Struct, kw_only=True):
    """One question of 'People also ask'."""

    type: str = "people_also_ask_element"
    title: str | None = None
    seed_question: str | None = None
    xpath: str | None = None
    expanded_element: list[dict[str, Any]] | None = None


class PeopleAlsoAskItem(Item, tag="people_also_ask"):
    """The 'People also ask' block."""

    items: list[PeopleAlsoAskElement] | None = None


class GoogleLocalPackItem(Item, tag="local_pack"):
    """A place of Google's local pack."""

    title: str | None = None
    description: str | None = None
    domain: str | None = None
    phone: str | None = None
    booking_url: str | None = None
    url: str | None = None
    is_paid: bool | None = None
    rating: Rating | None = None
    cid: str | None = None


class GoogleImagesItem(Item, tag="images"):
    """An image block (Google organic and search_by_image)."""

    title: str | None = None
    url: str | None = None
    items: list[ImagesElement] | None = None
    related_image_searches: list[RelatedImageSearch] | None = None


class TopStoriesItem(Item, tag="top_stories"):
    """The news carousel."""

    title: str | None = None
    items: list[dict[str, Any]] | None = None


class KnowledgeGraphItem(Item, tag="knowledge_graph"):
    """The knowledge panel; its sub-items are polymorphic and kept as objects."""

    title: str | None = None
    subtitle: str | None = None
    description: str | None = None
    card_id: str | None = None
    url: str | None = None
    image_url: str | None = None
    logo_url: str | None = None
    cid: str | None = None
    items: list[dict[str, Any]] | None = None


class AiOverviewItem(Item, tag="ai_overview"):
    """Google's AI overview with its cited references."""

    asynchronous_ai_overview: bool | None = None
    markdown: str | None = None
    items: list[dict[str, Any]] | None = None
    references: list[dict[str, Any]] | None = None


GoogleOrganicItemUnion = (
    GoogleOrganicItem
    | GooglePaidItem
    | FeaturedSnippetItem
    | PeopleAlsoAskItem
    | GoogleLocalPackItem
    | RelatedSearchesItem
    | GoogleImagesItem
    | VideoItem
    | TopStoriesItem
    | KnowledgeGraphItem
    | AiOverviewItem
)

GoogleSearchByImageItemUnion = GoogleOrganicItem | GoogleImagesItem
