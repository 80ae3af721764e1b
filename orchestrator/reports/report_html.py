"""The report as one self-contained HTML file: inline CSS and SVG, no script, no network, so
it opens offline and can be mailed. Charts are drawn server-side as SVG polylines."""

from html import escape
from typing import Final

from orchestrator.reports.report import Report

WIDTH, HEIGHT, PAD = 640, 240, 44
COLOURS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _chart(
    title: str,
    labels: list[str],
    series: dict[str, list[float | None]],
    *,
    pct: bool,
    invert: bool = False,
) -> str:
    values = [v for points in series.values() for v in points if v is not None]
    low, high = (
        (0.0, max(values, default=1.0) * 1.1 or 1.0)
        if not invert
        else (max(0.0, min(values, default=1.0) - 1), max(values, default=10.0) + 1)
    )
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(labels) - 1)

    def y(value: float) -> float:
        share = (value - low) / span
        return PAD + (share if invert else 1 - share) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f'<text x="{PAD}" y="18" class="title">{escape(title)}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
    ]
    for tick in (low, (low + high) / 2, high):
        text = f"{tick * 100:.0f}%" if pct else f"{tick:.1f}"
        parts.append(
            f'<text x="{PAD - 6}" y="{y(tick) + 4:.1f}" class="tick" '
            f'text-anchor="end">{text}</text>'
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{PAD + i * step:.1f}" y="{HEIGHT - PAD + 16}" class="tick" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for i, label in enumerate(labels):  # a period without results: a dashed gap marker
        if all(points[i] is None for points in series.values()):
            x = PAD + i * step
            parts.append(
                f'<line class="gap" data-period="{escape(label)}" x1="{x:.1f}" y1="{PAD}" '
                f'x2="{x:.1f}" y2="{HEIGHT - PAD}" stroke="#bbb" stroke-dasharray="4,4"/>'
            )
    for colour, (name, points) in zip(COLOURS, series.items(), strict=False):
        runs: list[list[tuple[float, float]]] = [[]]  # a line breaks where a value is missing
        for i, v in enumerate(points):
            if v is None:
                runs.append([])
            else:
                runs[-1].append((PAD + i * step, y(v)))
        for xy in runs:
            if len(xy) > 1:
                coords = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in xy)
                parts.append(
                    f'<polyline class="series" data-name="{escape(name)}" points="{coords}" '
                    f'fill="none" stroke="{colour}" stroke-width="3"/>'
                )
            parts += [f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="4" fill="{colour}"/>' for x, yy in xy]
    legend = "".join(
        f'<span><i style="background:{c}"></i>{escape(n)}</span>'
        for c, n in zip(COLOURS, series, strict=False)
    )
    return "".join(parts) + f'</svg><div class="legend">{legend}</div>'


SPARK_W, SPARK_H = 120, 28


def sparkline(ranks: list[int | None], missing: set[int]) -> str:
    """A keyword's rank over the history periods, higher is better; a period without its
    results (`missing`) breaks the line, as does one where it did not rank."""
    known = [r for r in ranks if r is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1
    step = SPARK_W / max(1, len(ranks) - 1)
    segments: list[list[str]] = [[]]
    for i, rank in enumerate(ranks):
        if rank is None:
            segments.append([])
            continue
        y = 3 + (rank - low) / span * (SPARK_H - 6)
        segments[-1].append(f"{i * step:.1f},{y:.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="#1f77b4" stroke-width="2"/>'
        if len(points) > 1
        else f'<circle cx="{points[0].split(",")[0]}" cy="{points[0].split(",")[1]}" r="2" '
        'fill="#1f77b4"/>'
        for points in segments
        if points
    )
    gaps = "".join(
        f'<line class="gap" x1="{i * step:.1f}" y1="0" x2="{i * step:.1f}" y2="{SPARK_H}" '
        'stroke="#ccc" stroke-dasharray="2,2"/>'
        for i in sorted(missing)
    )
    return (
        f'<svg class="spark" width="{SPARK_W}" height="{SPARK_H}" '
        f'viewBox="-2 0 {SPARK_W + 4} {SPARK_H}">{gaps}{lines}</svg>'
    )


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _rank(value: float | int | None) -> str:
    return "—" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def _link(url: str | None, changed: bool, since: str | None = None) -> str:
    """The ranking page, linked only when it is http(s): a SERP's text is not ours to trust."""
    if not url:
        return ""
    shown = url.split("://", 1)[-1]
    shown = shown if len(shown) <= 48 else shown[:45] + "..."
    note = f' <span class="down">(since {escape(since or "")})</span>' if changed else ""
    if not url.lower().startswith(("https://", "http://")):
        return f"{escape(shown)}{note}"
    return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(shown)}</a>{note}'


def _features(present: list[str], owned: list[str]) -> str:
    """The SERP features of a keyword, those showing the domain in bold."""
    return ", ".join(
        f"<b>{escape(kind)}</b>" if kind in owned else escape(kind) for kind in present
    )


def _headline(report: Report) -> str:
    """The numbers a client reads first, each with its change, above the charts."""
    cards = []
    for number in report.headline:
        is_share = number.name.startswith("visibility")
        shown = (
            _pct(float(number.now)) if is_share and number.now is not None else _rank(number.now)
        )
        change = ""
        if number.then is not None and number.now is not None:
            delta = number.now - number.then
            better = delta < 0 if number.name == "average rank" else delta > 0
            text = (
                f"{delta * 100:+.1f} pts"
                if is_share
                else f"{delta:+.1f}"
                if isinstance(delta, float)
                else f"{delta:+d}"
            )
            kind = "up" if better else "down" if delta else ""
            change = f'<span class="{kind}">{text}</span>'
        cards.append(
            f'<div class="card" data-name="{escape(number.name)}"><b>{shown}</b>'
            f"<span>{escape(number.name)}</span>{change}</div>"
        )
    return f'<div class="headline">{"".join(cards)}</div>' if cards else ""


def render(report: Report) -> str:
    """The whole page."""
    labels = [period for period, _, _ in report.history]
    visibility = {d: [vis.get(d) for _, vis, _ in report.history] for d in report.series}
    charts = [_chart("Visibility (share of keywords in the top 10)", labels, visibility, pct=True)]
    if report.domain:
        ranks = {report.domain: [avg for _, _, avg in report.history]}
        charts.append(
            _chart("Average rank (lower is better)", labels, ranks, pct=False, invert=True)
        )
    periods = [period for period, _, _ in report.history]
    rows = "".join(
        f"<tr><td>{escape(m.keyword)}</td><td>{_rank(m.then)}</td><td>{_rank(m.now)}</td>"
        f'<td class="{"up" if (m.change or 0) > 0 else "down" if (m.change or 0) < 0 else ""}">'
        f"{'' if m.change is None else f'{m.change:+d}'}</td><td>{escape(m.movement)}</td>"
        f"<td>{sparkline(m.history, {periods.index(p) for p in m.missing if p in periods})}</td>"
        f"<td>{_link(m.url, m.url_changed, m.url_since)}</td>"
        f"<td>{_features(m.features, m.owned)}</td></tr>"
        for m in report.keywords
    )
    keyword_table = (
        f"<h2>Keywords: {escape(report.domain)}</h2><table><tr><th>keyword</th>"
        f"<th>{escape(report.then)}</th><th>{escape(report.now)}</th><th>change</th>"
        f"<th>movement</th><th>history</th><th>ranking page</th><th>SERP features</th></tr>"
        f"{rows}</table>"
        if report.domain
        else "<p>Name a domain with <code>--domain</code> to see its keywords.</p>"
    )

    def movers(title: str, moves: list) -> str:  # type: ignore[type-arg]
        body = "".join(
            f"<tr><td>{escape(m.domain)}</td><td>{_pct(m.visibility_then)}</td>"
            f"<td>{_pct(m.visibility_now)}</td><td>{m.change * 100:+.1f} pts</td></tr>"
            for m in moves
        )
        return (
            f"<h2>{title}</h2><table><tr><th>domain</th><th>{escape(report.then)}</th>"
            f"<th>{escape(report.now)}</th><th>visibility</th></tr>{body}</table>"
        )

    heading = report.title or f"{report.job}: {report.then} → {report.now}"
    rivals = (
        movers("Competitors (most often in the same top 10s)", report.competitors)
        if report.competitors
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(heading)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 980px; }}
table {{ border-collapse: collapse; margin: 8px 0 24px; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; }}
.up {{ color: #2a7a2a; }} .down {{ color: #b22; }}
.chart .title {{ font-weight: 600; }} .chart .tick {{ font-size: 11px; fill: #555; }}
.legend span {{ margin-right: 14px; }}
.headline {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 20px; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 120px; }}
.card b {{ display: block; font-size: 22px; }} .card span {{ display: block; font-size: 12px; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; }}
</style></head><body>
<h1>{escape(heading)}</h1>
<p>Visibility: the share of the period's keywords for which a domain ranks in the top 10.
Rank: the organic position (<code>rank_group</code>).</p>
{_headline(report)}
{rivals}
{"".join(charts)}
{keyword_table}
{movers("Biggest winners", report.winners)}
{movers("Biggest losers", report.losers)}
</body></html>
"""
