"""`orchestrator validate` (and `run --dry-run`): counts, estimated cost and the first rejected
rows of each job; with `--check-account`, one free call for credentials, balance and limit.
Nothing is posted or written."""

import argparse
import json

from orchestrator.cli.common import ExitCode, add_env_file, say
from orchestrator.config import Config, load_config
from orchestrator.pipeline.outcome import RunReport
from orchestrator.pipeline.validate import dry_run, monthly_cost


def add_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the TOML config")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument("--strict", action="store_true", help="exit 2 if any row is rejected")
    add_env_file(p)
    p.add_argument(
        "--check-account",
        action="store_true",
        help="also ask the API (one free call, /v3/appendix/user_data) whether the credentials "
        "work, and show the balance and the account's own limit",
    )
    p.add_argument(
        "--check-locations",
        action="store_true",
        help="also check every location and language the jobs name against the API's lists "
        "(one free call per list and search engine, kept in the ledger for a week); exit 2 "
        "naming each that is not listed",
    )


def job_summary(report: RunReport, dry: bool) -> None:
    """One line per job: counts and estimated cost (dry), or what the run settled."""
    for name, job in report.jobs.items():
        if dry:
            cost = f"estimated cost ${job.estimated_cost:.4f}"
            if job.periods_per_month is not None:
                month = job.estimated_cost * job.periods_per_month
                cost += f" per period, ${month:.4f} per month ({job.periods_per_month} periods)"
            repeats = (
                f" ({job.repeats} repeat other rows or are variants of their keywords: posted once)"
                if job.repeats
                else ""
            )
            say(f"{name}: {job.valid} valid{repeats}, {job.rejected} rejected, {cost}")
        else:
            c = job.counts
            say(
                f"{name}: {c.get('done', 0)} done, {c.get('failed', 0)} failed, "
                f"{c.get('pending', 0) + c.get('posting', 0) + c.get('posted', 0)} outstanding, "
                f"{job.rejected} rejected"
            )


def no_valid_rows(report: RunReport) -> list[str]:
    """Jobs whose input has rows and not one of them valid: under cron such a job would do
    nothing, every day, with exit 0."""
    return [name for name, job in report.jobs.items() if job.rejected and not job.valid]


def validation(config: Config, args: argparse.Namespace) -> int:
    """`validate` and `run --dry-run`: counts, cost and the first rejected rows of each job."""
    report = dry_run(config)
    rejected = sum(job.rejected for job in report.jobs.values())
    empty = no_valid_rows(report)
    strict = rejected and getattr(args, "strict", False)
    code = ExitCode.BAD_CONFIG if strict or empty else ExitCode.OK
    check = getattr(args, "check_account", False)
    account = _account(config, args) if check else {}
    if account.get("error"):
        code = ExitCode.ACCOUNT
    markets = _markets(config, args) if getattr(args, "check_locations", False) else []
    if any("is not in the API's list" in line for line in markets):
        code = ExitCode.BAD_CONFIG
    balance = account.get("balance_usd")
    needed = sum(job.estimated_cost for job in report.jobs.values())
    if isinstance(balance, float | int) and balance < needed:
        account["balance_warning"] = (
            f"WARNING: the balance ${balance:.2f} is below this config's estimate of"
            f" ${needed:.4f} (one period of each job): posting stops where it runs out"
        )
    if getattr(args, "json", False):
        jobs = {
            name: {
                "valid": job.valid,
                "rejected": job.rejected,
                "estimated_cost_usd": round(job.estimated_cost, 6),
                "periods_per_month": job.periods_per_month,
                "first_rejected": [{"line": ln, "reason": r} for ln, r in job.examples],
            }
            for name, job in report.jobs.items()
        }
        total = round(sum(job.estimated_cost for job in report.jobs.values()), 6)
        record = {
            "jobs": jobs,
            "estimated_cost_usd": total,
            "estimated_cost_usd_per_month": round(monthly_cost(report), 6),
            "jobs_without_valid_rows": empty,
            **({"account": account} if account else {}),
            **({"locations": markets} if markets else {}),
            "exit_code": int(code),
        }
        say(json.dumps(record))
        return code
    job_summary(report, dry=True)
    for name, job in report.jobs.items():
        for line, reason in job.examples:
            say(f"  {name} line {line}: {reason}")
    total = sum(job.estimated_cost for job in report.jobs.values())
    valid = sum(job.valid for job in report.jobs.values())
    say(f"total: {valid} tasks, {rejected} rejected rows, estimated cost ${total:.4f}")
    if any(job.periods_per_month is not None for job in report.jobs.values()):
        month = monthly_cost(report)
        text = f"recurring jobs: estimated ${month:.4f} this month"
        cap = config.budget.max_cost_usd_per_month
        if cap is not None and month > cap:
            text += f", over max_cost_usd_per_month ${cap:.4f}: posting stops at the cap"
        say(text)
    for name in empty:
        job = report.jobs[name]
        say(f"{name}: not one of its {job.rejected} rows is valid (reasons above)", error=True)
    if account:
        say(_account_line(account), error=bool(account.get("error")))
    for said in markets:
        say(said, error="is not in the API's list" in said)
    return code


def _markets(config: Config, args: argparse.Namespace) -> list[str]:
    """`--check-locations`: needs the HTTP client and the ledger, imported here."""
    from orchestrator.cli.locations import check_locations

    return check_locations(config, args.config, args.env_file)


def _account(config: Config, args: argparse.Namespace) -> dict[str, object]:
    """`--check-account`: the one validate that needs the HTTP client, imported here so that
    a plain `validate` starts without it."""
    from orchestrator.cli.account import check_account

    return check_account(config, args.config, args.env_file)


def _account_line(account: dict[str, object]) -> str:
    if account.get("error"):
        return f"account: {account['error']}"
    balance = account.get("balance_usd")
    limit = account.get("calls_per_minute_limit")
    text = f"account: {account.get('login')} works"
    text += f", balance ${balance:.2f}" if isinstance(balance, float | int) else ""
    text += f", limit {limit} calls/min" if limit is not None else ""
    warnings = [str(account[k]) for k in ("warning", "balance_warning") if account.get(k)]
    return "; ".join([text, *warnings])


def command_validate(args: argparse.Namespace) -> int:
    """`orchestrator validate`: the same checks as `run --dry-run`, and `--check-account`."""
    return validation(load_config(args.config), args)
