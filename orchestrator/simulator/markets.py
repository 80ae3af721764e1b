"""Markets: where a task searches, in which language, and what that market's results look
like. The simulator resolves `location_name`/`language_name` to codes as the API's answer
carries them, and draws words and domains that fit the market (docs/simulator-sources.md).

Location and language codes are DataForSEO's (its /v3/serp/google/locations and languages
lists use Google Ads geo target ids: 2840 United States, 2276 Germany, ...): the table of the
countries, cities and languages the simulator knows is locations.py, which says what an unknown
code gets. This module gives each task its market: the place, its language, its Google host.
"""

from dataclasses import dataclass
from typing import Final

from orchestrator.simulator.locations import (
    CITY_BY_CODE,
    CITY_BY_NAME,
    COUNTRIES,
    COUNTRY_BY_CODE,
    LANGUAGE_NAMES,
    UNLISTED_PLACES_FROM,
)


@dataclass(frozen=True, slots=True)
class Location:
    code: int
    name: str
    country: str  # ISO 3166-1 alpha-2, as in `gl=` of a Google URL
    google: str  # the Google domain of the country
    language: str  # the country's main language code


LOCATIONS: Final = tuple(
    Location(*row)
    for row in (
        (2840, "United States", "US", "google.com", "en"),
        (2826, "United Kingdom", "GB", "google.co.uk", "en"),
        (2124, "Canada", "CA", "google.ca", "en"),
        (2036, "Australia", "AU", "google.com.au", "en"),
        (2356, "India", "IN", "google.co.in", "en"),
        (2276, "Germany", "DE", "google.de", "de"),
        (2040, "Austria", "AT", "google.at", "de"),
        (2756, "Switzerland", "CH", "google.ch", "de"),
        (2250, "France", "FR", "google.fr", "fr"),
        (2724, "Spain", "ES", "google.es", "es"),
        (2484, "Mexico", "MX", "google.com.mx", "es"),
        (2380, "Italy", "IT", "google.it", "it"),
        (2528, "Netherlands", "NL", "google.nl", "nl"),
        (2076, "Brazil", "BR", "google.com.br", "pt"),
        (2620, "Portugal", "PT", "google.pt", "pt"),
        (2616, "Poland", "PL", "google.pl", "pl"),
        (2203, "Czechia", "CZ", "google.cz", "cs"),
        (2752, "Sweden", "SE", "google.se", "sv"),
        (2410, "South Korea", "KR", "google.co.kr", "ko"),
        (2392, "Japan", "JP", "google.co.jp", "ja"),
        (2156, "China", "CN", "google.com.hk", "zh-CN"),
        (1023191, "New York,New York,United States", "US", "google.com", "en"),
        (1006886, "London,England,United Kingdom", "GB", "google.co.uk", "en"),
        (1003854, "Berlin,Berlin,Germany", "DE", "google.de", "de"),
    )
)
_BY_CODE: Final = {loc.code: loc for loc in LOCATIONS}
_BY_NAME: Final = {loc.name.lower(): loc for loc in LOCATIONS}
_LANGUAGE_BY_NAME: Final = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
_ISO_BY_NAME: Final = {name.lower(): iso for iso, (name, _) in COUNTRIES.items()}
# Where an engine is not tied to a location (Naver, Baidu, Seznam) it has its market's own.
ENGINE_MARKET: Final[dict[str, int]] = {"naver": 2410, "baidu": 2156, "seznam": 2203}


class UnknownMarket(ValueError):
    """A location or language name the API would refuse; args[0] names the field."""


def location_of(params: dict[str, object], se: str) -> Location:
    """The location a task searches from (its code, name or coordinate; else the engine's).
    UnknownMarket for a code or name the API would refuse (locations.py says which)."""
    code, name = params.get("location_code"), params.get("location_name")
    coordinate = params.get("location_coordinate")
    if isinstance(code, int):
        return _of_code(code)
    if isinstance(name, str):
        key = name.strip().lower()
        found = _BY_NAME.get(key) or _by_city_name(key) or _by_country_name(key)
        if found is None:
            # A city this table lacks, in a known country: the country's place (UNCERTAIN,
            # an approximation: the API has the city's own code).
            found = _by_country_name(key.rsplit(",", 1)[-1].strip())
            if found is None or "," not in key:
                raise UnknownMarket("location_name")
        return found
    if isinstance(coordinate, str):
        return _of_coordinate(coordinate, se)
    return _BY_CODE[ENGINE_MARKET.get(se, 2840)]


