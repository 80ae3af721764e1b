"""`validate --check-locations`: every location and language the jobs name (in their defaults
and their rows) is one the API lists for the job's search engine, checked before anything is
paid. One free call per list and search engine (`/v3/serp/{se}/locations`, `/languages`),
kept in the ledger for a week, so later checks make none. Naver has no lists: not checked."""

import time
from dataclasses import dataclass
from typing import Any, Final

import anyio
import msgspec

from orchestrator.cli.window import account_limiter
from orchestrator.config import Config, JobConfig, credentials, ledger_password
from orchestrator.errors import LockHeld
from orchestrator.ledger import Ledger
from orchestrator.pipeline.inputs import ValidInput, read_inputs
from orchestrator.wire.client import ApiClient

KEPT_S: Final = 7 * 86400  # how long a kept list is used before it is asked for again
UNLISTED: Final = frozenset({"naver"})
FIELDS: Final = {
    "location_code": ("locations", "location_code"),
    "location_name": ("locations", "location_name"),
    "language_code": ("languages", "language_code"),
    "language_name": ("languages", "language_name"),
}


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value the API's list does not hold, where it was first met."""

    job: str
    field: str
    value: object
    line: int | None  # None: the job's defaults

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "defaults"
        return f"{self.job}: {self.field} {self.value!r} ({where}) is not in the API's list"


def used_values(job: JobConfig, config: Config) -> dict[tuple[str, object], int | None]:
    """(field, value) -> the first line naming it (None: the job's defaults)."""
    found: dict[tuple[str, object], int | None] = {}
    for field in FIELDS:
        if field in job.defaults:
            found.setdefault((field, _comparable(field, job.defaults[field])), None)
    for row in read_inputs(job, config.prices):
        if not isinstance(row, ValidInput):
            continue
        task = msgspec.json.decode(row.body)
        for field in FIELDS:
            if field in task:
                found.setdefault((field, _comparable(field, task[field])), row.line)
    return found


def _comparable(field: str, value: Any) -> object:
    return value.strip().lower() if field.endswith("_name") and isinstance(value, str) else value


def check_locations(config: Config, source: str, env_file: str | None) -> list[str]:
    """The lines to say: each value no list holds (an error), or one line that all are."""
    engines = sorted({job.se for job in config.jobs} - UNLISTED)
    lists = anyio.run(_lists, config, source, env_file, engines)
    unknown: list[Unknown] = []
    checked = 0
    for job in config.jobs:
        if job.se in UNLISTED:
            continue
        for (field, value), line in used_values(job, config).items():
            kind, key = FIELDS[field]
            checked += 1
            if value not in lists[job.se, kind][key]:
                unknown.append(Unknown(job.name, field, value, line))
    if unknown:
        return [f"locations: {item}" for item in unknown]
    skipped = sorted({job.se for job in config.jobs} & UNLISTED)
    note = f" ({', '.join(skipped)} has no lists: not checked)" if skipped else ""
    return [f"locations: all {checked} locations and languages the jobs name are listed{note}"]


Lists = dict[tuple[str, str], dict[str, set[object]]]


async def _lists(config: Config, source: str, env_file: str | None, engines: list[str]) -> Lists:
    """Each engine's lists, from the ledger where kept within KEPT_S, else asked for (one call
    each) and kept. A run holding the ledger's lock: asked for, not kept."""
    ledger = _open(config)
    found: Lists = {}
    missing: list[tuple[str, str]] = []
    try:
        for se in engines:
            for kind in ("locations", "languages"):
                kept = ledger.api_list(se, kind) if ledger is not None else None
                if kept is not None and time.time() - kept[0] < KEPT_S:
                    found[se, kind] = _index(msgspec.json.decode(kept[1]))
                else:
                    missing.append((se, kind))
        if missing:
            creds = credentials(config.api, source, env_file=env_file)
            password = ledger_password(config.state, source, env_file=env_file)
            with account_limiter(config, password) as make_limiter:
                async with ApiClient(config.api, creds, make_limiter()) as client:
                    for se, kind in missing:
                        items = await client.serp_list(se, kind)
                        found[se, kind] = _index(items)
                        if ledger is not None:
                            ledger.keep_api_list(se, kind, msgspec.json.encode(_compact(items)))
    finally:
        if ledger is not None:
            ledger.close()
    return found


def _open(config: Config) -> Ledger | None:
    try:
        return Ledger(config.state.location, ledger_password(config.state))
    except LockHeld:
        return None


def _compact(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a check reads of each item: its codes and names (Google's list is 40 MB whole)."""
    keys = {key for _, key in FIELDS.values()}
    return [{k: v for k, v in item.items() if k in keys} for item in items]


def _index(items: list[dict[str, Any]]) -> dict[str, set[object]]:
    index: dict[str, set[object]] = {key: set() for _, key in FIELDS.values()}
    for item in items:
        for field, value in item.items():
            if field in index:
                index[field].add(_comparable(field, value))
    return index
