"""Some columns of a Parquet table in a bucket, fetched by byte range.

A report needs a few of the rankings table's columns (keys, types, ranks, domains, URLs). Titles
and descriptions, about three quarters of the table's bytes, it never reads, so it need not
download them either. The table's footer says where each row group keeps each column. Those
ranges of the wanted columns are fetched (obstore: ten requests at a time, near ones merged)
and laid at their own offsets in a sparse scratch file. pyarrow then reads the wanted columns
from it and writes a table of those columns only, with the same footer metadata.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from orchestrator.reports.outfile import temporary_beside

if TYPE_CHECKING:  # the bucket module imports obstore: a folder's config never loads it
    from orchestrator.storage.bucket import Bucket

FETCH_BYTES: Final = 64 << 20  # column bytes fetched per round: what is in memory at once
_TAIL: Final = 64 << 10  # the first read from the end, which holds most footers whole


def fetch_columns(
    bucket: "Bucket",
    key: str,
    columns: tuple[str, ...],
    target: Path,
    expected: tuple[bytes, bytes],
) -> bool:
    """Write the `columns` of the bucket's Parquet object `key` to `target`, whole or not at
    all. False, and nothing written, if the object is not Parquet, lacks one of them or the
    `expected` (name, value) in its footer's metadata, or was written over while it was read
    (a run wrote the period's table again)."""
    import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

    version = bucket.version(key)
    size = version[0]
    fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".ranges", dir=target.parent)
    try:
        with os.fdopen(fd, "r+b") as sparse:
            sparse.truncate(size)
            _fetch_footer(bucket, key, size, sparse.fileno())
            footer = pq.read_metadata(scratch)
            name, value = expected
            if (footer.metadata or {}).get(name) != value:
                return False
            if not set(columns) <= set(footer.schema.names):
                return False
            for spans in _rounds(_column_spans(footer, columns)):
                for (start, _), piece in zip(spans, bucket.ranges(key, spans), strict=True):
                    os.pwrite(sparse.fileno(), piece, start)
        if bucket.version(key) != version:
            return False
        _rewrite(pq.ParquetFile(scratch), columns, target)
        return True
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError: not a table
        return False
    finally:
        with suppress(FileNotFoundError):
            os.unlink(scratch)


def _fetch_footer(bucket: "Bucket", key: str, size: int, fd: int) -> None:
    """The object's last bytes (its footer and the length before the magic), at their offsets."""
    tail_start = max(0, size - _TAIL)
    (tail,) = bucket.ranges(key, [(tail_start, size)])
    os.pwrite(fd, tail, tail_start)
    length = int.from_bytes(tail[-8:-4], "little") if len(tail) >= 8 else 0
    footer_start = max(0, size - 8 - length)
    if footer_start < tail_start:
        (rest,) = bucket.ranges(key, [(footer_start, tail_start)])
        os.pwrite(fd, rest, footer_start)


def _column_spans(footer: Any, columns: tuple[str, ...]) -> list[tuple[int, int]]:
    """[start, end) of every column chunk of `columns`, in file order."""
    wanted = {footer.schema.names.index(name) for name in columns}
    spans = []
    for group in range(footer.num_row_groups):
        row_group = footer.row_group(group)
        for index in sorted(wanted):
            chunk = row_group.column(index)
            start = chunk.dictionary_page_offset
            if not chunk.has_dictionary_page or start is None:
                start = chunk.data_page_offset
            spans.append((start, start + chunk.total_compressed_size))
    return sorted(spans)


def _rounds(spans: list[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    """The spans in rounds of about FETCH_BYTES each (one span may be larger)."""
    batch: list[tuple[int, int]] = []
    held = 0
    for span in spans:
        batch.append(span)
        held += span[1] - span[0]
        if held >= FETCH_BYTES:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _rewrite(table: Any, columns: tuple[str, ...], target: Path) -> None:
    """The columns of the scratch file as a table of their own, its footer metadata kept."""
    import pyarrow as pa  # type: ignore[import-not-found,unused-ignore]
    import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

    schema = table.schema_arrow
    projected = pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)
    with temporary_beside(str(target)) as temporary, pq.ParquetWriter(temporary, projected) as out:
        for group in range(table.num_row_groups):
            out.write_table(table.read_row_group(group, columns=list(columns)))
