"""`export` (a job's results as a table) and `report` (what moved between periods): they read
what runs left behind and post nothing."""

import argparse
import gc
import sys

import msgspec

from orchestrator.cli.common import ExitCode, positive_int, say
from orchestrator.config import Config, JobConfig, find_job, load_config
from orchestrator.errors import ConfigError
from orchestrator.periods import PeriodError, parse_key
from orchestrator.reports import report, report_html, weekly
from orchestrator.reports.export import (
    FORMATS,
    check_types,
    export,
    format_of,
)
from orchestrator.reports.outfile import replaced_text, write_csv_rows
from orchestrator.reports.period_view import BUSINESS_KEYS, business_key


def _add_raw(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--raw",
        action="store_true",
        help="CSV: write text cells as they are; by default one that begins with = + - @ TAB "
        "or CR gets a leading ' so that a spreadsheet shows it instead of running it",
    )


def add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--job", required=True, help="the job to export")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's extension (csv for -)")
    p.add_argument("--out", required=True, help="file to write; - for standard output")
    p.add_argument("--types", help="only these item types, comma-separated (organic,paid)")
    p.add_argument("--period", metavar="KEY", help="only this period of a recurring job")
    p.add_argument("--since", metavar="KEY", help="only this period and later ones")
    _add_raw(p)


def add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--job", required=True, help="a recurring job")
    follow = p.add_mutually_exclusive_group()
    follow.add_argument("--domain", help="the domain to follow (example.com; www. is ignored)")
    follow.add_argument("--place-id", help="on maps or the local finder: the business's place id")
    follow.add_argument("--cid", help="on maps or the local finder: the business's cid")
    follow.add_argument(
        "--business", metavar="NAME", help="on maps or the local finder: the business's name"
    )
    p.add_argument("--from", dest="then", metavar="KEY", help="the earlier period")
    p.add_argument("--to", dest="now", metavar="KEY", help="the later period")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--limit",
        type=positive_int,
        default=20,
        help="keyword rows in the table, and rows of the winners and losers tables",
    )
    p.add_argument("--title", help="the report's heading (default: the job and its periods)")
    p.add_argument(
        "--by-week",
        action="store_true",
        help="a daily job week over week: each ISO week the average of its collected days "
        "(--from/--to name days of the weeks to compare)",
    )
    p.add_argument("--html", metavar="PATH", help="also write a self-contained HTML report")
    p.add_argument(
        "--tag",
        type=label_filter,
        metavar="COLUMN=VALUE",
        help="only the inputs labelled so (a job's tag_columns: --tag client=acme)",
    )
    _add_raw(p)


def followed(args: argparse.Namespace) -> str | None:
    """What the report follows: a domain, or a business by place id, cid or name."""
    for kind in BUSINESS_KEYS:
        value = getattr(args, kind)
        if value:
            return business_key(kind, value)
    return str(args.domain) if args.domain else None


