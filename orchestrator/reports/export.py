"""`orchestrator export`: a flat rankings table, one row per SERP item, from a job's collected
results, as CSV, JSONL or Parquet (pyarrow, the `parquet` extra), ready for DuckDB, Polars
and pandas: `datetime` is ISO 8601 (a UTC timestamp in Parquet), `location` an integer code,
se/se_type and location/language are the task's own.

It streams: one task line is decoded at a time and rows go out in chunks, so memory does not
grow with the number of results. Only the part of results.jsonl the ledger has settled is read
(a run may be appending to it at the same moment); a period whose rankings table covers all
of that is read from the table instead (rankings_table.py).
"""

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Final

import msgspec

from orchestrator.config import Config, JobConfig
from orchestrator.errors import ExportError, machine_error
from orchestrator.pipeline.labels import labels_by_key
from orchestrator.reports.export_rows import COLUMNS, Row, rows_of_task
from orchestrator.reports.outfile import replaced_text, replaced_whole, write_csv_rows
from orchestrator.reports.parquet_out import CHUNK_ROWS, chunks, write_parquet
from orchestrator.reports.rankings_table import table_rows, usable_table
from orchestrator.reports.results_files import (
    read_lines,
    result_lines,
    settled_files,
)
from schemas.items import Item

FORMATS: Final = ("csv", "jsonl", "parquet")
EXTENSIONS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def rows(
    config: Config,
    job: JobConfig,
    types: frozenset[str] | None,
    period: str | None = None,
    since: str | None = None,
) -> Iterator[Row]:
    """The rows of each period: from its rankings table while that is fresh (no JSON to
    parse), else from its results files. The ledger is read once for every file's settled
    size."""
    files, sizes = settled_files(config, job, period, since)
    by_period: dict[str, list[tuple[str, str]]] = {}
    for key, path in files:
        by_period.setdefault(key, []).append((key, path))
    for key, own in by_period.items():
        table = usable_table(config, job, key, sum(sizes[path] for _, path in own))
        if table is not None:
            yield from table_rows(table, key, types)
            continue
        for _, line in read_lines(config, own, sizes):
            yield from rows_of_task(job, line, types, key)


def label_column(name: str) -> str:
    """The export's column of a label (`client` -> `tag_client`: never a built-in's name)."""
    return f"tag_{name}"


def labelled(source: Iterable[Row], job: JobConfig, config: Config) -> Iterable[Row]:
    """The rows with a column for each of the job's labels (their input's, from the file)."""
    if not job.tag_columns:
        return source
    labels = labels_by_key(job, config.prices)

    def add(rows_: Iterable[Row]) -> Iterator[Row]:
        for row in rows_:
            found = labels.get(str(row["input_key"]), {})
            for name in job.tag_columns:
                row[label_column(name)] = found.get(name)
            yield row

    return add(source)


def write_csv(
    source: Iterable[Row], out: IO[str], raw: bool = False, columns: tuple[str, ...] = COLUMNS
) -> int:
    """The rows as CSV, safe to open in a spreadsheet unless `raw` (reports/outfile.py)."""
    return write_csv_rows(out, columns, source, raw)


def write_jsonl(source: Iterable[Row], out: IO[bytes]) -> int:
    encoder = msgspec.json.Encoder()
    count = 0
    for chunk in chunks(source, CHUNK_ROWS):
        out.write(b"".join(encoder.encode(row) + b"\n" for row in chunk))
        count += len(chunk)
    return count


def format_of(fmt: str | None, out: str) -> str:
    """`--format`, else what `--out`'s extension says (`-`: csv); an extension that says
    nothing is an error rather than CSV text in a file named .parquet."""
    if fmt is not None:
        return fmt
    if out == "-":
        return "csv"
    found = EXTENSIONS.get(Path(out).suffix.lower())
    if found is None:
        known = ", ".join(EXTENSIONS)
        raise ExportError(f"{out}: give --format, or an --out ending in {known}")
    return found


def known_item_types() -> frozenset[str]:
    """Every item `type` the schemas decode (organic, paid, local_pack, ...)."""
    found: set[str] = set()
    pending: list[type] = list(Item.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        tag = getattr(getattr(cls, "__struct_config__", None), "tag", None)
        if isinstance(tag, str):
            found.add(tag)
    return frozenset(found)


def check_types(
    config: Config,
    job: JobConfig,
    types: frozenset[str],
    period: str | None = None,
    since: str | None = None,
) -> None:
    """Each `--types` name is an item type the schemas know or one the results hold: a typo
    would write 0 rows and exit 0."""
    unknown = set(types - known_item_types())
    if unknown:
        for _, line in result_lines(config, job, period, since):
            unknown = {t for t in unknown if f'"type":"{t}"'.encode() not in line}
            if not unknown:
                return
        names = ", ".join(sorted(unknown))
        known = ", ".join(sorted(known_item_types()))
        raise ExportError(f"--types: no item type {names} in the results (known: {known})")


def export(
    config: Config,
    job: JobConfig,
    fmt: str,
    out: str,
    types: frozenset[str] | None,
    period: str | None = None,
    since: str | None = None,
    raw: bool = False,
) -> int:
    """Write the job's rankings to `out` ("-": standard output), of one period or of the
    periods since one; returns the number of rows (-1 if standard output was closed by its
    reader before the end). A file appears at `out` whole, or not at all."""
    source = labelled(rows(config, job, types, period, since), job, config)
    columns = COLUMNS + tuple(label_column(c) for c in job.tag_columns)
    try:
        if fmt == "parquet":
            if out == "-":
                raise ExportError("parquet cannot go to standard output: give --out PATH")
            return write_parquet(source, out, columns)
        if fmt == "csv":
            if out == "-":
                return write_csv(source, sys.stdout, raw, columns)
            with replaced_text(out) as text:
                return write_csv(source, text, raw, columns)
        if out == "-":
            return write_jsonl(source, sys.stdout.buffer)
        with replaced_whole(out) as binary:
            return write_jsonl(source, binary)
    except BrokenPipeError:
        if out != "-":
            raise ExportError(f"{out}: broken pipe") from None
        # The reader went away (`| head`): that is its choice, not an error. Point stdout at
        # /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        return -1
    except OSError as exc:  # standard output's
        raise machine_error(exc, out) from exc
