"""The builder of one simulated SERP: items with their rank bookkeeping, and the pieces most
endpoints share (text and links of the market, ratings, organic and paid results, places).

Identity and the day are kept apart: `entity()` hands out the next result of the day's
ranking as a generator seeded by that result alone, so the same page, place or video keeps
its URL, name and address from day to day while its rank moves (`generator.ranked_candidates`).
"""

import random
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.simulator.markets import (
    HEAD_SHARE,
    TAIL_SIZE,
    Location,
    city_of,
    domains_for,
    tail_domain,
    words_for,
)

# Of a SERP's results, on each of the user's own domains (`--domains`): 0.7% of a top 100 is
# a domain found in about half the SERPs, at ranks that differ by keyword.
OWN_SHARE: Final = 0.007
XPATH: Final = "/html[1]/body[1]/div[3]/div[2]/div[1]/div[1]/div[{}]/div[1]"
_BARE: Final = ("page", "position", "xpath", "rectangle")
# The common item fields each type does not have (the official client's models): `add`
# leaves them out.
LACKS: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(
        (
            "maps_search maps_paid_item autocomplete ads_search ads_advertiser ads_domain "
            "ads_multi_account_advertiser youtube_video youtube_video_paid youtube_channel "
            "youtube_playlist youtube_video_info youtube_comment youtube_subtitles "
            "google_finance_hero_groups google_finance_interested google_finance_most_followed "
            "google_finance_news google_finance_quote google_finance_about "
            "google_finance_market_instrument google_finance_market_index "
            "google_finance_asset_pair"
        ).split(),
        _BARE,
    ),
    "images_search": ("page", "position", "rectangle"),
    "news_search": ("page", "position"),
    "dataset": ("page", "rectangle"),
    "event_item": ("page", "rectangle"),
    "google_jobs_item": ("page",),
}
PHONE: Final[dict[str, str]] = {
    "US": "+1 {a:03d}-{b:03d}-{c:04d}",
    "CA": "+1 {a:03d}-{b:03d}-{c:04d}",
    "GB": "+44 20 {b:04d} {c:04d}",
    "DE": "+49 30 {b:04d}{c:03d}",
    "FR": "+33 1 {a:02d} {b:02d} {c:02d} {a:02d}",
    "KR": "+82 2-{b:04d}-{c:04d}",
    "JP": "+81 3-{b:04d}-{c:04d}",
}
STREETS: Final[dict[str, tuple[str, ...]]] = {
    "en": ("Main St", "Oak Ave", "Broadway", "Market St", "High St", "Park Rd"),
    "de": ("Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenweg", "Lindenallee"),
    "fr": ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue du Bac"),
    "ko": ("테헤란로", "강남대로", "세종대로", "올림픽로"),
}


@dataclass(frozen=True, slots=True)
class Market:
    """Where and in which language one task searches."""

    se: str
    location: Location
    language: str
    own: tuple[str, ...] = ()  # the user's domains (`simulate --domains`), in some SERPs

    @property
    def words(self) -> tuple[str, ...]:
        return words_for(self.language)

    @property
    def domains(self) -> tuple[str, ...]:
        return domains_for(self.location.country, self.language)


