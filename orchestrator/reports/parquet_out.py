"""Writing Parquet (pyarrow, the `parquet` extra) with the export's column types: `datetime`
a UTC timestamp, counts and ranks integers, ratings, coordinates and prices floats."""

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final

from orchestrator.errors import ExportError
from orchestrator.reports.export_rows import COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, Row
from orchestrator.reports.outfile import temporary_beside

CHUNK_ROWS: Final = 10_000


def chunks(items: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_parquet(
    source: Iterable[Row],
    path: str,
    columns: tuple[str, ...] = COLUMNS,
    metadata: dict[bytes, bytes] | None = None,
    durable: bool = False,
) -> int:
    """The rows as one Parquet file, with the file-level `metadata` given; whole or not at all
    (and `durable`: on the disk before it is in place)."""
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

    schema = pa.schema([(c, kind(c)) for c in columns], metadata=metadata)
    count = 0
    with (
        temporary_beside(path, durable) as temporary,
        pq.ParquetWriter(temporary, schema) as writer,
    ):
        for chunk in chunks(source, CHUNK_ROWS):
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