def _of_code(code: int) -> Location:
    found = _BY_CODE.get(code)
    if found is not None:
        return found
    if code in COUNTRY_BY_CODE:
        return _country(COUNTRY_BY_CODE[code])
    city = CITY_BY_CODE.get(code)
    if city is not None:
        country = _country(city.country)
        return Location(city.code, city.name, city.country, country.google, country.language)
    if code >= UNLISTED_PLACES_FROM:  # a place this table lacks (UNCERTAIN: locations.py)
        return Location(code, str(code), "US", "google.com", "en")
    raise UnknownMarket("location_code")


def _country(iso: str) -> Location:
    """A country of the locations list, with its market where this table has one."""
    name, numeric = COUNTRIES[iso]
    found = _BY_CODE.get(2000 + numeric)
    return found or Location(2000 + numeric, name, iso, "google.com", "en")


def _by_city_name(key: str) -> Location | None:
    city = CITY_BY_NAME.get(key)
    return None if city is None else _of_code(city.code)


def _by_country_name(key: str) -> Location | None:
    iso = _ISO_BY_NAME.get(key)
    return None if iso is None else _country(iso)


def _of_coordinate(coordinate: str, se: str) -> Location:
    """The country of the nearest largest city to `lat,lng[,...]` (its market's place)."""
    try:
        lat, lng = (float(part) for part in coordinate.split(",")[:2])
    except ValueError:
        return _BY_CODE[ENGINE_MARKET.get(se, 2840)]
    iso = min(CITIES, key=lambda c: (CITIES[c][1] - lat) ** 2 + (CITIES[c][2] - lng) ** 2)
    return _country(iso)


def language_of(params: dict[str, object], location: Location) -> str:
    """The language code of a task: given as a code, a name, or the location's own."""
    code, name = params.get("language_code"), params.get("language_name")
    if isinstance(code, str):
        if code not in LANGUAGE_NAMES:
            raise UnknownMarket("language_code")
        return code
    if isinstance(name, str):
        found = _LANGUAGE_BY_NAME.get(name.strip().lower())
        if found is None:
            raise UnknownMarket("language_name")
        return found
    return location.language


def base_language(code: str) -> str:
    return code.split("-")[0].lower()


