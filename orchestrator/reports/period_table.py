"""One period's view from its rankings table (rankings_table.py), queried with DuckDB: the
same numbers `period_view.read_period` computes line by line from the JSON, in a few seconds
for 100,000 keywords at depth 100, reading only the columns the report needs.

`read_view` is what the report calls: the table while it is fresh and DuckDB is installed (the
`parquet` extra), else the JSON.
"""

from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

from orchestrator.config import Config, JobConfig
from orchestrator.reports.period_view import (
    PLACE_TYPES,
    RANKED_TYPES,
    VISIBLE_TOP,
    PeriodView,
    read_period,
)
from orchestrator.reports.rankings_table import fresh_table

# Per row of the period (of the inputs selected): its input, the rank of the endpoint's ranked
# list (or, in a SERP without one, every item's absolute rank), its bare domain, whether it is
# the followed business, and its type beside the ranked list's. A view: each query below reads
# the columns it needs from the file, and the heavy ones only the rows they need.
_ROWS: Final = """
CREATE TEMP VIEW t AS
SELECT input_key AS k, coalesce(keyword, image_url, '') AS kw, type,
    list_position({ranked}, type) AS prio, rank_group, rank_absolute, url,
    regexp_replace(lower(domain), '^www[.]', '') AS name, {business} AS business
FROM read_parquet({path})
WHERE input_key IS NOT NULL {selected};
CREATE TEMP TABLE kinds AS SELECT k, min(prio) AS kind, any_value(kw) AS kw FROM t GROUP BY k;
CREATE TEMP VIEW r AS
SELECT t.* EXCLUDE (kw), kinds.kind,
    CASE WHEN kinds.kind IS NULL THEN rank_absolute
         WHEN prio = kinds.kind THEN rank_group END AS rank
FROM t JOIN kinds USING (k);
"""
# Each (input, domain) with a result in the top 10: the only ones visibility and shared count.
_TOP: Final = f"""
CREATE TEMP TABLE top AS
SELECT k, name, min(rank) AS best FROM r
WHERE (rank_group <= {VISIBLE_TOP} OR rank_absolute <= {VISIBLE_TOP}) AND rank <= {VISIBLE_TOP}
    AND name IS NOT NULL AND name NOT LIKE '%:%' {{charted}}
GROUP BY k, name
"""
# The followed domain's or business's best rank and page per input.
_FOLLOWED: Final = """
SELECT k, min(rank), arg_min(url, rank) FROM r
WHERE rank IS NOT NULL AND (name = $followed OR business) GROUP BY k
"""
_COLUMNS: Final = (
    "input_key",
    "keyword",
    "image_url",
    "type",
    "rank_group",
    "rank_absolute",
    "url",
    "domain",
)
_BUSINESS_COLUMNS: Final = {"place_id": "place_id", "cid": "cid", "business": "title"}


def read_view(
    config: Config,
    job: JobConfig,
    period: str,
    domain: str | None,
    keys: frozenset[str] | None = None,
    charted: tuple[str, ...] | None = None,
) -> PeriodView:
    """One period's keywords and ranks, from its table when it is fresh, else its JSON.
    `charted`: a period of the history only, whose visibility is wanted for these names (a
    table's view then leaves out the SERP features and the other domains)."""
    if find_spec("duckdb") is None:
        return read_period(config, job, period, domain, keys)
    table = fresh_table(config, job, period, columns_read(domain))
    if table is None:
        return read_period(config, job, period, domain, keys)
    return view_from_table(table, period, domain, keys, charted)


def columns_read(followed: str | None) -> tuple[str, ...]:
    """The table's columns a view reads (from a bucket, the only ones fetched)."""
    business = _BUSINESS_COLUMNS.get((followed or "").partition(":")[0])
    return _COLUMNS + ((business,) if business is not None else ())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _business_test(followed: str | None) -> str:
    """SQL true where a place item is the followed business (`cid:123`, ...), else false."""
    kind, _, value = (followed or "").partition(":")
    column = _BUSINESS_COLUMNS.get(kind)
    if column is None or not value:
        return "false"
    place = f"type IN ({', '.join(_literal(t) for t in sorted(PLACE_TYPES))})"
    if kind == "business":
        return f"({place} AND lower(trim({column})) = {_literal(value)})"
    return f"({place} AND trim({column}) = {_literal(value)})"


