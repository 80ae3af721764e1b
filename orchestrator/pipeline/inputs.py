"""Inputs: stream a job's file row by row, merge the job's defaults, validate each task with
the schemas, and give it a stable key and tag. Nothing is loaded whole.

Formats, chosen by extension:
- `.txt`: one keyword per line (one image URL for google/search_by_image); blank lines
  skipped, and a first line that names the column (`keyword`), noted as rejected.
- `.csv`: a header row of task fields, comma-separated; cells are stripped, empty ones left
  out; "2840" becomes 2840. A column the endpoint does not know refuses the file unless the
  job lists it in `ignore_columns`.
- `.jsonl`: one JSON task object per line, types as the API takes them; an unknown key
  rejects its row (keys in `ignore_columns` are dropped).

A bad row becomes a `RejectedRow` (line and reason) and the rest goes on; so does a line of
more than MAX_LINE_CHARS characters, read past without being held. A file that cannot be
opened or decoded, that is not a regular file (a FIFO, a device), or whose header is wrong,
raises `InputError` before anything is posted (`check_input`).
"""

import codecs
import copy
import csv
import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import msgspec

from orchestrator.config import JobConfig
from orchestrator.errors import InputError, did_you_mean
from orchestrator.files import open_regular
from orchestrator.pipeline.input_lines import MAX_LINE_CHARS, CsvLines, TooLong, bounded_lines
from orchestrator.pipeline.keyword_rows import OneFieldRows
from orchestrator.pipeline.normalise import normalised
from schemas.pricing import CostCache, PriceTable
from schemas.requests import TaskPostBase, TaskValidationError, task_field_names, validate_task

FORMATS: Final = (".txt", ".csv", ".jsonl")
KEY_BYTES: Final = 10  # 80-bit keys: collisions are out of reach at a million inputs a day
_ENCODER: Final = msgspec.json.Encoder(order="sorted")
_OBJECT: Final = msgspec.json.Decoder(dict[str, Any])


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is 3x slower, per row
class ValidInput:
    """A task ready to post: its JSON body, stable key, tag and price."""

    job: str
    period: str
    line: int
    key: str
    tag: str
    body: bytes
    cost: float


Made = tuple[int, str, str, bytes, float]  # a valid row: line, key, tag, body, cost


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


UTF8_HINT: Final = "save it as UTF-8 (iconv -f latin1 -t utf-8 IN > OUT converts Latin-1)"


def check_input(job: JobConfig) -> None:
    """Fail now, with the line, for what would stop or spoil the whole file later: an unknown
    format, an unreadable file, text that is not UTF-8, a CSV header that is not a comma list
    of the endpoint's fields. A run streams its inputs while it posts, so such a file must be
    refused before the first task is paid for. Reads the file once, in blocks (the decoding is
    done in C)."""
    path = Path(job.input)
    if path.suffix.lower() not in FORMATS:
        raise InputError(
            job.input, f"unknown input format {path.suffix.lower()!r} (use {', '.join(FORMATS)})"
        )
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    line, first = 1, ""
    try:
        with open_regular(path) as handle:
            while block := handle.read(1 << 20):
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as exc:
                    where = line + block[: exc.start].count(b"\n")
                    raise InputError(
                        job.input, f"not UTF-8 text ({exc.reason}): {UTF8_HINT}", line=where
                    ) from None
                if not first:
                    first = text[:MAX_LINE_CHARS].split("\n", 1)[0].rstrip("\r")
                line += block.count(b"\n")
            decoder.decode(b"", final=True)
    except OSError as exc:
        raise InputError(job.input, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            job.input, f"not UTF-8 text ({exc.reason}): {UTF8_HINT}", line=line
        ) from None
    if path.suffix.lower() == ".csv":
        check_header(job, first)


def check_header(job: JobConfig, first: str) -> None:
    """A CSV header must be comma-separated names of the endpoint's fields (or of
    `ignore_columns`): anything else would reject every row, or post tasks without the
    column's value."""
    names = [name.strip() for name in next(csv.reader([first]), [])]
    if not names or not all(names):
        raise InputError(job.input, "the first row must name the task fields", line=1)
    if len(names) == 1 and (sep := next((c for c in ";\t|" if c in first), None)):
        shown = "tab" if sep == "\t" else repr(sep)
        raise InputError(
            job.input, f"columns are separated by {shown}, not commas: save it as CSV", line=1
        )
    known = (task_field_names(job.se, job.se_type) | set(job.extra_fields)) - {"tag"}
    if "tag" in names:
        raise InputError(job.input, "column tag: set by the orchestrator, leave it out", line=1)
    left_out = {*job.ignore_columns, *job.tag_columns}
    unknown = [n for n in names if n not in known and n not in left_out]
    if not unknown:
        return
    hints = [did_you_mean(name, known) for name in unknown]
    listed = ", ".join(f"{n!r}{h}" for n, h in zip(unknown, hints, strict=True))
    if len(unknown) == len(names):
        raise InputError(
            job.input,
            f"the header names no field of {job.se}/{job.se_type} tasks: {listed}",
            line=1,
        )
    raise InputError(
        job.input,
        f"{listed}: not a field of {job.se}/{job.se_type} tasks; fix the header, or list "
        "the column in the job's ignore_columns to leave it out of the tasks",
        line=1,
    )


