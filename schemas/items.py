"""SERP item building blocks shared by every search engine: common fields, nested elements,
and the generic item that keeps any item type these structs do not know.

Items are a union tagged by `type`. msgspec has no fallback variant for an unknown tag
(msgspec issues #649, #691), so `decode.py` decodes each item on its own and turns an unknown
`type` into a `GenericItem` that keeps the raw JSON.
"""

from typing import Any

import msgspec


class Rectangle(msgspec.Struct, kw_only=True):
    """Pixel position of an item; only present with `calculate_rectangles`."""

    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None


class Rating(msgspec.Struct, kw_only=True):
    """Rating block: `rating_type` is Max5, Percents or CustomMax."""

    rating_type: str | None = None
    value: float | None = None
    votes_count: int | None = None
    rating_max: float | None = None


class LinkElement(msgspec.Struct, kw_only=True):
    """A sitelink or an extra link of an organic or paid item."""

    type: str = "link_element"
    title: str | None = None
    description: str | None = None
    url: str | None = None
    domain: str | None = None
    ad_aclk: str | None = None


class FaqBoxElement(msgspec.Struct, kw_only=True):
    """One question of an FAQ box."""

    type: str = "faq_box_element"
    title: str | None = None
    description: str | None = None
    links: list[LinkElement] | None = None


class FaqBox(msgspec.Struct, kw_only=True):
    """FAQ rich snippet attached to an organic result."""

    type: str = "faq_box"
    items: list[FaqBoxElement] | None = None


class ImagesElement(msgspec.Struct, kw_only=True):
    """One picture of an images block (`url` is the page, `image_url` the picture)."""

    type: str = "images_element"
    alt: str | None = None
    url: str | None = None
    image_url: str | None = None


class VideoElement(msgspec.Struct, kw_only=True):
    """One video of a video block."""

    type: str = "video_element"
    source: str | None = None
    title: str | None = None
    timestamp: str | None = None
    url: str | None = None


class PaidExtra(msgspec.Struct, kw_only=True):
    """Ad click tracking data of a paid item."""

    ad_aclk: str | None = None


class Item(msgspec.Struct, kw_only=True, tag_field="type"):
    """Fields every SERP item carries; subclasses set the `type` tag."""

    rank_group: int | None = None
    rank_absolute: int | None = None
    page: int | None = None
    position: str | None = None
    xpath: str | None = None
    rectangle: Rectangle | None = None


class RelatedSearchesItem(Item, tag="related_searches"):
    """Related search phrases."""

    items: list[str] | None = None


class MapItem(Item, tag="map"):
    """A map block."""

    title: str | None = None
    url: str | None = None


class VideoItem(Item, tag="video"):
    """A video carousel."""

    items: list[VideoElement] | None = None


class OrganicItem(Item, tag="organic"):
    """An organic result: the fields every engine's organic item has (Naver's set)."""

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


class PaidItem(Item, tag="paid"):
    """An ad: the fields every engine's paid item has (Naver's set)."""

    title: str | None = None
    domain: str | None = None
    breadcrumb: str | None = None
    url: str | None = None
    highlighted: list[str] | None = None
    extra: PaidExtra | None = None
    description: str | None = None
    description_rows: list[Any] | None = None
    links: list[LinkElement] | None = None


class LocalPackItem(Item, tag="local_pack"):
    """A place of a local pack."""

    title: str | None = None
    description: str | None = None
    domain: str | None = None
    phone: str | None = None
    url: str | None = None
    is_paid: bool | None = None
    rating: Rating | None = None
    cid: str | None = None


class ImagesItem(Item, tag="images"):
    """An image carousel."""

    title: str | None = None
    url: str | None = None
    items: list[ImagesElement] | None = None


class GenericItem(msgspec.Struct, kw_only=True):
    """An item of a type the structs do not know: common fields plus the item's raw JSON.

    `raw` holds the exact bytes of the item; `msgspec.json.decode(item.raw)` gives every field.
    """

    type: str = ""  # an item with no type at all (an html page) is kept too
    rank_group: int | None = None
    rank_absolute: int | None = None
    page: int | None = None
    position: str | None = None
    xpath: str | None = None
    raw: msgspec.Raw = msgspec.Raw(b"")


class Spell(msgspec.Struct, kw_only=True):
    """Spelling correction the search engine applied."""

    keyword: str | None = None
    type: str | None = None


class AdvancedResultBase(msgspec.Struct, kw_only=True):
    """`result[0]` fields shared by every SERP advanced endpoint (items excluded)."""

    keyword: str | None = None
    type: str | None = None
    se_domain: str | None = None
    location_code: int | None = None
    language_code: str | None = None
    check_url: str | None = None
    datetime: str | None = None
    spell: Spell | None = None
    refinement_chips: dict[str, Any] | None = None
    item_types: list[str] | None = None
    se_results_count: int | None = None
    pages_count: int | None = None
    items_count: int | None = None
    # Fields only some endpoints' results carry (news; YouTube's video endpoints).
    includes_non_news_search_results: bool | None = None
    video_id: str | None = None
    title: str | None = None
    comments_count: int | None = None
    subtitles_count: int | None = None
    category: str | None = None
    origin_language: str | None = None
    translate_language: str | None = None
    unsupported_language: bool | None = None
