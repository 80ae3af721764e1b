"""`orchestrator export`: a flat rankings table, one row per SERP item, from a job's collected
results, as CSV, JSONL or Parquet (pyarrow, the `parquet` extra), ready for DuckDB, Polars
and pandas: `datetime` is ISO 8601 (a UTC timestamp in Parquet), `location` an integer code,
se/se_type and location/language are the task's own.

It streams: one task line is decoded at a time and rows go out in chunks, so memory does not
grow with the number of results. Only the part of results.jsonl the ledger has settled is read
(a run may be appending to it at the same moment).
"""

import gzip
import io
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

import msgspec

from orchestrator.config import Config, JobConfig, ledger_password
from orchestrator.errors import ExportError, NoLedger, machine_error
from orchestrator.ledger import Ledger
from orchestrator.pipeline.labels import labels_by_key
from orchestrator.pipeline.sink import PARTITION, RESULTS, file_key
from orchestrator.reports.export_rows import COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, Row, rows_of_task
from orchestrator.reports.outfile import (
    replaced_text,
    replaced_whole,
    temporary_beside,
    write_csv_rows,
)
from schemas.items import Item

FORMATS: Final = ("csv", "jsonl", "parquet")
EXTENSIONS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
CHUNK_ROWS: Final = 10_000


class _Prefix(io.RawIOBase):
    """The first `size` bytes of a file: the part the ledger has settled."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle, self._left = handle, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self._left]
        count = self._handle.readinto(view)  # type: ignore[attr-defined]
        self._left -= count
        return int(count)


def result_files(
    config: Config, job: JobConfig, period: str | None = None, since: str | None = None
) -> list[tuple[str, str]]:
    """(period, path) of every results file of a job, oldest period first: the one-shot file
    (period '') and each `period=KEY` partition, plain and gzip whatever `gzip` says now."""
    folder = Path(config.output.dir) / job.name
    places = [("", folder)]
    if folder.is_dir():
        places += sorted(
            (child.name.removeprefix(PARTITION), child)
            for child in folder.iterdir()
            if child.is_dir() and child.name.startswith(PARTITION)
        )
    found = []
    for key, place in places:
        if period is not None and key != period:
            continue
        if since is not None and key < since:
            continue
        for suffix in (".jsonl", ".jsonl.gz"):
            path = place / f"{RESULTS}{suffix}"
            if path.is_file():
                found.append((key, str(path)))
    return found


def result_lines(
    config: Config, job: JobConfig, period: str | None = None, since: str | None = None
) -> Iterator[tuple[str, bytes]]:
    """(period, line) for the settled lines of a job's results files, streamed."""
    files = result_files(config, job, period, since)
    sizes: dict[str, int] = {}
    try:
        ledger = Ledger.reader(config.state.location, ledger_password(config.state))
        try:
            for _, path in files:
                committed = ledger.committed_size(file_key(config.output.dir, path), path)
                if committed is not None:  # a file the ledger never wrote is read whole
                    sizes[path] = committed
        finally:
            ledger.close()
    except NoLedger:
        pass  # no ledger next to them: read the whole files
    for key, path in files:
        size = sizes.get(path, os.path.getsize(path))
        with open(path, "rb") as raw:
            stream: IO[bytes] = io.BufferedReader(_Prefix(raw, size), 1 << 20)
            if path.endswith(".gz"):
                stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
            for line in stream:
                if line.strip():
                    yield key, line


def rows(
    config: Config,
    job: JobConfig,
    types: frozenset[str] | None,
    period: str | None = None,
    since: str | None = None,
) -> Iterator[Row]:
    for key, line in result_lines(config, job, period, since):
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


def _chunks(items: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_csv(
    source: Iterable[Row], out: IO[str], raw: bool = False, columns: tuple[str, ...] = COLUMNS
) -> int:
    """The rows as CSV, safe to open in a spreadsheet unless `raw` (reports/outfile.py)."""
    return write_csv_rows(out, columns, source, raw)


def write_jsonl(source: Iterable[Row], out: IO[bytes]) -> int:
    encoder = msgspec.json.Encoder()
    count = 0
    for chunk in _chunks(source, CHUNK_ROWS):
        out.write(b"".join(encoder.encode(row) + b"\n" for row in chunk))
        count += len(chunk)
    return count


def write_parquet(source: Iterable[Row], path: str, columns: tuple[str, ...] = COLUMNS) -> int:
    try:
        import pyarrow as pa  # type: ignore[import-not-found,unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ExportError(
            "parquet needs pyarrow: pip install 'serp-orchestrator[parquet]'"
            " (csv and jsonl need none)"
        ) from None

    def kind(column: str) -> Any:
        if column == "datetime":
            return pa.timestamp("s", tz="UTC")
        if column in INT_COLUMNS:
            return pa.int64()
        return pa.float64() if column in FLOAT_COLUMNS else pa.string()

    schema = pa.schema([(c, kind(c)) for c in columns])
    count = 0
    with temporary_beside(path) as temporary, pq.ParquetWriter(temporary, schema) as writer:
        for chunk in _chunks(source, CHUNK_ROWS):
            typed = [row | {"datetime": _timestamp(row["datetime"])} for row in chunk]
            writer.write_table(pa.Table.from_pylist(typed, schema=schema))
            count += len(chunk)
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


def _timestamp(value: str | int | float | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


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
