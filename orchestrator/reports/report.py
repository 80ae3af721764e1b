"""`orchestrator report`: what moved between two periods of a recurring job.

Per keyword, the domain's best rank then and now, the change, and whether it entered or left
the top 3/10/100; the domains that gained and lost the most visibility; and the visibility and
average rank per period, for a chart. Everything is read from the results files (streamed,
one task at a time), not from the ledger.

Rank: the `rank_group` of the endpoint's ranked items (the position a person sees among them:
`organic`, or maps' `maps_search` places, the local finder's `local_pack`, `news_search`,
`images_search`, ...); for an answer with none of them, the `rank_absolute` of every item.
Visibility of a domain in a period: the share of the period's keywords for which the domain
ranks in the top 10.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from orchestrator.config import Config, JobConfig, ledger_password
from orchestrator.errors import ConfigError, NoLedger
from orchestrator.ledger import DONE, FAILED, MISSED, Ledger
from orchestrator.pipeline.inputs import key_of_tag
from orchestrator.pipeline.labels import has_label, labels_by_key
from orchestrator.reports.export import result_files, result_lines

TOPS: Final = (3, 10, 100)
VISIBLE_TOP: Final = 10
HISTORY: Final = 12  # periods in the chart, ending with the later of the two compared
MOVERS: Final = 10  # winners and losers shown


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


def _bare(domain: str) -> str:
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
    key, keyword, best, _ = ranked_line(line)
    return key, keyword, best


def ranked_line(line: bytes) -> tuple[str | None, str, dict[str, int], dict[str, str]]:
    """`best_ranks`, and the URL each domain or business ranks best with."""
    task = _TASK.decode(line)
    tag = task.data.get("tag")
    keyword = task.data.get("keyword") or task.data.get("image_url") or ""
    best: dict[str, int] = {}
    urls: dict[str, str] = {}
    for result in task.result or []:
        items = result.items or []
        kind = next((k for k in RANKED_TYPES if any(i.type == k for i in items)), None)
        ranked = [i for i in items if i.type == kind]
        for item in ranked or items:
            rank = item.rank_group if ranked else item.rank_absolute
            if not isinstance(rank, int):
                continue
            names = [_bare(item.domain)] if isinstance(item.domain, str) else []
            if item.type in PLACE_TYPES:
                names += _businesses(item)
            for name in names:
                if rank < best.get(name, 1 << 30):
                    best[name] = rank
                    if isinstance(item.url, str):
                        urls[name] = item.url
    return (key_of_tag(tag) if isinstance(tag, str) else None), str(keyword), best, urls


@dataclass
class PeriodView:
    """One period seen from the results: per keyword the tracked domain's rank, and per
    domain how many keywords it is visible for."""

    period: str
    keywords: dict[str, str] = field(default_factory=dict)  # input key -> keyword
    ranks: dict[str, int] = field(default_factory=dict)  # input key -> tracked domain's rank
    urls: dict[str, str] = field(default_factory=dict)  # input key -> the URL it ranks with
    visible: dict[str, int] = field(default_factory=dict)  # domain -> keywords in top 10
    rank_sum: dict[str, int] = field(default_factory=dict)  # domain -> sum of best ranks
    rank_n: dict[str, int] = field(default_factory=dict)

    def visibility(self, domain: str) -> float:
        return self.visible.get(domain, 0) / len(self.keywords) if self.keywords else 0.0

    def average_rank(self, domain: str) -> float | None:
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
        key, keyword, best, urls = ranked_line(line)
        if key is None or (keys is not None and key not in keys):
            continue
        view.keywords[key] = keyword
        for name, rank in best.items():
            if ":" in name and name != domain:  # businesses count only when followed
                continue
            view.rank_sum[name] = view.rank_sum.get(name, 0) + rank
            view.rank_n[name] = view.rank_n.get(name, 0) + 1
            if rank <= VISIBLE_TOP:
                view.visible[name] = view.visible.get(name, 0) + 1
        if domain is not None and domain in best:
            view.ranks[key] = best[domain]
            if domain in urls:
                view.urls[key] = urls[domain]
    return view


@dataclass
class KeywordMove:
    keyword: str
    then: int | None
    now: int | None
    change: int | None  # positive: better (a smaller rank number)
    movement: str  # "entered top 3", "left top 10", ... or ""
    input_key: str = ""
    url: str | None = None  # the page that ranks now (else then)
    url_changed: bool = False  # another page of the domain ranked then
    history: list[int | None] = field(default_factory=list)  # rank per history period
    missing: list[str] = field(default_factory=list)  # history periods without its results


@dataclass
class DomainMove:
    domain: str
    visibility_then: float
    visibility_now: float
    average_rank_then: float | None
    average_rank_now: float | None

    @property
    def change(self) -> float:
        return self.visibility_now - self.visibility_then


@dataclass
class Headline:
    """One of the numbers a client reads first, in both periods (`then` None: a count of
    moves, which belongs to the later period)."""

    name: str
    then: float | int | None
    now: float | int | None


def headline(
    tracked: str, then: "PeriodView", now: "PeriodView", moves: list[KeywordMove]
) -> list[Headline]:
    """Visibility, average rank, keywords in the top 3, 10 and 100, and keywords up and down,
    of the followed domain or business."""
    numbers = [
        Headline("visibility (top 10)", then.visibility(tracked), now.visibility(tracked)),
        Headline("average rank", then.average_rank(tracked), now.average_rank(tracked)),
    ]
    for top in TOPS:
        numbers.append(
            Headline(
                f"keywords in the top {top}",
                sum(m.then is not None and m.then <= top for m in moves),
                sum(m.now is not None and m.now <= top for m in moves),
            )
        )
    numbers.append(Headline("keywords up", None, sum((m.change or 0) > 0 for m in moves)))
    numbers.append(Headline("keywords down", None, sum((m.change or 0) < 0 for m in moves)))
    return numbers


@dataclass
class Report:
    job: str
    domain: str | None
    then: str
    now: str
    keywords: list[KeywordMove]
    winners: list[DomainMove]
    losers: list[DomainMove]
    history: list[tuple[str, dict[str, float], float | None]]  # period, visibility, avg rank
    series: list[str]  # domains in the visibility chart
    headline: list[Headline] = field(default_factory=list)  # when a domain or business is followed


def _movement(then: int | None, now: int | None) -> str:
    for top in TOPS:
        was, is_ = then is not None and then <= top, now is not None and now <= top
        if is_ and not was:
            return f"entered top {top}"
        if was and not is_:
            return f"left top {top}"
    return ""


def keyword_moves(then: PeriodView, now: PeriodView) -> list[KeywordMove]:
    """Each keyword of either period, biggest movements first."""
    moves = []
    for key in sorted(then.keywords.keys() | now.keywords.keys()):
        a, b = then.ranks.get(key), now.ranks.get(key)
        change = a - b if a is not None and b is not None else None
        label = now.keywords.get(key) or then.keywords.get(key, "")
        url_then, url_now = then.urls.get(key), now.urls.get(key)
        changed = url_then is not None and url_now is not None and url_then != url_now
        moves.append(
            KeywordMove(label, a, b, change, _movement(a, b), key, url_now or url_then, changed)
        )
    moves.sort(key=lambda m: (not m.movement, -abs(m.change or 0), m.keyword))
    return moves


def domain_moves(then: PeriodView, now: PeriodView) -> list[DomainMove]:
    domains = then.visible.keys() | now.visible.keys()
    found = [
        DomainMove(
            d,
            then.visibility(d),
            now.visibility(d),
            then.average_rank(d),
            now.average_rank(d),
        )
        for d in domains
    ]
    return sorted(found, key=lambda m: (-m.change, m.domain))


def complete_periods(config: Config, job: JobConfig) -> list[str]:
    """Periods with results, oldest first, less those the ledger says are still in flight."""
    keys = sorted({key for key, _ in result_files(config, job) if key})
    try:
        ledger = Ledger.reader(config.state.location, ledger_password(config.state))
    except NoLedger:
        return keys
    try:
        done = []
        for key in keys:
            counts, _, _ = ledger.period_summary(job.name, key)
            if sum(counts.values()) == counts[DONE] + counts[FAILED] + counts[MISSED]:
                done.append(key)
        return done
    finally:
        ledger.close()


def _check_collected(config: Config, job: JobConfig, source: str, keys: dict[str, str]) -> None:
    """A period named with no results collected (missed, or still to come) is refused: read as
    empty, every keyword "left the top 100" and the report made up winners."""
    collected = sorted({key for key, _ in result_files(config, job) if key})
    for flag, key in keys.items():
        if key not in collected:
            shown = ", ".join(collected[-12:]) or "none"
            raise ConfigError(
                source,
                flag,
                f"period {key} of job {job.name!r} has no collected results"
                f" (periods with results: {shown})",
            )


def selected(
    config: Config, job: JobConfig, source: str, tag: tuple[str, str] | None
) -> frozenset[str] | None:
    """The input keys a `--tag column=value` selects (None: every input); exit 2 for a column
    the job does not label by, or a value no input carries."""
    if tag is None:
        return None
    column, value = tag
    if column not in job.tag_columns:
        listed = ", ".join(job.tag_columns) or "none (set tag_columns in the job)"
        raise ConfigError(
            source, "--tag", f"{column!r} is not a label column of {job.name}: {listed}"
        )
    keys = frozenset(
        key
        for key, labels in labels_by_key(job, config.prices).items()
        if has_label(labels, column, value)
    )
    if not keys:
        raise ConfigError(source, "--tag", f"no input of {job.input} has {column} = {value!r}")
    return keys


def build(
    config: Config,
    job: JobConfig,
    source: str,
    domain: str | None = None,
    then: str | None = None,
    now: str | None = None,
    tag: tuple[str, str] | None = None,
) -> Report:
    """Compare two periods (by default the last two complete ones), of the inputs labelled
    `tag` (column, value) when given."""
    if job.every is None:
        raise ConfigError(source, "--job", f"job {job.name!r} has no `every`: nothing to compare")
    keys = selected(config, job, source, tag)
    available = complete_periods(config, job)
    if then is None or now is None:
        if (len(available) < 2 and (then is None and now is None)) or not available:
            raise ConfigError(
                source,
                "--job",
                f"job {job.name!r} has {len(available)} complete period(s) "
                "with results; a report compares two (or name them with --from and --to)",
            )
        now = now or available[-1]
        then = then or max((p for p in available if p < now), default=available[0])
    _check_collected(config, job, source, {"--from": then, "--to": now})
    tracked = (domain if ":" in domain else _bare(domain)) if domain else None
    a = read_period(config, job, then, tracked, keys)
    b = read_period(config, job, now, tracked, keys)
    moves = domain_moves(a, b)
    series = (
        [tracked]
        if tracked
        else [m.domain for m in sorted(moves, key=lambda m: -m.visibility_now)[:5]]
    )
    history, views = [], []
    for key in [p for p in available if p <= now][-HISTORY:]:
        view = (
            b if key == now else a if key == then else read_period(config, job, key, tracked, keys)
        )
        avg = view.average_rank(tracked) if tracked else None
        history.append((key, {d: view.visibility(d) for d in series}, avg))
        views.append(view)
    keywords = keyword_moves(a, b) if tracked else []
    for move in keywords:  # None: not ranking, or (listed in `missing`) no results that period
        move.history = [view.ranks.get(move.input_key) for view in views]
        move.missing = [v.period for v in views if move.input_key not in v.keywords]
    return Report(
        job.name,
        tracked,
        then,
        now,
        keywords,
        [m for m in moves if m.change > 0][:MOVERS],
        [m for m in reversed(moves) if m.change < 0][:MOVERS],
        history,
        series,
        headline(tracked, a, b, keywords) if tracked else [],
    )


def keyword_rows(report: Report) -> Iterator[dict[str, object]]:
    for m in report.keywords:
        yield {
            "keyword": m.keyword,
            f"rank_{report.then}": m.then,
            f"rank_{report.now}": m.now,
            "change": m.change,
            "movement": m.movement,
            "url": m.url,
        }
