"""Advanced result items of `naver/organic` (seed page S3; reference section 8.2).

Naver has no location or language: results carry `location_code: 0`, `language_code: ""`,
and `rectangle` is always null (no `calculate_rectangles`).
"""

from typing import Any

from schemas.items import (
    FaqBox,
    ImagesElement,
    Item,
    LinkElement,
    MapItem,
    PaidExtra,
    Rating,
    RelatedSearchesItem,
    VideoItem,
)


class NaverOrganicItem(Item, tag="organic"):
    """An organic result on Naver."""

    domain: str | None = None
    title: str | None = None
    url: str | None = None
    cache_url: str | None = None
    breadcrumb: str | None = None
    is_image: bool | None = None
    is_video: bool | None = None
    is_featured_snippet: bool | None = None
    is_malicious: bool | None = None
    is_web_story: bool | None = None
    description: str | None = None
    pre_snippet: str | None = None
    extended_snippet: str | None = None
    amp_version: bool | None = None
    rating: Rating | None = None
    highlighted: list[str] | None = None
    links: list[LinkElement] | None = None
    faq: FaqBox | None = None
    extended_people_also_search: list[str] | None = None
    timestamp: str | None = None


class NaverPaidItem(Item, tag="paid"):
    """An ad on Naver."""

    title: str | None = None
    domain: str | None = None
    breadcrumb: str | None = None
    url: str | None = None
    highlighted: list[str] | None = None
    extra: PaidExtra | None = None
    description: str | None = None
    description_rows: list[Any] | None = None
    links: list[LinkElement] | None = None


class NaverLocalPackItem(Item, tag="local_pack"):
    """A place of Naver's local pack."""

    title: str | None = None
    description: str | None = None
    domain: str | None = None
    phone: str | None = None
    url: str | None = None
    is_paid: bool | None = None
    rating: Rating | None = None
    cid: str | None = None


class NaverImagesItem(Item, tag="images"):
    """An image carousel on Naver."""

    title: str | None = None
    url: str | None = None
    items: list[ImagesElement] | None = None


NaverOrganicItemUnion = (
    NaverOrganicItem
    | NaverPaidItem
    | RelatedSearchesItem
    | NaverLocalPackItem
    | MapItem
    | VideoItem
    | NaverImagesItem
)
