"""The locations and languages the simulator knows, served as `/v3/serp/{se}/locations` and
`/languages` (docs/endpoint-sources.md says what each follows), and the codes a task may name.

Country codes are Google Ads' geo target ids, which DataForSEO uses: 2000 + the country's ISO
3166-1 numeric code (2840 United States, 2826 United Kingdom, 2276 Germany: the documented
ones fit; INFERRED for the rest). City codes are listed only where a public source gives them.
**UNCERTAIN**: a code of a million or more (cities, regions, airports, ...) that this table
lacks is accepted as a place of the United States, so a real city code is never refused here;
any other unknown code gets 40501, as on the API.
"""

from dataclasses import dataclass
from typing import Final

# ISO 3166-1: alpha-2 -> (name as DataForSEO writes it, numeric)
COUNTRIES: Final[dict[str, tuple[str, int]]] = {
    "US": ("United States", 840),
    "GB": ("United Kingdom", 826),
    "CA": ("Canada", 124),
    "AU": ("Australia", 36),
    "NZ": ("New Zealand", 554),
    "IE": ("Ireland", 372),
    "IN": ("India", 356),
    "ZA": ("South Africa", 710),
    "DE": ("Germany", 276),
    "AT": ("Austria", 40),
    "CH": ("Switzerland", 756),
    "FR": ("France", 250),
    "BE": ("Belgium", 56),
    "NL": ("Netherlands", 528),
    "LU": ("Luxembourg", 442),
    "ES": ("Spain", 724),
    "PT": ("Portugal", 620),
    "IT": ("Italy", 380),
    "GR": ("Greece", 300),
    "DK": ("Denmark", 208),
    "NO": ("Norway", 578),
    "SE": ("Sweden", 752),
    "FI": ("Finland", 246),
    "PL": ("Poland", 616),
    "CZ": ("Czechia", 203),
    "SK": ("Slovakia", 703),
    "HU": ("Hungary", 348),
    "RO": ("Romania", 642),
    "BG": ("Bulgaria", 100),
    "HR": ("Croatia", 191),
    "SI": ("Slovenia", 705),
    "RS": ("Serbia", 688),
    "LT": ("Lithuania", 440),
    "LV": ("Latvia", 428),
    "EE": ("Estonia", 233),
    "UA": ("Ukraine", 804),
    "TR": ("Turkiye", 792),
    "IL": ("Israel", 376),
    "AE": ("United Arab Emirates", 784),
    "SA": ("Saudi Arabia", 682),
    "EG": ("Egypt", 818),
    "NG": ("Nigeria", 566),
    "KE": ("Kenya", 404),
    "MX": ("Mexico", 484),
    "BR": ("Brazil", 76),
    "AR": ("Argentina", 32),
    "CL": ("Chile", 152),
    "CO": ("Colombia", 170),
    "PE": ("Peru", 604),
    "JP": ("Japan", 392),
    "KR": ("South Korea", 410),
    "CN": ("China", 156),
    "HK": ("Hong Kong", 344),
    "TW": ("Taiwan", 158),
    "SG": ("Singapore", 702),
    "MY": ("Malaysia", 458),
    "ID": ("Indonesia", 360),
    "TH": ("Thailand", 764),
    "VN": ("Vietnam", 704),
    "PH": ("Philippines", 608),
    "PK": ("Pakistan", 586),
}
COUNTRY_BY_CODE: Final = {2000 + numeric: iso for iso, (_, numeric) in COUNTRIES.items()}
UNLISTED_PLACES_FROM: Final = 1_000_000  # see the docstring: accepted, UNCERTAIN


@dataclass(frozen=True, slots=True)
class City:
    code: int
    name: str  # DataForSEO's form: City,Region,Country
    parent: int  # the region's code where known, else the country's
    country: str


# Each with its source (docs/endpoint-sources.md): the simulator's earlier table (New York,
# London, Berlin) and the issue's and public clients' Los Angeles.
CITIES: Final = (
    City(1023191, "New York,New York,United States", 2840, "US"),
    City(1013962, "Los Angeles,California,United States", 2840, "US"),
    City(1006886, "London,England,United Kingdom", 2826, "GB"),
    City(1003854, "Berlin,Berlin,Germany", 2276, "DE"),
)
CITY_BY_CODE: Final = {city.code: city for city in CITIES}
CITY_BY_NAME: Final = {city.name.lower(): city for city in CITIES}

# language_code -> language_name, as the languages list writes them. **UNCERTAIN**: the
# API's list may hold more; a code outside this one gets 40501 here.
LANGUAGE_NAMES: Final[dict[str, str]] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "pl": "Polish",
    "cs": "Czech",
    "sk": "Slovak",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "el": "Greek",
    "hu": "Hungarian",
    "ro": "Romanian",
    "bg": "Bulgarian",
    "hr": "Croatian",
    "sl": "Slovenian",
    "sr": "Serbian",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "et": "Estonian",
    "uk": "Ukrainian",
    "ru": "Russian",
    "tr": "Turkish",
    "he": "Hebrew",
    "ar": "Arabic",
    "fa": "Persian",
    "hi": "Hindi",
    "bn": "Bengali",
    "ur": "Urdu",
    "ja": "Japanese",
    "ko": "Korean",
    "zh-CN": "Chinese (Simplified)",
    "zh-TW": "Chinese (Traditional)",
    "th": "Thai",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ms": "Malay",
    "tl": "Filipino",
}


def location_items(country: str | None = None) -> list[dict[str, object]]:
    """The locations list's result: every country, then the cities (of one country when
    `country`, an ISO code, is given)."""
    wanted = country.upper() if country else None
    items: list[dict[str, object]] = []
    for iso, (name, numeric) in COUNTRIES.items():
        if wanted in (None, iso):
            items.append(_item(2000 + numeric, name, None, iso, "Country"))
    for city in CITIES:
        if wanted in (None, city.country):
            items.append(_item(city.code, city.name, city.parent, city.country, "City"))
    return items


def _item(code: int, name: str, parent: int | None, iso: str, kind: str) -> dict[str, object]:
    return {
        "location_code": code,
        "location_name": name,
        "location_code_parent": parent,
        "country_iso_code": iso,
        "location_type": kind,
    }


def language_items() -> list[dict[str, object]]:
    return [{"language_name": name, "language_code": code} for code, name in LANGUAGE_NAMES.items()]
