"""`orchestrator recover`: rebuild a lost ledger from the output files and id_list, so that the
next run goes on where the lost one stopped, without posting again what was paid for.

For each job of the config, from its folder (and its period partitions):
- each line of results.jsonl becomes a *done* row, each line of failed.jsonl a *failed* one
  (a task_post refusal too), found by the tag the task carries;
- each task id_list knows (the last `--days`) whose tag names the lost ledger and that no
  output holds becomes *posted*: the next run collects it;
- the files are recorded as this ledger's at their sizes, and the folder's marker is kept.
The new ledger takes the lost one's id (from the folders' markers), so its tags stay ours.
Inputs never posted are not rows yet: the next run loads them as usual.
"""

import gzip
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from orchestrator.config import Config
from orchestrator.errors import ConfigError, InputError, LedgerError, ReconcileFailed
from orchestrator.ledger import DONE, FAILED, POSTED, Ledger, Restored, row_of
from orchestrator.pipeline.reconcile import IdListFailed, complete_id_list, id_list_time
from orchestrator.pipeline.sink import claim_folder, file_key, output_files, read_marker
from orchestrator.pipeline.tags import split_attempt_tag
from orchestrator.wire.client import ApiClient

log = logging.getLogger(__name__)
MAX_DAYS: Final = 30  # id_list keeps tags (metadata) for one month


class OutputLine(msgspec.Struct):
    """What recovery needs of an output line (a task object, or a task_post refusal)."""

    id: str | None = None
    status_code: int = 0
    status_message: str = ""
    cost: float = 0.0
    data: dict[str, Any] | None = None


LINE: Final = msgspec.json.Decoder(OutputLine)


@dataclass
class Recovered:
    """What a recovery rebuilt, per job and state."""

    ledger_id: str = ""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_lines: int = 0  # lines whose tag is not of a job of this config


def _lines(path: Path) -> Iterator[tuple[int, OutputLine]]:
    """(line number, decoded line) of an output file. A last line a crash tore (cut short,
    with no newline after it) is cut off the file: its task is collected again. Any other
    line that is not a task object is an InputError naming the file and line (exit 2)."""
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as packed:
                for number, raw in enumerate(packed, 1):
                    if raw.strip():
                        yield number, _decoded(path, number, raw)
        except (OSError, EOFError) as exc:
            raise InputError(
                str(path), f"not a whole gzip file ({exc}): repair or move it"
            ) from None
        return
    end = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            start, end = end, end + len(raw)
            if not raw.strip():
                continue
            try:
                yield number, LINE.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                if not raw.endswith(b"\n"):  # the torn tail of a crash: cut it
                    handle.close()
                    with path.open("r+b") as cut:
                        cut.truncate(start)
                        os.fsync(cut.fileno())
                    log.warning("torn_line_cut path=%s line=%d bytes=%d", path, number, len(raw))
                    return
                raise _bad(path, number) from None


def _decoded(path: Path, number: int, raw: bytes) -> OutputLine:
    try:
        return LINE.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise _bad(path, number) from None


def _bad(path: Path, number: int) -> InputError:
    return InputError(
        str(path), "not a task object: repair or remove that line, then recover again", number
    )


def lost_ledger_id(config: Config) -> str | None:
    """The id the job folders' markers name (None when none has one)."""
    found = {
        marker["ledger_id"]
        for job in config.jobs
        if (marker := read_marker(Path(config.output.dir) / job.name)) is not None
    }
    if len(found) > 1:
        raise ConfigError("[output] dir", "", f"folders of several ledgers: {sorted(found)}")
    return found.pop() if found else None


def from_outputs(config: Config, ledger: Ledger, report: Recovered) -> set[str]:
    """Rows of every settled output line; returns the task ids the outputs hold."""
    jobs = {job.name for job in config.jobs}
    held: set[str] = set()
    for job in config.jobs:
        for path in output_files(Path(config.output.dir) / job.name):
            state = DONE if path.name.startswith("results") else FAILED
            rows: list[Restored] = []
            for _, line in _lines(path):
                tag = (line.data or {}).get("tag")
                row, _, _ = split_attempt_tag(tag if isinstance(tag, str) else "")
                try:
                    name, period, key = row_of(row)
                except LedgerError:
                    name = ""
                if name not in jobs:
                    report.skipped_lines += 1
                    continue
                code = line.status_code or (20000 if state == DONE else 0)
                error = None if state == DONE else line.status_message
                rows.append((name, period, key, row, state, line.id, line.cost, code, error))
                if line.id:
                    held.add(line.id)
            ledger.restore(rows)
            ledger.settle(file_key(config.output.dir, path), path.stat().st_size, [], [])
    return held


async def from_id_list(
    config: Config, ledger: Ledger, client: ApiClient, days: float, held: set[str]
) -> None:
    """*posted* rows of our tasks id_list knows and no output holds."""
    jobs = {job.name for job in config.jobs}
    now = time.time()
    start = id_list_time(now - days * 86400 + 60)
    end = id_list_time(now + config.api.reconcile_slack_s)
    try:
        items = await complete_id_list(client, start, end)
    except IdListFailed as exc:
        raise ReconcileFailed(
            f"id_list could not list the tasks posted in the last {days:g} days ({exc}):"
            " nothing was recovered from it; run `orchestrator recover` again later"
        ) from None
    rows: list[Restored] = []
    for item in items:
        tag = (item.metadata or {}).get("tag")
        row, owner, _ = split_attempt_tag(tag if isinstance(tag, str) else "")
        if owner != ledger.id or item.id in held:
            continue
        name, period, key = row_of(row)
        if name in jobs:
            rows.append((name, period, key, row, POSTED, item.id, item.cost, None, None))
    ledger.restore(rows)


def finish(config: Config, ledger: Ledger, report: Recovered) -> None:
    """Keep the folders' markers (or write them), and count what was rebuilt."""
    for job in config.jobs:
        claim_folder(Path(config.output.dir) / job.name, ledger)
        report.counts[job.name] = ledger.counts(job.name)
    report.ledger_id = ledger.id


__all__ = ["MAX_DAYS", "Recovered", "finish", "from_id_list", "from_outputs", "lost_ledger_id"]