class Serp:
    """Builds the items of one SERP, keeping rank_group per type and rank_absolute."""

    def __init__(
        self,
        rng: random.Random,
        keyword: str,
        market: Market,
        *,
        rectangles: bool = False,
        per_page: int = 10,
        pool_seed: int = 0,
        order: list[int] | None = None,
    ) -> None:
        self.rng = rng
        self.keyword = keyword
        self.market = market
        self.rectangles = rectangles
        self.per_page = per_page
        self.items: list[dict[str, Any]] = []
        self._groups: dict[str, int] = {}
        self._pool_seed = pool_seed
        self._order = list(reversed(order or []))  # popped from the end: best first
        self._extra = 1 << 20  # entities past the ranked pool: this day's only
        self._ranked = 0

    def entity(self) -> random.Random:
        """The next result of the day's ranking, as a generator of its lasting fields."""
        if self._order:
            index = self._order.pop()
        else:
            self._extra += 1
            index = self._extra
        return random.Random(self._pool_seed * 1_000_003 + index)

    def text(self, low: int, high: int, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        words = rng.choices(self.market.words, k=rng.randint(low, high))
        return " ".join([self.keyword, *words]).strip().capitalize()

    def words(self, low: int, high: int, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        return " ".join(rng.choices(self.market.words, k=rng.randint(low, high)))

    def domain(self, rng: random.Random | None = None) -> str:
        """A result's site: a well-known one of the market, one of the user's own (their
        domains show up in about half the SERPs, each at its own rank), or the long tail."""
        rng = rng or self.rng
        draw, own = rng.random(), OWN_SHARE * len(self.market.own)
        if draw < own:
            return rng.choice(self.market.own)
        if draw < own + HEAD_SHARE:
            return rng.choice(self.market.domains)
        return tail_domain(self.market.location.country, rng.randrange(TAIL_SIZE))

    def url(self, domain: str, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        slug = "-".join(w for w in rng.choices(WORDS_ASCII, k=3))
        return f"https://{domain}/{slug}/{rng.randint(1, 99999)}"

    def add(
        self,
        kind: str,
        fields: dict[str, Any],
        position: str = "left",
        paged: bool = False,
        omit: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Append an item; `paged` items (the ranked list) count pages, others sit on the
        page the ranked list has reached. The common fields its type lacks are left out, and
        those in `omit` (where an endpoint's example shows fewer than the type's model)."""
        group = self._groups.get(kind, 0) + 1
        self._groups[kind] = group
        absolute = len(self.items) + 1
        rect = None
        if self.rectangles:
            rect = {"x": 20.0, "y": 120.0 * absolute, "width": 600.0, "height": 110.0}
        if paged:
            self._ranked += 1
        page = 1 + max(0, self._ranked - 1) // self.per_page
        item = {
            "type": kind,
            "rank_group": group,
            "rank_absolute": absolute,
            "page": page,
            "position": position,
            "xpath": XPATH.format(absolute),
            **fields,
            "rectangle": rect,
        }
        for name in (*LACKS.get(kind, ()), *omit):
            item.pop(name, None)
        self.items.append(item)
        return item

    def rating(self, rng: random.Random | None = None, chance: float = 1.0) -> Any:
        rng = rng or self.rng
        if rng.random() >= chance:
            return None
        return {
            "rating_type": "Max5",
            "value": round(rng.uniform(3.2, 5.0), 1),
            "votes_count": rng.randint(3, 9000),
            "rating_max": 5,
        }

    def links(self, domain: str, count: int) -> list[dict[str, Any]] | None:
        if count == 0:
            return None
        return [
            {
                "type": "link_element",
                "title": self.words(1, 3).capitalize(),
                "description": None,
                "url": self.url(domain),
            }
            for _ in range(count)
        ]

    def phone(self, rng: random.Random) -> str:
        pattern = PHONE.get(self.market.location.country, "+1 {a:03d}-{b:03d}-{c:04d}")
        return pattern.format(a=rng.randint(20, 99), b=rng.randint(100, 999), c=rng.randint(0, 999))

    def address(self, rng: random.Random) -> tuple[str, dict[str, Any]]:
        """A street address in the task's location, and its `address_info` block."""
        lang = self.market.language.split("-")[0]
        street = rng.choice(STREETS.get(lang, STREETS["en"]))
        number = rng.randint(1, 400)
        city = city_of(self.market.location)[0]
        zip_code = f"{rng.randint(10000, 99999)}"
        line = f"{street} {number}" if lang == "de" else f"{number} {street}"
        info = {
            "borough": None,
            "address": line,
            "city": city,
            "zip": zip_code,
            "region": None,
            "country_code": self.market.location.country,
        }
        return f"{line}, {zip_code} {city}", info

    def organic(self, google: bool) -> dict[str, Any]:
        rng = self.rng
        ident = self.entity()
        domain = self.domain(ident)
        url = self.url(domain, ident)
        fields: dict[str, Any] = {
            "domain": domain,
            "title": self.text(4, 9, ident),
            "url": url,
            "cache_url": None,
            "breadcrumb": f"https://{domain} › {self.words(1, 1, ident)}",  # noqa: RUF001 - as Google shows it
            "is_image": False,
            "is_video": domain.endswith("youtube.com"),
            "is_featured_snippet": False,
            "is_malicious": False,
            "is_web_story": False,
            "description": self.text(18, 40),
            "pre_snippet": None,
            "extended_snippet": None,
            "amp_version": False,
            "rating": self.rating(ident, 0.15),
            "highlighted": [self.keyword] if self.keyword else None,
            "links": self.links(domain, rng.choice((0, 0, 2, 4))),
            "faq": None,
            "extended_people_also_search": None,
            "timestamp": None,
        }
        if google:
            fields.update(
                related_search_url=None,
                website_name=site_name(domain),
                images=None,
                price=None,
                about_this_result={
                    "type": "about_this_result_element",
                    "url": url,
                    "source": domain,
                    "source_info": self.words(10, 25, ident).capitalize(),
                    "source_url": f"https://{domain}/about",
                    "language": self.market.language,
                    "location": self.market.location.name.rsplit(",", 1)[-1],
                    "search_terms": [self.keyword],
                    "related_terms": list(rng.choices(self.market.words, k=3)),
                },
                related_result=None,
            )
        return fields

    def paid(self, google: bool = True) -> dict[str, Any]:
        """An ad: Naver's fields (reference 8.2), and Google's more (8.4) for the others."""
        domain = self.domain()
        fields: dict[str, Any] = {
            "domain": domain,
            "title": self.text(3, 7),
            "url": self.url(domain),
            "breadcrumb": domain,
            "description": self.text(10, 20),
            "highlighted": None,
            "extra": {"ad_aclk": f"DChcSEw{self.rng.getrandbits(48):x}"},
            "description_rows": None,
            "links": None,
        }
        if google:
            with_price = self.rng.random() < 0.3
            fields.update(
                website_name=site_name(domain),
                is_image=False,
                is_video=False,
                images=None,
                price=self.price() if with_price else None,
                rating=self.rating(chance=0.2),
            )
        return fields

    def price(self) -> dict[str, Any]:
        current = round(self.rng.uniform(5, 900), 2)
        currency = {"US": "USD", "GB": "GBP", "KR": "KRW", "JP": "JPY"}.get(
            self.market.location.country, "EUR"
        )
        return {
            "current": current,
            "regular": None,
            "max_value": None,
            "currency": currency,
            "is_price_range": False,
            "displayed_price": f"{current:.2f} {currency}",
        }

    def image_elements(self, count: int, image_url: bool) -> list[dict[str, Any]]:
        elements = []
        for _ in range(count):
            element = {
                "type": "images_element",
                "alt": self.words(1, 3),
                "url": self.url(self.domain()),
            }
            if image_url:
                element["image_url"] = (
                    f"https://encrypted-tbn0.gstatic.com/images?q=tbn:{self.rng.getrandbits(64):x}"
                )
            elements.append(element)
        return elements

    def video(self) -> dict[str, Any]:
        return {
            "items": [
                {
                    "type": "video_element",
                    "source": "YouTube",
                    "title": self.text(3, 8),
                    "timestamp": "2026-01-15 00:00:00 +00:00",
                    "url": f"https://www.youtube.com/watch?v={video_id(self.rng)}",
                }
                for _ in range(self.rng.randint(2, 4))
            ]
        }

    def local_pack(self, ident: random.Random | None = None, google: bool = True) -> dict[str, Any]:
        ident = ident or self.entity()
        place = {
            "title": self.words(1, 3, ident).title(),
            "description": self.words(3, 8),
            "domain": None,
            "phone": self.phone(ident),
            "booking_url": None,
            "url": None,
            "is_paid": False,
            "rating": self.rating(ident),
            "cid": str(ident.getrandbits(63)),
        }
        if not google:  # Naver's place has no booking link (reference 8.2)
            del place["booking_url"]
        return place

    def related(self) -> dict[str, Any]:
        return {"items": [f"{self.keyword} {self.words(1, 2)}".strip() for _ in range(8)]}


WORDS_ASCII: Final = tuple(
    "best cheap online review price buy guide top new free official store compare deals sale "
    "shop fast local service repair rent used tips list today".split()
)
_ID_CHARS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def video_id(rng: random.Random) -> str:
    """An 11-character YouTube video id."""
    return "".join(rng.choices(_ID_CHARS, k=11))


def site_name(domain: str) -> str:
    parts = domain.removeprefix("www.").split(".")
    return (
        parts[0].title() if parts[0] not in ("en", "de", "fr", "blog", "news") else parts[1].title()
    )
