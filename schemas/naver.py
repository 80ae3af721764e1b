"""Advanced result items of `naver/organic` (seed page S3; reference section 8.2).

Naver's items are exactly the shared shapes of `schemas.items`. Naver has no location or
language: results carry `location_code: 0`, `language_code: ""`, and `rectangle` is always null
(no `calculate_rectangles`).
"""

from schemas.items import (
    ImagesItem,
    LocalPackItem,
    MapItem,
    OrganicItem,
    PaidItem,
    RelatedSearchesItem,
    VideoItem,
)

NaverOrganicItemUnion = (
    OrganicItem | PaidItem | RelatedSearchesItem | LocalPackItem | MapItem | VideoItem | ImagesItem
)
