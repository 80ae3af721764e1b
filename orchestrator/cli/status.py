"""`status` (what the ledger says, no API call, no lock) and `prune` (forget old periods'
settled rows): the ledger alone, so they start without the HTTP client or the report."""

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime

from orchestrator.cli.common import ExitCode, say
from orchestrator.config import find_job, ledger_password, load_config
from orchestrator.errors import ConfigError, NoLedger
from orchestrator.ledger import Ledger
from orchestrator.periods import PeriodError, parse_key
from orchestrator.pipeline.deliveries import deliveries
from orchestrator.reports.status import read_status


def add_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")


def add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--before", required=True, metavar="KEY", help="periods before this one")
    p.add_argument("--job", help="only this job (default: every job whose `every` fits KEY)")


def command_status(args: argparse.Namespace) -> int:
    """`orchestrator status`: from the ledger alone."""
    config = load_config(args.config)
    try:
        status = read_status(config)
    except NoLedger:
        if args.json:
            say(json.dumps({"ledger": config.state.location, "jobs": {}, "last_run": None}))
        else:
            say(f"no ledger at {config.state.location}: nothing has run with this config yet")
        return ExitCode.OK
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
        if last.delivered is not None and last.polled is not None:
            say(f"  postbacks: {deliveries(last.delivered, last.polled)}")
    return ExitCode.OK


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    ledger = Ledger(config.state.location, ledger_password(config.state, args.config))
    try:
        for job, period in fitting:
            removed = ledger.prune(job.name, before=period.key)
            say(f"{job.name}: {removed} settled rows of periods before {period.key} removed")
    finally:
        ledger.close()
    return ExitCode.OK
