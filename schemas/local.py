"""Advanced result items of the place endpoints: google/maps (`maps_search`,
`maps_paid_item`), google/local_finder and bing/local_pack (`local_pack`).

Fields from the official client's models (docs/endpoint-sources.md). Nested blocks whose
shape varies (work hours, justifications) stay plain objects: kept whole, never dropped.
"""

from typing import Any

import msgspec

from schemas.items import Item, LocalPackItem, Rating


class AddressInfo(msgspec.Struct, kw_only=True):
    """A place's address in parts."""

    borough: str | None = None
    address: str | None = None
    city: str | None = None
    zip: str | None = None
    region: str | None = None
    country_code: str | None = None


class MapsSearchItem(Item, tag="maps_search"):
    """A place on Google Maps: what a local rank tracker follows."""

    domain: str | None = None
    title: str | None = None
    url: str | None = None
    rating: Rating | None = None
    rating_distribution: dict[str, int | None] | None = None
    original_title: str | None = None
    contact_url: str | None = None
    contributor_url: str | None = None
    book_online_url: str | None = None
    hotel_rating: float | None = None
    price_level: str | None = None
    snippet: str | None = None
    address: str | None = None
    address_info: AddressInfo | None = None
    place_id: str | None = None
    phone: str | None = None
    main_image: str | None = None
    total_photos: int | None = None
    category: str | None = None
    additional_categories: list[str | None] | None = None
    category_ids: list[str | None] | None = None
    work_hours: dict[str, Any] | None = None
    feature_id: str | None = None
    cid: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    is_claimed: bool | None = None
    local_justifications: list[dict[str, Any]] | None = None
    is_directory_item: bool | None = None


class MapsPaidItem(Item, tag="maps_paid_item"):
    """An ad among the places of Google Maps."""

    domain: str | None = None
    title: str | None = None
    url: str | None = None
    rating: Rating | None = None
    rating_distribution: dict[str, int | None] | None = None


class LocalFinderItem(LocalPackItem, tag="local_pack"):
    """A place of Google's local finder (and local pack), which may offer booking."""

    booking_url: str | None = None


class BingLocalPackItem(LocalFinderItem, tag="local_pack"):
    """A place of Bing's local pack: whether its owner claimed it, too."""

    is_claimed: bool | None = None


GoogleMapsItemUnion = MapsSearchItem | MapsPaidItem
