"""Inputs: stream a job's file row by row, merge the job's defaults, validate each task with
the schemas, and give it a stable key and tag. Nothing is loaded whole.

Formats, chosen by extension:
- `.txt`: one keyword per line (one image URL for google/search_by_image); blank lines skipped.
- `.csv`: a header row of task fields; empty cells are left out; "2840" becomes 2840.
- `.jsonl`: one JSON task object per line, types as the API takes them.

A bad row becomes a `RejectedRow` (line and reason) and the rest goes on. A file that cannot
be opened or decoded raises `InputError` before anything is posted.
"""

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from orchestrator.config import JobConfig
from orchestrator.errors import InputError
from schemas.pricing import PriceTable, task_cost
from schemas.requests import TaskValidationError, validate_task

FORMATS: Final = (".txt", ".csv", ".jsonl")
KEY_BYTES: Final = 10  # 80-bit keys: collisions are out of reach at a million inputs a day
_ENCODER: Final = msgspec.json.Encoder(order="sorted")
_OBJECT: Final = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True, slots=True)
class ValidInput:
    """A task ready to post: its JSON body, stable key, tag and price."""

    job: str
    period: str
    line: int
    key: str
    tag: str
    body: bytes
    cost: float


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that will never be posted, and why."""

    job: str
    line: int
    reason: str
    raw: str


def input_key(task: dict[str, Any]) -> str:
    """Stable key of a task: the same parameters always give the same key, across runs."""
    return hashlib.blake2b(_ENCODER.encode(task), digest_size=KEY_BYTES).hexdigest()


def task_tag(job: str, key: str, period: str = "") -> str:
    """The tag posted with a task, so that id_list can match it after a crash: `job:key`, and
    `job:period:key` for a recurring job, so each period's task is told from the last one's."""
    return f"{job}:{period}:{key}" if period else f"{job}:{key}"


def key_of_tag(tag: str) -> str | None:
    """The input key a tag carries (its last part, before an attempt's `@ledger.batch`), or
    None for a tag not of our form."""
    parts = tag.partition("@")[0].split(":")
    return parts[-1] if len(parts) in (2, 3) else None


def check_input(job: JobConfig) -> None:
    """Fail now, with the line, for what would stop the whole file later: an unknown format,
    an unreadable file, text that is not UTF-8, a CSV without a header. A run streams its
    inputs while it posts, so such a file must be refused before the first task is paid for.
    Reads the file once, in blocks (fast: the decoding is done in C)."""
    path = Path(job.input)
    if path.suffix.lower() not in FORMATS:
        raise InputError(
            job.input, f"unknown input format {path.suffix.lower()!r} (use {', '.join(FORMATS)})"
        )
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    line, first = 1, ""
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as exc:
                    where = line + block[: exc.start].count(b"\n")
                    raise InputError(
                        job.input, f"not UTF-8 text ({exc.reason})", line=where
                    ) from None
                if not first:
                    first = text.split("\n", 1)[0]
                line += block.count(b"\n")
            decoder.decode(b"", final=True)
    except OSError as exc:
        raise InputError(job.input, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(job.input, f"not UTF-8 text ({exc.reason})", line=line) from None
    if path.suffix.lower() == ".csv":
        header = next(csv.reader([first]), [])
        if not header or not all(name.strip() for name in header):
            raise InputError(job.input, "the first row must name the task fields", line=1)


def _rows(job: JobConfig) -> Iterator[tuple[int, str, dict[str, Any] | str]]:
    """(line, raw text, row or error message) for each data row of the file."""
    path = Path(job.input)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(job.input, f"unknown input format {suffix!r} (use {', '.join(FORMATS)})")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(job.input, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        try:
            if suffix == ".csv":
                yield from _csv_rows(job, text)
                return
            field = "image_url" if job.se_type == "search_by_image" else "keyword"
            for number, line in enumerate(text, start=1):
                stripped = line.strip()
                if not stripped:
                    continue
                if suffix == ".txt":
                    yield number, stripped, {field: stripped}
                    continue
                try:
                    yield number, stripped, _OBJECT.decode(stripped)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    yield number, stripped, f"not a JSON object: {exc}"
        except UnicodeDecodeError as exc:
            raise InputError(job.input, f"not UTF-8 text ({exc.reason})") from exc


def _csv_rows(
    job: JobConfig, text: io.TextIOWrapper
) -> Iterator[tuple[int, str, dict[str, Any] | str]]:
    reader = csv.reader(text)
    header = next(reader, None)
    if not header or not all(name.strip() for name in header):
        raise InputError(job.input, "the first row must name the task fields", line=1)
    names = [name.strip() for name in header]
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        raw = ",".join(values)
        if len(values) != len(names):
            yield line, raw, f"expected {len(names)} columns, got {len(values)}"
            continue
        yield line, raw, {k: v for k, v in zip(names, values, strict=True) if v != ""}


def read_inputs(
    job: JobConfig, prices: PriceTable, period: str = ""
) -> Iterator[ValidInput | RejectedRow]:
    """Every row of the job's file, validated: a ValidInput to post (in `period`, '' for a
    one-shot job) or a RejectedRow."""
    from_strings = Path(job.input).suffix.lower() != ".jsonl"
    for line, raw, row in _rows(job):
        if isinstance(row, str):
            yield RejectedRow(job.name, line, row, raw)
            continue
        if "tag" in row:
            yield RejectedRow(job.name, line, "tag: set by the orchestrator, leave it out", raw)
            continue
        task = {**job.defaults, **row}
        try:
            checked = validate_task(job.se, job.se_type, task, from_strings=from_strings)
        except TaskValidationError as exc:
            yield RejectedRow(job.name, line, str(exc), raw)
            continue
        key = input_key(msgspec.to_builtins(checked))
        tag = task_tag(job.name, key, period)
        body = msgspec.json.encode(msgspec.structs.replace(checked, tag=tag))
        cost = task_cost(job.se, job.se_type, checked, prices)
        yield ValidInput(job.name, period, line, key, tag, body, cost)