# Words of each language's results, beside the keyword: what titles and snippets are made of.
WORDS: Final[dict[str, tuple[str, ...]]] = {
    lang: tuple(text.split())
    for lang, text in {
        "en": "best cheap online review price buy guide top new free near official store "
        "compare how what deals sale shop fast local service repair rent used tips list "
        "open today reviews prices rated",
        "de": "beste günstig online test preis kaufen ratgeber neu kostenlos in der nähe "
        "offiziell shop vergleich wie was angebote jetzt schnell lokal service reparatur "
        "miete gebraucht tipps liste heute bewertungen preise",
        "fr": "meilleur pas cher en ligne avis prix acheter guide nouveau gratuit près de "
        "officiel boutique comparer comment quoi offres soldes rapide local service "
        "réparation location occasion conseils liste aujourd'hui",
        "es": "mejor barato en línea opiniones precio comprar guía nuevo gratis cerca "
        "oficial tienda comparar cómo qué ofertas rápido local servicio reparación "
        "alquiler usado consejos lista hoy precios",
        "it": "migliore economico online recensioni prezzo comprare guida nuovo gratis vicino "
        "ufficiale negozio confronto come cosa offerte veloce locale servizio riparazione "
        "noleggio usato consigli oggi prezzi",
        "nl": "beste goedkoop online review prijs kopen gids nieuw gratis in de buurt "
        "officieel winkel vergelijken hoe wat aanbiedingen snel lokaal service reparatie "
        "huren tweedehands tips vandaag prijzen",
        "pt": "melhor barato online avaliação preço comprar guia novo grátis perto oficial "
        "loja comparar como que ofertas rápido local serviço reparo aluguel usado dicas "
        "hoje preços",
        "pl": "najlepszy tani online opinie cena kupić poradnik nowy darmowy w pobliżu "
        "oficjalny sklep porównanie jak co promocje szybko lokalny serwis naprawa "
        "wynajem używany porady dzisiaj ceny",
        "cs": "nejlepší levné online recenze cena koupit průvodce nový zdarma poblíž "
        "oficiální obchod srovnání jak co akce rychle místní servis oprava pronájem "
        "použité tipy dnes ceny",
        "sv": "bästa billig online recension pris köpa guide ny gratis nära officiell butik "
        "jämför hur vad erbjudanden snabbt lokal service reparation hyra begagnad tips "
        "idag priser",
        "ko": "추천 가격 후기 구매 최신 리뷰 비교 할인 무료 공식 매장 방법 정보 순위 "
        "인기 근처 저렴한 새로운 서비스 수리 중고 오늘 판매 사용법 장점 단점",
        "ja": "おすすめ 価格 口コミ 購入 最新 レビュー 比較 セール 無料 公式 店舗 方法 "
        "情報 ランキング 人気 近く 安い 新しい サービス 修理 中古 今日 評判",
        "zh": "推荐 价格 评测 购买 最新 评论 对比 优惠 免费 官方 商店 方法 信息 排行 "
        "热门 附近 便宜 新款 服务 维修 二手 今天 口碑",
    }.items()
}
# Sites that rank in each country's results (public, well-known sites of that market).
DOMAINS: Final[dict[str, tuple[str, ...]]] = {
    country: tuple(text.split())
    for country, text in {
        "US": "www.amazon.com en.wikipedia.org www.reddit.com www.bestbuy.com www.youtube.com "
        "www.nytimes.com www.cnet.com www.walmart.com www.target.com www.forbes.com "
        "www.theverge.com www.yelp.com www.ebay.com medium.com www.techradar.com",
        "GB": "www.amazon.co.uk en.wikipedia.org www.bbc.co.uk www.theguardian.com "
        "www.argos.co.uk www.currys.co.uk www.which.co.uk www.reddit.com www.ebay.co.uk "
        "www.johnlewis.com www.techradar.com www.youtube.com www.tesco.com",
        "DE": "www.amazon.de de.wikipedia.org www.idealo.de www.otto.de www.chip.de "
        "www.computerbild.de www.spiegel.de www.zeit.de www.mediamarkt.de www.check24.de "
        "www.gutefrage.net www.heise.de www.youtube.com www.ebay.de",
        "FR": "www.amazon.fr fr.wikipedia.org www.fnac.com www.leboncoin.fr www.lemonde.fr "
        "www.cdiscount.com www.darty.com www.boulanger.com www.lefigaro.fr "
        "www.01net.com www.youtube.com www.quechoisir.org",
        "ES": "www.amazon.es es.wikipedia.org www.elcorteingles.es www.elpais.com "
        "www.pccomponentes.com www.mediamarkt.es www.xataka.com www.milanuncios.com "
        "www.youtube.com www.elmundo.es",
        "IT": "www.amazon.it it.wikipedia.org www.corriere.it www.repubblica.it "
        "www.mediaworld.it www.subito.it www.trovaprezzi.it www.youtube.com www.hdblog.it",
        "NL": "www.bol.com nl.wikipedia.org www.coolblue.nl www.marktplaats.nl www.nu.nl "
        "www.tweakers.net www.youtube.com www.mediamarkt.nl",
        "BR": "www.mercadolivre.com.br pt.wikipedia.org www.amazon.com.br www.magazineluiza.com.br "
        "www.globo.com www.tecmundo.com.br www.youtube.com www.americanas.com.br",
        "PL": "allegro.pl pl.wikipedia.org www.ceneo.pl www.mediaexpert.pl www.onet.pl "
        "www.wp.pl www.youtube.com www.x-kom.pl",
        "CZ": "www.alza.cz cs.wikipedia.org www.heureka.cz www.seznam.cz www.novinky.cz "
        "www.idnes.cz www.mall.cz www.youtube.com www.bazos.cz",
        "SE": "www.prisjakt.nu sv.wikipedia.org www.elgiganten.se www.blocket.se "
        "www.aftonbladet.se www.youtube.com www.komplett.se",
        "KR": "blog.naver.com namu.wiki www.coupang.com www.danawa.com news.naver.com "
        "www.11st.co.kr www.youtube.com cafe.naver.com www.gmarket.co.kr",
        "JP": "www.amazon.co.jp ja.wikipedia.org kakaku.com www.rakuten.co.jp "
        "www.yodobashi.com www.youtube.com news.yahoo.co.jp",
        "CN": "www.baidu.com baike.baidu.com www.zhihu.com www.jd.com www.taobao.com "
        "www.sohu.com www.163.com www.bilibili.com",
    }.items()
}
# Where a country-wide search's places are: its largest city (name, latitude, longitude).
CITIES: Final[dict[str, tuple[str, float, float]]] = {
    "US": ("New York", 40.7128, -74.006),
    "GB": ("London", 51.5072, -0.1276),
    "CA": ("Toronto", 43.6532, -79.3832),
    "AU": ("Sydney", -33.8688, 151.2093),
    "IN": ("Mumbai", 19.076, 72.8777),
    "DE": ("Berlin", 52.52, 13.405),
    "AT": ("Wien", 48.2082, 16.3738),
    "CH": ("Zürich", 47.3769, 8.5417),
    "FR": ("Paris", 48.8566, 2.3522),
    "ES": ("Madrid", 40.4168, -3.7038),
    "MX": ("Ciudad de México", 19.4326, -99.1332),
    "IT": ("Roma", 41.9028, 12.4964),
    "NL": ("Amsterdam", 52.3676, 4.9041),
    "BR": ("São Paulo", -23.5558, -46.6396),
    "PT": ("Lisboa", 38.7223, -9.1393),
    "PL": ("Warszawa", 52.2297, 21.0122),
    "CZ": ("Praha", 50.0755, 14.4378),
    "SE": ("Stockholm", 59.3293, 18.0686),
    "KR": ("서울", 37.5665, 126.978),
    "JP": ("東京", 35.6762, 139.6503),
    "CN": ("北京", 39.9042, 116.4074),
}
_LANGUAGE_COUNTRY: Final = {
    "en": "US",
    "de": "DE",
    "fr": "FR",
    "es": "ES",
    "it": "IT",
    "nl": "NL",
    "pt": "BR",
    "pl": "PL",
    "cs": "CZ",
    "sv": "SE",
    "ko": "KR",
    "ja": "JP",
    "zh": "CN",
}


