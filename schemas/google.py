"""Advanced result items of `google/organic` and `google/search_by_image` (reference 8.3, 8.4).

Only the item types an SEO team ranks on are typed; the other 30-odd Google types
(answer_box, shopping, ...) decode as `GenericItem` with their raw JSON.
"""

from typing import Any

import msgspec

from schemas.items import (
    ImagesElement,
    ImagesItem,
    Item,
    LocalPackItem,
    OrganicItem,
    PaidItem,
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


class GoogleOrganicItem(OrganicItem, tag="organic"):
    """An organic result on Google (also used by search_by_image): Google's extra fields."""

    related_search_url: str | None = None
    website_name: str | None = None
    images: list[ImagesElement] | None = None
    price: Price | None = None
    about_this_result: AboutThisResult | None = None
    related_result: list[dict[str, Any]] | None = None
    checks: dict[str, bool] | None = None


class GooglePaidItem(PaidItem, tag="paid"):
    """A Google ad: Google's extra fields."""

    website_name: str | None = None
    is_image: bool | None = None
    is_video: bool | None = None
    checks: dict[str, bool] | None = None
    images: list[ImagesElement] | None = None
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


class GoogleLocalPackItem(LocalPackItem, tag="local_pack"):
    """A place of Google's local pack, which may offer booking."""

    booking_url: str | None = None


class GoogleImagesItem(ImagesItem, tag="images"):
    """An image block (Google organic and search_by_image) with related image searches."""

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