# A `.txt` file's first line that names its column (a spreadsheet saved as text) is not an
# input: "keyword" would be posted and paid for every period.
TXT_HEADERS: Final = {
    "keyword": frozenset({"keyword", "keywords", "query", "queries"}),
    "image_url": frozenset({"image_url", "image url", "url", "image"}),
}
HEADER_SKIPPED: Final = "a column name, not an input: skipped (the first line of the file)"


def txt_field(job: JobConfig) -> str:
    """The task field a `.txt` line fills: an image URL for search_by_image, else a keyword."""
    return "image_url" if job.se_type == "search_by_image" else "keyword"


@contextmanager
def _text(job: JobConfig) -> Iterator[io.TextIOWrapper]:
    """The job's file as text, its errors (it cannot be opened, it is not UTF-8) as
    InputError, those met while reading it in the `with` block too."""
    try:
        handle = open_regular(job.input)
    except OSError as exc:
        raise InputError(job.input, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        try:
            yield io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        except UnicodeDecodeError as exc:
            raise InputError(job.input, f"not UTF-8 text ({exc.reason}): {UTF8_HINT}") from exc


Read = tuple[int, str, dict[str, Any] | str] | RejectedRow


def _rows(job: JobConfig) -> Iterator[Read]:
    """(line, raw text, row or error message) for each data row of a `.csv` or `.jsonl`
    file, or the RejectedRow of an over-long line (`.txt` files are read by `_txt_rows`)."""
    suffix = Path(job.input).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(job.input, f"unknown input format {suffix!r} (use {', '.join(FORMATS)})")
    with _text(job) as text:
        if suffix == ".csv":
            yield from _csv_rows(job, text)
            return
        for number, line in enumerate(bounded_lines(text), start=1):
            if isinstance(line, TooLong):
                yield RejectedRow(job.name, number, line.reason, line.shown)
                continue
            stripped = line.strip()
            if not stripped:
                continue
            try:
                row = _OBJECT.decode(stripped)
                for name in (*job.ignore_columns, *job.tag_columns):
                    row.pop(name, None)
                yield number, stripped, row
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                yield number, stripped, f"not a JSON object: {exc}"


def labelled_rows(job: JobConfig) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of each data row of a `.csv` or `.jsonl` file as read, before any check:
    labels.py takes its label columns from them (a `.txt` has none)."""
    if Path(job.input).suffix.lower() == ".txt":
        return
    for read in _rows(job):
        if not isinstance(read, RejectedRow) and isinstance(read[2], dict):
            yield read[0], read[2]


def _csv_rows(job: JobConfig, text: io.TextIOWrapper) -> Iterator[Read]:
    lines = CsvLines(text)
    reader = csv.reader(lines)
    header = next(reader, None)
    lines.row_ended()
    if not header or not all(name.strip() for name in header) or lines.dropped:
        raise InputError(job.input, "the first row must name the task fields", line=1)
    names = [name.strip() for name in header]
    left_out = {*job.ignore_columns, *job.tag_columns}  # labels are read by labels.py
    kept = [name not in left_out for name in names]
    while True:
        first = lines.number + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # not met with the default dialect; that row only if it is
            lines.row_ended()
            yield RejectedRow(job.name, first, f"not a CSV row: {exc}", "")
            continue
        lines.row_ended()
        line = lines.number
        if (dropped := lines.dropped_in(first, line)) is not None:
            yield RejectedRow(job.name, dropped[0], dropped[1].reason, dropped[1].shown)
            continue
        cells = [v.strip() for v in values]
        if not any(cells):
            continue
        raw = ",".join(values)
        if len(cells) != len(names):
            yield line, raw, f"expected {len(names)} columns, got {len(cells)}"
            continue
        yield (
            line,
            raw,
            {k: v for k, v, keep in zip(names, cells, kept, strict=True) if keep and v != ""},
        )


def read_inputs(
    job: JobConfig, prices: PriceTable, period: str = "", after_line: int = 0, fast: bool = True
) -> Iterator[ValidInput | RejectedRow]:
    """Every row of the job's file after `after_line`, validated: a ValidInput to post (in
    `period`, '' for a one-shot job) or a RejectedRow. Rows up to `after_line` are read past
    unchecked (a load that a crash cut short goes on from there). The rows of a `.txt` file
    take the fast way of keyword_rows.py (`fast=False`: every row the whole way)."""
    for row in input_rows(job, prices, period, after_line, fast):
        yield row if isinstance(row, RejectedRow) else ValidInput(job.name, period, *row)


def input_rows(
    job: JobConfig, prices: PriceTable, period: str = "", after_line: int = 0, fast: bool = True
) -> Iterator[Made | RejectedRow]:
    """`read_inputs` as the load worker takes it: each valid row a plain tuple."""
    suffix = Path(job.input).suffix.lower()
    costs = CostCache(job.se, job.se_type, prices)
    if suffix == ".txt":
        yield from _txt_rows(job, costs, period, after_line, fast)
        return
    for read in _rows(job):
        if isinstance(read, RejectedRow):
            if read.line > after_line:
                yield read
        elif read[0] > after_line:
            yield _checked(job, costs, period, read, suffix)[0]


def _txt_rows(
    job: JobConfig, costs: CostCache, period: str, after_line: int, fast: bool
) -> Iterator[Made | RejectedRow]:
    """The rows of a `.txt` file, each line the value of `txt_field`. With `fast`, every row
    after the first valid one is made by keyword_rows.py, unless the job passes extra fields
    through or the endpoint has no such field (then every row is refused, the whole way)."""
    field = txt_field(job)
    one_field = None
    if fast and not job.extra_fields and field in task_field_names(job.se, job.se_type):
        tag_of = partial(task_tag, job.name, period=period)
        one_field = OneFieldRows(job, field, costs, tag_of, KEY_BYTES)
    seen = after_line > 0  # a load going on after a crash is past the first line
    with _text(job) as text:
        for number, line in enumerate(bounded_lines(text), start=1):
            if number <= after_line:
                continue
            if isinstance(line, TooLong):
                yield RejectedRow(job.name, number, line.reason, line.shown)
                continue
            value = line.strip()
            if not value:
                continue
            if not seen and value.lower() in TXT_HEADERS[field]:
                yield RejectedRow(job.name, number, HEADER_SKIPPED, value)
                continue
            seen = True
            if field == "keyword" and job.normalise_keywords:
                value = normalised(job.se, value)
            if one_field is not None and (made := one_field.made(number, value)) is not None:
                yield made
                continue
            learning = one_field is not None and one_field.template is None
            read = (number, value, {field: value})
            row, checked = _checked(job, costs, period, read, ".txt", learning)
            if one_field is not None and checked is not None:
                one_field.learn(checked)
            yield row


def _checked(
    job: JobConfig,
    costs: CostCache,
    period: str,
    read: tuple[int, str, dict[str, Any] | str],
    suffix: str,
    untagged: bool = False,
) -> tuple[Made | RejectedRow, TaskPostBase | None]:
    """One row the whole way: the row and, with `untagged` and when valid, a copy of its task
    before its tag was set."""
    line, raw, row = read
    from_strings = suffix != ".jsonl"
    if isinstance(row, str):
        return RejectedRow(job.name, line, row, raw), None
    if "tag" in row:
        return RejectedRow(job.name, line, "tag: set by the orchestrator, leave it out", raw), None
    task = {**job.defaults, **row}
    keyword = task.get("keyword")
    if isinstance(keyword, str) and job.normalise_keywords:
        task["keyword"] = normalised(job.se, keyword)
    extra = {name: task.pop(name) for name in job.extra_fields if name in task}
    try:
        checked = validate_task(job.se, job.se_type, task, from_strings=from_strings)
    except TaskValidationError as exc:
        return RejectedRow(job.name, line, str(exc), raw), None
    before = copy.copy(checked) if untagged else None
    if extra:  # fields the schemas do not know yet, passed through as given
        fields = {**msgspec.to_builtins(checked), **extra}
        key = input_key(fields)
        tag = task_tag(job.name, key, period)
        body = msgspec.json.encode({**fields, "tag": tag})
    else:
        key = input_key(msgspec.to_builtins(checked))
        tag = task_tag(job.name, key, period)
        checked.tag = tag  # set in place: `replace` would check the whole task again
        body = msgspec.json.encode(checked)
    cost = costs.cost(checked)
    return (line, key, tag, body, cost), before