def label_filter(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected COLUMN=VALUE (client=acme), got {text!r}")
    return column.strip(), value.strip()


def command_export(args: argparse.Namespace) -> int:
    """`orchestrator export`: stream a job's results into a rankings table."""
    config = load_config(args.config)
    job = find_job(config, args.job, args.config)
    types = frozenset(t.strip() for t in args.types.split(",") if t.strip()) if args.types else None
    _check_keys(config, job, args.config, {"--period": args.period, "--since": args.since})
    fmt = format_of(args.format, args.out)
    if types is not None:
        check_types(config, job, types, args.period, args.since)
    count = export(config, job, fmt, args.out, types, args.period, args.since, args.raw)
    if args.out != "-":
        say(f"{count} rows written to {args.out}")
    return ExitCode.OK


def _check_keys(config: Config, job: JobConfig, source: str, keys: dict[str, str | None]) -> None:
    """Each period key given (flag -> key) must fit the job's `every`: a ConfigError naming
    the flag otherwise, and for any key given to a job without periods."""
    for flag, key in keys.items():
        if key is None:
            continue
        if job.every is None:
            raise ConfigError(source, flag, f"job {job.name!r} has no `every`")
        try:
            parse_key(job.every, job.zone(config), key)
        except PeriodError as exc:
            raise ConfigError(source, flag, str(exc)) from None


def command_report(args: argparse.Namespace) -> int:
    """`orchestrator report`: keywords and domains that moved between two periods."""
    config = load_config(args.config)
    job = find_job(config, args.job, args.config)
    if job.every is not None:  # without it, report.build says there is nothing to compare
        _check_keys(config, job, args.config, {"--from": args.then, "--to": args.now})
    build = weekly.build_weekly if args.by_week else report.build
    # Millions of small objects for 100,000 keywords, none of them garbage: the collector's
    # passes over them took a fifth of the time.
    gc.disable()
    found = build(
        config,
        job,
        args.config,
        followed(args),
        args.then,
        args.now,
        args.tag,
        movers=args.limit,
        title=args.title,
    )
    if args.html:
        with replaced_text(args.html) as page:
            page.write(report_html.render(found))
    if args.format == "json":
        sys.stdout.flush()  # json.dumps(asdict()) took 12 s at 100,000 keywords
        sys.stdout.buffer.write(msgspec.json.encode(found) + b"\n")
        sys.stdout.flush()
    elif args.format == "csv":
        rows = list(report.keyword_rows(found)) or [
            {
                "domain": m.domain,
                "visibility_then": m.visibility_then,
                "visibility_now": m.visibility_now,
                "change": m.change,
            }
            for m in found.winners + found.losers
        ]
        if rows:
            write_csv_rows(sys.stdout, list(rows[0]), rows, args.raw)
    else:
        _report_table(found, args.limit)
    if args.html:
        say(f"HTML report written to {args.html}", error=args.format != "table")
    return ExitCode.OK


def _number(value: float | int | None, name: str) -> str:
    if value is None:
        return "-"
    if name.startswith("visibility"):
        return f"{value * 100:.1f}%"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _report_table(found: "report.Report", limit: int) -> None:
    if found.title:
        say(found.title)
    say(f"{found.job}: {found.then} -> {found.now}")
    for number in found.headline:
        then = "" if number.then is None else f"{_number(number.then, number.name)} -> "
        say(f"  {number.name}: {then}{_number(number.now, number.name)}")
    if found.domain:
        last = {period: (vis, avg) for period, vis, avg in found.history}
        (v0, a0), (v1, a1) = last.get(found.then, ({}, None)), last.get(found.now, ({}, None))

        def avg(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        say(
            f"{found.domain}: visibility (top 10) {v0.get(found.domain, 0) * 100:.1f}% -> "
            f"{v1.get(found.domain, 0) * 100:.1f}%; average rank {avg(a0)} -> {avg(a1)}"
        )
        width = max([len(m.keyword) for m in found.keywords[:limit]] + [7])
        say(f"{'keyword':<{width}}  {'then':>5}  {'now':>5}  {'change':>6}  movement")
        for m in found.keywords[:limit]:
            change = "" if m.change is None else f"{m.change:+d}"
            then = "-" if m.then is None else str(m.then)
            now = "-" if m.now is None else str(m.now)
            say(f"{m.keyword:<{width}}  {then:>5}  {now:>5}  {change:>6}  {m.movement}")
        if len(found.keywords) > limit:
            say(f"({len(found.keywords) - limit} more keywords: --limit, or --format csv)")
    if found.competitors:
        names = ", ".join(f"{m.domain} ({m.visibility_now * 100:.0f}%)" for m in found.competitors)
        say(f"competitors (most often in the same top 10s; visibility): {names}")
    for title, moves in (("biggest winners", found.winners), ("biggest losers", found.losers)):
        say(f"{title} (visibility, top 10):")
        for d in moves:
            say(
                f"  {d.domain:<28} {d.visibility_then * 100:5.1f}% -> "
                f"{d.visibility_now * 100:5.1f}%  {d.change * 100:+.1f} pts"
            )