def city_of(location: Location) -> tuple[str, float, float]:
    """The city a search's places are in: the location's own, else its country's largest."""
    found = CITIES.get(location.country, CITIES["US"])
    if "," in location.name:
        return location.name.split(",")[0], found[1], found[2]
    return found


def words_for(language: str) -> tuple[str, ...]:
    return WORDS.get(base_language(language), WORDS["en"])


def domains_for(country: str, language: str) -> tuple[str, ...]:
    """The well-known sites of a country's results; a country without a list borrows its
    language's."""
    found = DOMAINS.get(country)
    if found is None:
        found = DOMAINS[_LANGUAGE_COUNTRY.get(base_language(language), "US")]
    return found


# Real SERPs draw from a long tail: 80 to 100 distinct domains in a top 100, rarely more than
# two results of one domain in a top 10. The well-known sites take HEAD_SHARE of the results;
# the rest come from TAIL_SIZE sites of the market made of two stems and its TLD.
HEAD_SHARE: Final = 0.15
TAIL_SIZE: Final = 3000
_STEMS: Final = (
    "acme alpha apex atlas beacon best blue bright city clear click core daily direct easy "
    "eco edge elite expert first fresh global go good green guide hub ideal insight key "
    "local logic lux max metro modern nova one open pilot pixel prime pro pure quick rapid "
    "real smart solid spot star sure swift top true trust urban value vista wise world zen "
    "shop store review deals guru lab point base zone net market plus works co finder"
).split()
_TLDS: Final = {
    "US": ("com", "com", "com", "net", "org", "io"),
    "GB": ("co.uk", "co.uk", "com", "org.uk", "uk"),
    "CA": ("ca", "com"),
    "AU": ("com.au", "com"),
    "IN": ("in", "co.in", "com"),
    "DE": ("de", "de", "com"),
    "AT": ("at", "de"),
    "CH": ("ch", "de"),
    "FR": ("fr", "fr", "com"),
    "ES": ("es", "es", "com"),
    "MX": ("com.mx", "mx"),
    "IT": ("it", "it", "com"),
    "NL": ("nl", "nl", "com"),
    "BR": ("com.br", "com.br"),
    "PT": ("pt", "com"),
    "PL": ("pl", "pl", "com"),
    "CZ": ("cz", "cz"),
    "SE": ("se", "se"),
    "KR": ("co.kr", "kr", "com"),
    "JP": ("jp", "co.jp", "com"),
    "CN": ("cn", "com.cn", "com"),
}


def tail_domain(country: str, index: int) -> str:
    """The market's `index`th long-tail site: the same name for the same index, always."""
    stems, tlds = _STEMS, _TLDS.get(country, ("com",))
    first, second = stems[index % len(stems)], stems[(index // len(stems) * 7 + index) % len(stems)]
    name = first + second if first != second else first + "hq"
    return f"www.{name}.{tlds[index % len(tlds)]}"