def view_from_table(
    path: Path,
    period: str,
    followed: str | None,
    keys: frozenset[str] | None = None,
    charted: tuple[str, ...] | None = None,
) -> PeriodView:
    """The period's view; ranks below the top 10 are summed for the names the report asks
    (`PeriodView.need_ranks`), each time with one more pass over the file. `charted`: see
    `read_view`."""
    import duckdb  # type: ignore[import-not-found,unused-ignore]

    view = PeriodView(period)
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")
    selected = ""
    if keys is not None:
        db.execute(
            "CREATE TEMP TABLE selected AS SELECT unnest($keys) AS k", {"keys": sorted(keys)}
        )
        selected = "AND input_key IN (SELECT k FROM selected)"
    ranked = "[" + ", ".join(_literal(kind) for kind in RANKED_TYPES) + "]"
    business = _business_test(followed)
    db.execute(
        _ROWS.format(path=_literal(str(path)), ranked=ranked, business=business, selected=selected)
    )
    others = None if charted is None else sorted(set(charted) - {followed})
    if others is None:
        db.execute(_TOP.format(charted=""))
    elif others:  # the followed name's visibility comes from its ranks (_followed)
        only = "AND name IN (SELECT unnest($charted))"
        db.execute(_TOP.format(charted=only), {"charted": others})
    else:  # only the followed name is charted: no pass over the file for the top 10s
        db.execute(_TOP.format(charted="AND false"))
    view.keywords = dict(db.execute("SELECT k, kw FROM kinds").fetchall())
    for name, visible in db.execute("SELECT name, count(*) FROM top GROUP BY name").fetchall():
        view.visible[name] = visible
    if followed is not None:
        _followed(db, view, followed, charted is None)
    db.execute("DROP TABLE top")

    def ranks_of(names: frozenset[str]) -> None:
        wanted = sorted(names - {followed})
        if not wanted:
            return
        found = db.execute(
            "SELECT name, sum(best), count(*) FROM (SELECT k, name, min(rank) AS best FROM r"
            " WHERE rank IS NOT NULL AND name IN (SELECT unnest($names)) GROUP BY k, name)"
            " GROUP BY name",
            {"names": wanted},
        ).fetchall()
        for name, total, n in found:
            view.rank_sum[name], view.rank_n[name] = int(total), int(n)

    view.ranks_of = ranks_of
    view.asked = {followed} if followed is not None else set()
    return view


def _followed(db: Any, view: PeriodView, followed: str, whole: bool) -> None:
    """The followed name's ranks, pages and rank sum; `whole`, also the SERP features present
    and owned per input, and the domains that share its top 10s."""
    mine = {"followed": followed}
    for key, rank, url in db.execute(_FOLLOWED, mine).fetchall():
        view.ranks[key] = rank
        if url is not None:
            view.urls[key] = url
    if view.ranks:
        view.rank_sum[followed] = sum(view.ranks.values())
        view.rank_n[followed] = len(view.ranks)
        top = sum(rank <= VISIBLE_TOP for rank in view.ranks.values())
        if top:
            view.visible[followed] = top
    if not whole:
        return
    for key, kind, owned in db.execute(
        "SELECT k, type, bool_or(name = $followed) FROM r WHERE type IS NOT NULL"
        " AND (kind IS NULL OR prio IS NULL OR prio != kind) GROUP BY k, type ORDER BY k, type",
        mine,
    ).fetchall():
        view.features.setdefault(key, []).append(kind)
        if owned:
            view.owned.setdefault(key, []).append(kind)
    if not view.ranks:
        return
    db.execute("CREATE TEMP TABLE mine AS SELECT unnest($keys) AS k", {"keys": list(view.ranks)})
    view.shared = dict(
        db.execute(
            "SELECT name, count(*) FROM top WHERE k IN (SELECT k FROM mine) AND name != $followed"
            " GROUP BY name",
            mine,
        ).fetchall()
    )
