"""The commands that read what runs left behind, without posting anything: `status` (the
ledger), `export` (results as a table), `report` (what moved between periods) and `prune`
(forget old periods' settled rows)."""

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.cli.common import ExitCode, positive_int, say
from orchestrator.config import Config, JobConfig, load_config
from orchestrator.errors import ConfigError
from orchestrator.ledger import Ledger
from orchestrator.periods import PeriodError, parse_key
from orchestrator.reports import report, report_html
from orchestrator.reports.export import (
    FORMATS,
    check_types,
    export,
    find_job,
    format_of,
)
from orchestrator.reports.outfile import replaced_text, write_csv_rows
from orchestrator.reports.status import read_status


def add_status(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("status", help="what the ledger says (no API calls, no lock)")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")


def add_export(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("export", help="a flat rankings table of a job's results")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--job", required=True, help="the job to export")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's extension (csv for -)")
    p.add_argument("--out", required=True, help="file to write; - for standard output")
    p.add_argument("--types", help="only these item types, comma-separated (organic,paid)")
    p.add_argument("--period", metavar="KEY", help="only this period of a recurring job")
    p.add_argument("--since", metavar="KEY", help="only this period and later ones")
    p.add_argument(
        "--raw",
        action="store_true",
        help="CSV: write text cells as they are; by default one that begins with = + - @ TAB "
        "or CR gets a leading ' so that a spreadsheet shows it instead of running it",
    )


def add_report(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("report", help="what moved between two periods of a recurring job")
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--job", required=True, help="a recurring job")
    p.add_argument("--domain", help="the domain to follow (example.com; www. is ignored)")
    p.add_argument("--from", dest="then", metavar="KEY", help="the earlier period")
    p.add_argument("--to", dest="now", metavar="KEY", help="the later period")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=positive_int, default=20, help="keyword rows in the table")
    p.add_argument("--html", metavar="PATH", help="also write a self-contained HTML report")
    p.add_argument(
        "--raw",
        action="store_true",
        help="CSV: write text cells as they are; by default one that begins with = + - @ TAB "
        "or CR gets a leading ' so that a spreadsheet shows it instead of running it",
    )


def add_prune(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser(
        "prune", help="remove settled ledger rows of old periods (outputs are never touched)"
    )
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--before", required=True, metavar="KEY", help="periods before this one")
    p.add_argument("--job", help="only this job (default: every job whose `every` fits KEY)")


def command_status(args: argparse.Namespace) -> int:
    """`orchestrator status`: from the ledger alone."""
    config = load_config(args.config)
    if not Path(config.state.path).exists():
        if args.json:
            say(json.dumps({"ledger": config.state.path, "jobs": {}, "last_run": None}))
        else:
            say(f"no ledger at {config.state.path}: nothing has run with this config yet")
        return ExitCode.OK
    status = read_status(config)
    if args.json:
        say(json.dumps(asdict(status)))
        return ExitCode.OK
    for name, job in status.jobs.items():
        c = job.counts
        line = (
            f"{name}: {c['done']} done, {c['failed']} failed, {c['posted']} posted, "
            f"{c['posting']} posting, {c['pending']} pending"
            + (f", {c['missed']} missed" if c["missed"] else "")
            + f"; spent ${job.spent_usd:.4f}"
        )
        if job.oldest_outstanding_id is not None:
            age = job.oldest_outstanding_age_s or 0.0
            line += f"; oldest outstanding {job.oldest_outstanding_id} ({age:.0f} s)"
        say(line)
        if job.every is not None:
            say(f"  every {job.every}; current period {job.current_period}")
        for period in job.periods:
            pc = period.counts
            text = (
                f"  {period.period}: {pc['done']} done, {pc['failed']} failed, "
                f"{pc['missed']} missed, {period.outstanding} outstanding; "
                f"spent ${period.spent_usd:.4f}"
            )
            if period.pruned:
                text += f"; {period.pruned} settled rows pruned"
            if period.period == job.current_period and not sum(pc.values()):
                text += " (not started)"
            say(text)
    say(f"total spent ${status.spent_usd:.4f} (ledger {status.ledger})")
    last = status.last_run
    if last is None:
        say("last run: none recorded")
    else:
        started = _when(last.started_at)
        if last.ended_at is None:
            say(f"last run: started {started}, no end recorded (still running, or killed)")
            if last.waiting:
                until = f" (until {_when(last.waiting_until)})" if last.waiting_until else ""
                say(f"  last seen waiting for {last.waiting}{until}")
        else:
            say(
                f"last run: started {started}, ended {_when(last.ended_at)}, "
                f"exit {last.exit_code} ({last.reason})"
            )
    return ExitCode.OK


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    found = report.build(config, job, args.config, args.domain, args.then, args.now)
    if args.html:
        with replaced_text(args.html) as page:
            page.write(report_html.render(found))
    if args.format == "json":
        say(
            json.dumps(
                asdict(found)
                | {
                    "winners": [asdict(m) | {"change": m.change} for m in found.winners],
                    "losers": [asdict(m) | {"change": m.change} for m in found.losers],
                }
            )
        )
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


def _report_table(found: "report.Report", limit: int) -> None:
    say(f"{found.job}: {found.then} -> {found.now}")
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
    for title, moves in (("biggest winners", found.winners), ("biggest losers", found.losers)):
        say(f"{title} (visibility, top 10):")
        for d in moves:
            say(
                f"  {d.domain:<28} {d.visibility_then * 100:5.1f}% -> "
                f"{d.visibility_now * 100:5.1f}%  {d.change * 100:+.1f} pts"
            )


def command_prune(args: argparse.Namespace) -> int:
    """`orchestrator prune`: delete the settled rows of periods before a key, per job."""
    config = load_config(args.config)
    jobs = [job for job in config.jobs if job.every is not None]
    if args.job is not None:
        jobs = [find_job(config, args.job, args.config)]
        if jobs[0].every is None:
            raise ConfigError(args.config, "--job", f"job {args.job!r} has no `every`")
    fitting, errors = [], []
    for job in jobs:
        assert job.every is not None
        try:
            fitting.append((job, parse_key(job.every, job.zone(config), args.before)))
        except PeriodError as exc:
            errors.append(f"{job.name}: {exc}")
    if not fitting:
        reason = "; ".join(errors) or "no job has `every`"
        raise ConfigError(args.config, "--before", reason)
    ledger = Ledger(config.state.path)
    try:
        for job, period in fitting:
            removed = ledger.prune(job.name, before=period.key)
            say(f"{job.name}: {removed} settled rows of periods before {period.key} removed")
    finally:
        ledger.close()
    return ExitCode.OK
