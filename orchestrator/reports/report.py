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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from orchestrator.config import Config, JobConfig
from orchestrator.errors import ConfigError
from orchestrator.periods import parse_key, period_at
from orchestrator.pipeline.labels import has_label, labels_by_key
from orchestrator.reports.period_table import read_view
from orchestrator.reports.period_view import PeriodView, bare
from orchestrator.reports.rankings_table import complete_periods
from orchestrator.reports.results_files import result_files

TOPS: Final = (3, 10, 100)
HISTORY: Final = 12  # periods in the chart, ending with the later of the two compared
MOVERS: Final = 10  # winners and losers shown
COMPETITORS: Final = 5  # the domains most often in the followed one's top 10s


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
    url_since: str | None = None  # the history period since which this page ranks
    history: list[int | None] = field(default_factory=list)  # rank per history period
    missing: list[str] = field(default_factory=list)  # history periods without its results
    features: list[str] = field(default_factory=list)  # SERP features present (now)
    owned: list[str] = field(default_factory=list)  # of those, the ones showing the domain


@dataclass
class DomainMove:
    domain: str
    visibility_then: float
    visibility_now: float
    average_rank_then: float | None
    average_rank_now: float | None
    change: float = field(init=False)  # of visibility; positive: gained

    def __post_init__(self) -> None:
        self.change = self.visibility_now - self.visibility_then


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
    within = {top: [0, 0] for top in TOPS}  # keywords in the top N then, now
    up = down = 0
    for m in moves:  # one pass: 100,000 keywords are a common size
        for top, counts in within.items():
            counts[0] += m.then is not None and m.then <= top
            counts[1] += m.now is not None and m.now <= top
        up += (m.change or 0) > 0
        down += (m.change or 0) < 0
    for top, (then_n, now_n) in within.items():
        numbers.append(Headline(f"keywords in the top {top}", then_n, now_n))
    numbers.append(Headline("keywords up", None, up))
    numbers.append(Headline("keywords down", None, down))
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
    competitors: list["DomainMove"] = field(default_factory=list)  # most often in its top 10s
    title: str | None = None  # the page's heading (`--title`), else the job and periods


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
    ranks_then, ranks_now, urls_then, urls_now = then.ranks, now.ranks, then.urls, now.urls
    for key in sorted(then.keywords.keys() | now.keywords.keys()):
        a, b = ranks_then.get(key), ranks_now.get(key)
        change = a - b if a is not None and b is not None else None
        label = now.keywords.get(key) or then.keywords.get(key, "")
        url_then, url_now = urls_then.get(key), urls_now.get(key)
        changed = url_then is not None and url_now is not None and url_then != url_now
        view = now if key in now.keywords else then
        moves.append(
            KeywordMove(
                label,
                a,
                b,
                change,
                _movement(a, b) if a != b else "",
                key,
                url_now or url_then,
                changed,
                features=view.features.get(key, []),
                owned=view.owned.get(key, []),
            )
        )
    moves.sort(key=lambda m: (not m.movement, -abs(m.change or 0), m.keyword))
    return moves


def domain_moves(then: PeriodView, now: PeriodView) -> list[DomainMove]:
    """Each domain in a top 10 of either period, the biggest gain first; average ranks are
    left to `with_ranks`, for the moves shown."""
    domains = then.visible.keys() | now.visible.keys()
    found = [DomainMove(d, then.visibility(d), now.visibility(d), None, None) for d in domains]
    return sorted(found, key=lambda m: (-m.change, m.domain))


def with_ranks(moves: list[DomainMove], then: PeriodView, now: PeriodView) -> list[DomainMove]:
    """The moves with their average ranks, summed for these domains only (a large period's
    table is read once more for them)."""
    names = [m.domain for m in moves]
    then.need_ranks(names)
    now.need_ranks(names)
    for move in moves:
        move.average_rank_then = then.average_rank(move.domain)
        move.average_rank_now = now.average_rank(move.domain)
    return moves


def check_collected(config: Config, job: JobConfig, source: str, keys: dict[str, str]) -> None:
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


def followed_key(domain: str | None) -> str | None:
    """What the report follows, as period_view keys it: a business key as given, a domain
    bare of `www.`."""
    if not domain:
        return None
    return domain if ":" in domain else bare(domain)


