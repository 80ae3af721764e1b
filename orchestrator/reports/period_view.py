"""One period of a job seen from its results: per keyword the followed domain's (or
business's) rank and ranking page, and per domain how often it is visible. What the report
compares, period by period (report.py)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from orchestrator.config import Config, JobConfig
from orchestrator.pipeline.inputs import key_of_tag
from orchestrator.reports.results_files import result_lines

VISIBLE_TOP: Final = 10


class _Item(msgspec.Struct):
    type: str = ""
    rank_group: Any = None
    rank_absolute: Any = None
    domain: Any = None
    url: Any = None
    place_id: Any = None
    cid: Any = None
    title: Any = None


class _Result(msgspec.Struct):
    items: list[_Item] | None = None


class _Task(msgspec.Struct):
    data: dict[str, Any] = {}
    result: list[_Result] | None = None


_TASK: Final = msgspec.json.Decoder(_Task)


def bare(domain: str) -> str:
    return domain.lower().removeprefix("www.")


# A business on maps and in the local finder is followed by its place id, its cid or its name
# (`report --place-id/--cid/--business`): it has no domain, or shares one with its chain.
PLACE_TYPES: Final = frozenset({"maps_search", "local_pack"})
BUSINESS_KEYS: Final = ("place_id", "cid", "business")


def business_key(kind: str, value: str) -> str:
    """The report's key of a business: `cid:123`, `place_id:ChIJ...`, `business:joe's pizza`
    (a name compared in lower case). Domains hold no colon, so the two never meet."""
    return f"{kind}:{value.strip().lower() if kind == 'business' else value.strip()}"


def _businesses(item: _Item) -> list[str]:
    found = []
    for kind, value in (("place_id", item.place_id), ("cid", item.cid), ("business", item.title)):
        if isinstance(value, str) and value.strip():
            found.append(business_key(kind, value))
    return found


# The item type that is the ranked list of each endpoint (ads and boxes are not ranked).
RANKED_TYPES: Final = (
    "organic",
    "maps_search",
    "local_pack",
    "news_search",
    "images_search",
    "google_jobs_item",
    "event_item",
)


def best_ranks(line: bytes) -> tuple[str | None, str, dict[str, int]]:
    """(input key, keyword, {domain or business key: best rank}) of one results line."""
    found = ranked_line(line)
    return found.key, found.keyword, found.best


@dataclass
class RankedLine:
    """What one results line says: each domain's (and business's) best rank, the page it
    ranks with, and the SERP features present with the domains they show."""

    key: str | None
    keyword: str
    best: dict[str, int]
    urls: dict[str, str]
    features: dict[str, set[str]]  # item type (not the ranked list) -> domains in it


def ranked_line(line: bytes) -> RankedLine:
    task = _TASK.decode(line)
    tag = task.data.get("tag")
    keyword = task.data.get("keyword") or task.data.get("image_url") or ""
    best: dict[str, int] = {}
    urls: dict[str, str] = {}
    features: dict[str, set[str]] = {}
    for result in task.result or []:
        items = result.items or []
        kind = next((k for k in RANKED_TYPES if any(i.type == k for i in items)), None)
        ranked = [i for i in items if i.type == kind]
        for item in items:
            if item.type != kind:
                shown = features.setdefault(item.type, set())
                if isinstance(item.domain, str):
                    shown.add(bare(item.domain))
        for item in ranked or items:
            rank = item.rank_group if ranked else item.rank_absolute
            if not isinstance(rank, int):
                continue
            names = [bare(item.domain)] if isinstance(item.domain, str) else []
            if item.type in PLACE_TYPES:
                names += _businesses(item)
            for name in names:
                if rank < best.get(name, 1 << 30):
                    best[name] = rank
                    if isinstance(item.url, str):
                        urls[name] = item.url
    key = key_of_tag(tag) if isinstance(tag, str) else None
    return RankedLine(key, str(keyword), best, urls, features)


@dataclass
class PeriodView:
    """One period seen from the results: per keyword the tracked domain's rank, and per
    domain how many keywords it is visible for."""

    period: str
    keywords: dict[str, str] = field(default_factory=dict)  # input key -> keyword
    ranks: dict[str, int] = field(default_factory=dict)  # input key -> tracked domain's rank
    urls: dict[str, str] = field(default_factory=dict)  # input key -> the URL it ranks with
    # input key -> SERP features present, and those showing the followed domain (an input
    # with none is not listed)
    features: dict[str, list[str]] = field(default_factory=dict)
    owned: dict[str, list[str]] = field(default_factory=dict)
    # domain -> keywords whose top 10 it shares with the followed domain or business
    shared: dict[str, int] = field(default_factory=dict)
    visible: dict[str, float] = field(default_factory=dict)  # domain -> keywords in top 10
    rank_sum: dict[str, int] = field(default_factory=dict)  # domain -> sum of best ranks
    rank_n: dict[str, int] = field(default_factory=dict)
    # A view read from a rankings table sums ranks only for the names asked (`need_ranks`):
    # every (keyword, domain) of a large period is one pass a report showing 25 domains spares.
    # Given the names, it fills rank_sum and rank_n for them.
    ranks_of: Callable[[frozenset[str]], None] | None = field(
        default=None, compare=False, repr=False
    )
    asked: set[str] = field(default_factory=set, compare=False, repr=False)

    def need_ranks(self, names: Iterable[str]) -> None:
        """Make sure rank_sum and rank_n hold these names (a table's view sums them now)."""
        if self.ranks_of is None:
            return
        missing = frozenset(names) - self.asked
        if missing:
            self.ranks_of(missing)
            self.asked |= missing

    def visibility(self, domain: str) -> float:
        return self.visible.get(domain, 0) / len(self.keywords) if self.keywords else 0.0

    def average_rank(self, domain: str) -> float | None:
        self.need_ranks((domain,))
        n = self.rank_n.get(domain, 0)
        return self.rank_sum[domain] / n if n else None


def read_period(
    config: Config,
    job: JobConfig,
    period: str,
    domain: str | None,
    keys: frozenset[str] | None = None,
) -> PeriodView:
    """One period's keywords and ranks (only the inputs of `keys`, when given)."""
    view = PeriodView(period)
    for _, line in result_lines(config, job, period=period):
        found = ranked_line(line)
        key, best = found.key, found.best
        if key is None or (keys is not None and key not in keys):
            continue
        view.keywords[key] = found.keyword
        for name, rank in best.items():
            if ":" in name and name != domain:  # businesses count only when followed
                continue
            view.rank_sum[name] = view.rank_sum.get(name, 0) + rank
            view.rank_n[name] = view.rank_n.get(name, 0) + 1
            if rank <= VISIBLE_TOP:
                view.visible[name] = view.visible.get(name, 0) + 1
        if domain is None:
            continue
        if found.features:  # inputs with none are left out: `.get(key, [])`
            view.features[key] = sorted(found.features)
            owned = sorted(t for t, shown in found.features.items() if domain in shown)
            if owned:
                view.owned[key] = owned
        if domain in best:
            view.ranks[key] = best[domain]
            if domain in found.urls:
                view.urls[key] = found.urls[domain]
            for name, rank in best.items():
                if rank <= VISIBLE_TOP and name != domain and ":" not in name:
                    view.shared[name] = view.shared.get(name, 0) + 1
    return view


def merged(period: str, days: list[PeriodView]) -> PeriodView:
    """A week of daily views as one (`report --by-week`): a keyword's rank is the mean of its
    daily ranks (rounded), a domain's visibility the mean of the days' and its average rank
    over every day's ranks; the page and the SERP features are the latest day's."""
    week = PeriodView(period)

    def ranks_of(names: frozenset[str]) -> None:
        for day in days:
            day.need_ranks(names)
            for name in names & day.rank_n.keys():
                week.rank_sum[name] = week.rank_sum.get(name, 0) + day.rank_sum[name]
                week.rank_n[name] = week.rank_n.get(name, 0) + day.rank_n[name]

    if any(day.ranks_of is not None for day in days):
        week.ranks_of = ranks_of
    ranks: dict[str, list[int]] = {}
    for day in days:
        week.keywords.update(day.keywords)
        week.urls.update(day.urls)
        week.features.update(day.features)
        week.owned.update(day.owned)
        for key, rank in day.ranks.items():
            ranks.setdefault(key, []).append(rank)
        parts = [(week.shared, day.shared)]
        if week.ranks_of is None:
            parts += [(week.rank_sum, day.rank_sum), (week.rank_n, day.rank_n)]
        for totals, part in parts:
            for name, n in part.items():
                totals[name] = totals.get(name, 0) + n
    week.ranks = {key: round(sum(found) / len(found)) for key, found in ranks.items()}
    for name in {name for day in days for name in day.visible}:
        share = sum(day.visibility(name) for day in days) / len(days)
        week.visible[name] = share * len(week.keywords)
    return week
