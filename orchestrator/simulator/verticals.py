"""Google's vertical SERPs: maps, local finder, news, images, jobs and events, each with the
item types and fields its task_get/advanced documents (docs/endpoint-sources.md). Places,
articles and pictures are ranked entities: the same place keeps its name, cid and address
from day to day while its rank moves."""

import random
from datetime import date, timedelta
from typing import Any, Final

from orchestrator.simulator.markets import city_of
from orchestrator.simulator.serp import Serp, site_name

_FILTER_TRIES: Final = 20  # draws per wanted item when a filter leaves some out
# employment_type values (docs) and how a posting shows each
_CONTRACTS: Final = {
    "fulltime": "Full-time",
    "partime": "Part-time",
    "contractor": "Contractor",
    "intern": "Internship",
}
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_CATEGORIES = (
    "Restaurant",
    "Cafe",
    "Pizza restaurant",
    "Hardware store",
    "Dentist",
    "Hotel",
    "Car repair and maintenance service",
    "Electronics store",
    "Bakery",
    "Gym",
)


def datetime_of(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00"


def _work_hours(rng: random.Random) -> dict[str, Any]:
    opens, closes = rng.choice((7, 8, 9, 10)), rng.choice((17, 18, 20, 22))
    slot = [{"open": {"hour": opens, "minute": 0}, "close": {"hour": closes, "minute": 0}}]
    return {
        "timetable": {day: None if day == "sunday" else slot for day in _DAYS},
        "current_status": rng.choice(("open", "close")),
    }


def _place(s: Serp, ident: random.Random) -> dict[str, Any]:
    """A business on the map: the fields that last (name, ids, address) come from `ident`."""
    name = f"{s.words(1, 2, ident).title()} {s.keyword.title()}".strip()
    domain = f"www.{name.lower().replace(' ', '')[:18] or 'place'}.com"
    address, address_info = s.address(ident)
    _, lat0, lng0 = city_of(s.market.location)
    lat = round(lat0 + ident.uniform(-0.1, 0.1), 7)
    lng = round(lng0 + ident.uniform(-0.1, 0.1), 7)
    cid = str(ident.getrandbits(63))
    # the business is of the kind searched for when the keyword names one of the categories
    fitting = [c for c in _CATEGORIES if c.split()[0].lower() in s.keyword.lower()]
    category = ident.choice(fitting or _CATEGORIES)
    return {
        "domain": domain if ident.random() < 0.7 else None,
        "title": name,
        "url": f"https://{domain}/" if ident.random() < 0.7 else None,
        "rating": s.rating(ident),
        "rating_distribution": {str(k): ident.randint(0, 400) for k in range(1, 6)},
        "original_title": None,
        "contact_url": None,
        "contributor_url": None,
        "book_online_url": None,
        "hotel_rating": None,
        "price_level": ident.choice((None, "inexpensive", "moderate", "expensive")),
        "snippet": address,
        "address": address,
        "address_info": address_info,
        "place_id": "ChIJ" + "".join(ident.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij", k=23)),
        "phone": s.phone(ident),
        "main_image": f"https://lh5.googleusercontent.com/p/AF1Qip{ident.getrandbits(64):x}",
        "total_photos": ident.randint(0, 900),
        "category": category,
        "additional_categories": None,
        "category_ids": [category.lower().replace(" ", "_")],
        "work_hours": _work_hours(ident),
        "feature_id": f"0x{ident.getrandbits(60):x}:0x{int(cid):x}",
        "cid": cid,
        "latitude": lat,
        "longitude": lng,
        "is_claimed": ident.random() < 0.7,
        "local_justifications": None,
        "is_directory_item": False,
    }


def maps(s: Serp, depth: int, cap: int | None = None) -> None:
    """maps_search places in rank order, an ad or two first (maps_paid_item); with a `cap`,
    the answer holds no more items than that, the ads counted."""
    for _ in range(s.rng.choice((0, 1, 2))):
        ad = _place(s, random.Random(s.rng.getrandbits(64)))
        keep = ("domain", "title", "url", "rating", "rating_distribution")
        s.add("maps_paid_item", {k: ad[k] for k in keep})
    if cap is not None:
        depth = max(1, min(depth, cap - len(s.items)))
    for _ in range(depth):
        s.add("maps_search", _place(s, s.entity()), paged=True)


def local_finder(s: Serp, depth: int, min_rating: object = None) -> None:
    """local_pack places of Google's local finder, in rank order; with `min_rating`, only
    places rated at least that (as the finder's rating filter shows them)."""
    floor = float(min_rating) if isinstance(min_rating, int | float) else None
    added = 0
    for _ in range(depth * _FILTER_TRIES):
        if added >= depth:
            break
        place = _place(s, ident := s.entity())
        rating = place["rating"]
        if floor is not None and (rating is None or rating["value"] < floor):
            continue
        s.add(
            "local_pack",
            {
                "title": place["title"],
                "description": f"{place['category']} · {place['address']}",
                "domain": place["domain"],
                "phone": place["phone"],
                "booking_url": None,
                "url": place["url"],
                "is_paid": ident.random() < 0.05,
                "rating": place["rating"],
                "cid": place["cid"],
            },
            paged=True,
        )
        added += 1


def _published(rng: random.Random, datetime: str) -> tuple[str, str]:
    hours = rng.randint(1, 240)
    ago = f"{hours} hours ago" if hours < 24 else f"{hours // 24} days ago"
    return ago, datetime  # the timestamp is the day's crawl time: close enough for the simulator


def news(s: Serp, depth: int, datetime: str) -> None:
    """news_search articles in rank order, a top_stories block on the first page sometimes."""
    if s.rng.random() < 0.4:
        stories = []
        for _ in range(3):
            d = s.domain()
            ago, stamp = _published(s.rng, datetime)
            stories.append(
                {
                    "type": "top_stories_element",
                    "source": site_name(d),
                    "domain": d,
                    "title": s.text(5, 10),
                    "date": ago,
                    "amp_version": False,
                    "timestamp": stamp,
                    "url": s.url(d),
                    "image_url": None,
                    "badges": None,
                }
            )
        s.add("top_stories", {"title": "Top stories", "items": stories}, omit=("page",))
    for _ in range(depth):
        ident = s.entity()
        d = s.domain(ident)
        ago, stamp = _published(ident, datetime)
        s.add(
            "news_search",
            {
                "title": s.text(5, 11, ident),
                "domain": d,
                "url": s.url(d, ident),
                "image_url": f"https://{d}/images/{ident.getrandbits(40):x}.jpg",
                "snippet": s.text(12, 25),
                "time_published": ago,
                "timestamp": stamp,
            },
            paged=True,
        )


def images(s: Serp, depth: int) -> None:
    """images_search pictures in rank order; a carousel and related searches around them."""
    if s.rng.random() < 0.5:
        elements = [
            {
                "type": "carousel_element",
                "title": s.words(1, 2),
                "subtitle": None,
                "image_url": f"https://encrypted-tbn0.gstatic.com/images?q=tbn:{s.rng.getrandbits(48):x}",
            }
            for _ in range(6)
        ]
        s.add("carousel", {"title": None, "items": elements}, omit=("page",))
    for _ in range(depth):
        ident = s.entity()
        d = s.domain(ident)
        page = s.url(d, ident)
        s.add(
            "images_search",
            {
                "title": s.text(3, 8, ident),
                "subtitle": site_name(d),
                "alt": s.text(2, 5, ident),
                "url": page,
                "source_url": f"{page}.jpg",
                "encoded_url": f"https://encrypted-tbn0.gstatic.com/images?q=tbn:{ident.getrandbits(48):x}",
            },
            paged=True,
        )
    s.add("related_searches", s.related(), omit=("page",))  # as the docs' example has it


def jobs(s: Serp, depth: int, datetime: str, employment_type: object = None) -> None:
    """google_jobs_item postings in rank order; with `employment_type`, only postings of
    those types."""
    wanted = employment_type if isinstance(employment_type, list) else list(_CONTRACTS)
    contracts = tuple(_CONTRACTS[kind] for kind in wanted if kind in _CONTRACTS)
    contracts = contracts or tuple(_CONTRACTS.values())
    for _ in range(depth):
        ident = s.entity()
        employer = s.domain(ident)
        ago, stamp = _published(ident, datetime)
        s.add(
            "google_jobs_item",
            {
                "job_id": f"eyJqb2JfdGl0bGUi{ident.getrandbits(64):x}",
                "title": s.text(2, 4, ident),
                "employer_name": site_name(employer),
                "employer_url": f"https://{employer}/",
                "employer_image_url": None,
                "location": s.market.location.name.split(",")[0],
                "source_name": ident.choice(
                    ("LinkedIn", "Indeed", "Glassdoor", site_name(employer))
                ),
                "source_url": s.url(employer, ident),
                "salary": ident.choice((None, f"{ident.randint(40, 160)}K a year")),
                "contract_type": ident.choice(contracts),
                "timestamp": stamp,
                "time_ago": ago,
            },
            paged=True,
        )


def event_window(datetime: str, date_range: object) -> tuple[date, date]:
    """The days a `date_range` covers, counted from the crawl's day (the task's `datetime`):
    without one, the next four weeks. Weeks run Monday to Sunday (INFERRED)."""
    today = date.fromisoformat(datetime[:10])
    sunday = today + timedelta(days=6 - today.weekday())
    first_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    windows = {
        "today": (today, today),
        "tomorrow": (today + timedelta(days=1), today + timedelta(days=1)),
        "week": (today, sunday),
        "weekend": (max(today, sunday - timedelta(days=1)), sunday),
        "next_week": (sunday + timedelta(days=1), sunday + timedelta(days=7)),
        "month": (today, first_next - timedelta(days=1)),
        "next_month": (
            first_next,
            (first_next.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1),
        ),
    }
    return windows.get(str(date_range), (today, today + timedelta(days=27)))


def events(s: Serp, depth: int, datetime: str, date_range: object = None) -> None:
    """event_item events in date order, inside `date_range` (docs: today, tomorrow, week,
    weekend, next_week, month, next_month), never before the crawl's day. Dates are
    `YYYY-MM-DDThh:mm:ss` (the API's form), and an event without a known end has none."""
    first, last = event_window(datetime, date_range)
    span = (last - first).days + 1
    for n in range(depth):
        ident = s.entity()
        venue = s.words(1, 2, ident).title()
        address, _ = s.address(ident)
        day = first + timedelta(days=n * span // max(depth, 1))
        hour = ident.choice((10, 14, 18, 19, 20))
        starts = datetime_of(day, hour)
        ends = datetime_of(day, hour + 3) if ident.random() < 0.8 else None
        shown = f"{day:%a, %b} {day.day}, {hour % 12 or 12} {'AM' if hour < 12 else 'PM'}"
        s.add(
            "event_item",
            {
                "title": s.text(2, 5, ident),
                "description": s.text(8, 16),
                "url": s.url(s.domain(ident), ident),
                "image_url": None,
                "event_dates": {
                    "start_datetime": starts,
                    "end_datetime": ends,
                    "displayed_dates": shown,
                },
                "location_info": {
                    "name": venue,
                    "address": address,
                    "url": None,
                    "cid": str(ident.getrandbits(63)),
                    "feature_id": None,
                },
                "information_and_tickets": [
                    {
                        "type": "link_element",
                        "title": "Tickets",
                        "description": None,
                        "url": s.url(s.domain(ident), ident),
                        "domain": None,
                    }
                ],
            },
            paged=True,
        )