def page_since(periods: Sequence[str], urls: Sequence[str | None]) -> str | None:
    """Of a keyword's ranking page in each period (None: not ranking), the earliest period of
    the latest run of periods in which it was the one it ranks with last (periods without it
    ranking do not break the run)."""
    pages = [(period, url) for period, url in zip(periods, urls, strict=True) if url is not None]
    if not pages:
        return None
    since, last = pages[-1]
    for period, url in reversed(pages):
        if url != last:
            break
        since = period
    return since


def calendar(config: Config, job: JobConfig, available: list[str], last: str) -> list[str]:
    """The job's last HISTORY periods up to `last` in its calendar, those without complete
    results included (so a chart shows a missed day as a gap), from its first with results."""
    assert job.every is not None
    tz = job.zone(config)
    period = parse_key(job.every, tz, last)
    keys = [period.key]
    while len(keys) < HISTORY:
        period = period_at(job.every, tz, period.start - 1)
        if not available or period.key < available[0]:
            break
        keys.insert(0, period.key)
    return keys


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
    movers: int = MOVERS,
    title: str | None = None,
) -> Report:
    """Compare two periods (by default the last two complete ones), of the inputs labelled
    `tag` (column, value) when given; `movers` winners and losers. A daily job week over
    week: reports.weekly."""
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
    check_collected(config, job, source, {"--from": then, "--to": now})
    tracked = followed_key(domain)
    read = partial(read_view, config, job, domain=tracked, keys=keys)
    order = calendar(config, job, available, now)
    return compared(job.name, tracked, then, now, read, available, order, movers, title)


def compared(
    job: str,
    tracked: str | None,
    then: str,
    now: str,
    read: Callable[..., PeriodView],
    available: list[str],
    order: list[str],
    movers: int,
    title: str | None,
) -> Report:
    """The report of `then` against `now`, each period's view from `read`, the history over
    `order` (its periods not `available` drawn as gaps; `read(key, charted=names)` reads one
    for the history only)."""
    a, b = read(then), read(now)
    moves = domain_moves(a, b)
    series = (
        [tracked]
        if tracked
        else [m.domain for m in sorted(moves, key=lambda m: -m.visibility_now)[:5]]
    )
    history: list[tuple[str, dict[str, float], float | None]] = []
    views: list[PeriodView] = []
    for key in order:
        if key not in available:  # missed, or not complete: a gap in every line, not a point
            history.append((key, {}, None))
            views.append(PeriodView(key))
            continue
        view = b if key == now else a if key == then else read(key, charted=tuple(series))
        avg = view.average_rank(tracked) if tracked else None
        history.append((key, {d: view.visibility(d) for d in series}, avg))
        views.append(view)
    keywords = keyword_moves(a, b) if tracked else []
    keys = [move.input_key for move in keywords]
    # Period by period, not keyword by keyword: 100,000 keywords over 12 periods are 1.2M
    # lookups, done here by `map`, `zip` and set differences at C speed.
    by_key = zip(*(map(view.ranks.get, keys) for view in views), strict=True)
    urls_by_key = zip(*(map(view.urls.get, keys) for view in views), strict=True)
    periods = [view.period for view in views]
    wanted = set(keys)
    absent = [(view.period, wanted.difference(view.keywords)) for view in views]
    absent = [(period, gone) for period, gone in absent if gone]
    for move, ranks, urls in zip(keywords, by_key, urls_by_key, strict=True):  # None: not
        key = move.input_key  # ranking, or (in `missing`) no results that period
        move.history = list(ranks)
        move.missing = [period for period, gone in absent if key in gone]
        move.url_since = page_since(periods, urls) if move.url is not None else None
    rivals = sorted(b.shared, key=lambda d: (-b.shared[d], d))[:COMPETITORS]
    by_domain = {m.domain: m for m in moves}
    competitors = [by_domain[d] for d in rivals if d in by_domain]
    winners = [m for m in moves if m.change > 0][:movers]
    losers = [m for m in reversed(moves) if m.change < 0][:movers]
    with_ranks([*winners, *losers, *competitors], a, b)
    return Report(
        job,
        tracked,
        then,
        now,
        keywords,
        winners,
        losers,
        history,
        series,
        headline(tracked, a, b, keywords) if tracked else [],
        competitors,
        title,
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
