"""The rankings table: beside each period's raw results, the export's flat table as Parquet.

`out/<job>/period=KEY/rankings.parquet` holds one row per SERP item with the export's columns
and types, less `period`, which is the partition's Hive column (DuckDB, Polars, Spark and
BigQuery read it from the path). A task with no item is one row whose `type` is null, so that
an empty SERP still counts among the period's keywords. Labels are not in it: they belong to
the input file, which may change; `export` adds them.

A run writes the table of each period whose tasks are all settled. The table records in its
metadata how many bytes of the period's results files it was made from; `export` and
`report` use it only while that is every settled byte (a period re-opened by new inputs, or
results recovered, make it stale until the next run writes it again), and read the JSON
otherwise. Writing needs pyarrow (the `parquet` extra); without it no table is written and
everything reads the JSON as before.

With a bucket (`[output] url`) the table is written beside the parts, at
`<prefix>/<job>/period=KEY/rankings.parquet`, and readers fetch it into the same place under
`[output] dir` (a cache: its footer is checked against the ledger's parts like any table).
"""

import logging
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from orchestrator.config import Config, JobConfig
from orchestrator.errors import NoLedger, OrchestratorError
from orchestrator.ledger import DONE, FAILED, MISSED, Ledger
from orchestrator.pipeline.sink import output_folder
from orchestrator.reports.export_rows import COLUMNS, Row, rows_of_task
from orchestrator.reports.outfile import replaced_whole
from orchestrator.reports.parquet_out import CHUNK_ROWS, write_parquet
from orchestrator.reports.results_files import (
    open_reader,
    result_files,
    result_lines,
    settled_sizes,
)
from orchestrator.reports.table_columns import fetch_columns
from orchestrator.storage.layout import NotFound
from orchestrator.storage.opening import open_bucket
from orchestrator.storage.parts import folder_key

if TYPE_CHECKING:  # the bucket module imports obstore: a folder's config never loads it
    from orchestrator.storage.bucket import Bucket

log = logging.getLogger(__name__)

TABLE: Final = "rankings.parquet"
COLUMNS_CACHE: Final = ".rankings.columns.parquet"  # some columns of a bucket's table, fetched
COVERS: Final = b"orchestrator.results_bytes"  # metadata: settled bytes the table was made of
TABLE_COLUMNS: Final = tuple(c for c in COLUMNS if c != "period")
_ROW_ORDER: Final = ("job", "period", *TABLE_COLUMNS[1:])  # the keys of rows_of_task's rows


def can_write() -> bool:
    return find_spec("pyarrow") is not None


def table_path(config: Config, job: JobConfig, period: str) -> Path:
    return output_folder(config.output.dir, job.name, period) / TABLE


def settled_bytes(config: Config, job: JobConfig, period: str, ledger: Ledger | None) -> int:
    """Bytes of the period's results files that hold settled tasks."""
    return sum(settled_sizes(config, result_files(config, job, period=period), ledger).values())


def covered_bytes(path: Path | IO[bytes]) -> int | None:
    """The settled bytes a table was made of, from its footer; None if there is no table of
    ours there, or it cannot be read."""
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

        return int((pq.read_schema(path).metadata or {})[COVERS])
    except Exception:  # no pyarrow, no file, no footer of ours, or pyarrow's ArrowInvalid
        return None


def covers(path: Path, settled: int) -> bool:
    """Whether the table at `path` was made of exactly these settled bytes: else it is
    missing, foreign, torn, or stale (results settled since)."""
    return path.is_file() and covered_bytes(path) == settled


def fresh_table(
    config: Config, job: JobConfig, period: str, columns: tuple[str, ...] | None = None
) -> Path | None:
    """The period's table if it covers every settled byte of its results, else None;
    `columns`: only these are read (from a bucket, only they are fetched)."""
    if not period:
        return None
    ledger = open_reader(config)
    try:
        settled = settled_bytes(config, job, period, ledger)
    finally:
        if ledger is not None:
            ledger.close()
    return usable_table(config, job, period, settled, columns)


def table_key(job: JobConfig, period: str) -> str:
    """Where a period's table is in the bucket."""
    return f"{folder_key(job.name, period)}{TABLE}"


def usable_table(
    config: Config,
    job: JobConfig,
    period: str,
    settled: int,
    columns: tuple[str, ...] | None = None,
) -> Path | None:
    """The table to read for a period of `settled` bytes: the local one if it covers them;
    with a bucket, the bucket's when it does, fetched to the local path first. `columns`:
    the caller reads only these, so only they are fetched, to a file of their own
    (COLUMNS_CACHE, which no reader's glob of `rankings.parquet` finds)."""
    path = table_path(config, job, period)
    if not period:
        return None
    if covers(path, settled):
        return path
    if config.output.url is None:
        return None
    if columns is None:
        return _fetched(
            config, job, period, settled, path, lambda b, k: _download(b, k, path, settled)
        )
    cache = path.with_name(COLUMNS_CACHE)
    if covers(cache, settled) and _has_columns(cache, columns):
        return cache
    for leftover in path.parent.glob(f".{COLUMNS_CACHE}.*"):  # a fetch cut off
        leftover.unlink(missing_ok=True)
    expected = (COVERS, str(settled).encode())
    return _fetched(
        config,
        job,
        period,
        settled,
        cache,
        lambda b, k: fetch_columns(b, k, columns, cache, expected),
    )


def _fetched(
    config: Config,
    job: JobConfig,
    period: str,
    settled: int,
    path: Path,
    fetch: Callable[["Bucket", str], bool],
) -> Path | None:
    """`path`, made by `fetch` from the bucket's table of the period, if it covers `settled`
    bytes; None if it does not, or there is no table."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not fetch(open_bucket(config.output), table_key(job, period)):
            return None
    except NotFound:
        return None
    return path if covers(path, settled) else None


def _download(bucket: "Bucket", key: str, path: Path, settled: int) -> bool:
    """The whole table, if its footer says it covers `settled` bytes."""
    with bucket.open(key) as remote:
        if covered_bytes(remote) != settled:
            return False
    with replaced_whole(str(path)) as local:
        for chunk in bucket.chunks(key):
            local.write(chunk)
    return True


def _has_columns(path: Path, columns: tuple[str, ...]) -> bool:
    import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

    return set(columns) <= set(pq.read_schema(path).names)


def _bucket_covers(config: Config, job: JobConfig, period: str, settled: int) -> bool:
    try:
        with open_bucket(config.output).open(table_key(job, period)) as remote:
            return covered_bytes(remote) == settled
    except NotFound:
        return False


def settled_periods(config: Config, job: JobConfig, ledger: Ledger | None) -> list[str]:
    """Periods with results, oldest first, less those the ledger says are still in flight
    (all of them, without a ledger)."""
    keys = sorted({key for key, _ in result_files(config, job) if key})
    if ledger is None:
        return keys
    return [key for key in keys if _settled(ledger, job.name, key)]


def complete_periods(config: Config, job: JobConfig) -> list[str]:
    """`settled_periods`, through a reader of the config's ledger."""
    ledger = open_reader(config)
    try:
        return settled_periods(config, job, ledger)
    finally:
        if ledger is not None:
            ledger.close()


def _settled(ledger: Ledger, job: str, period: str) -> bool:
    counts, _, _ = ledger.period_summary(job, period)
    return sum(counts.values()) == counts[DONE] + counts[FAILED] + counts[MISSED]


def write_table(config: Config, job: JobConfig, period: str, ledger: Ledger | None) -> int:
    """Write the period's table from its settled results; returns its rows. The file appears
    whole (written beside it, fsynced, renamed) or not at all."""
    covered = settled_bytes(config, job, period, ledger)
    rows = (
        row
        for key, line in result_lines(config, job, period=period)
        for row in rows_of_task(job, line, None, key, keep_empty=True)
    )
    path = table_path(config, job, period)
    metadata = {COVERS: str(covered).encode()}
    return write_parquet(rows, str(path), TABLE_COLUMNS, metadata, durable=True)


def refresh(
    config: Config, ledger: Ledger, jobs: list[JobConfig], say: Callable[[str], None] = log.info
) -> int:
    """Write the table of each settled period of these jobs that lacks a fresh one, saying so
    before and after each; returns how many were written. Without pyarrow, none."""
    if not can_write():
        return 0
    written = 0
    for job in jobs:
        if job.every is None:
            continue
        for period in settled_periods(config, job, ledger):
            path = table_path(config, job, period)
            settled = settled_bytes(config, job, period, ledger)
            if config.output.url is not None:
                if _bucket_covers(config, job, period, settled):
                    continue
            elif covers(path, settled):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            for leftover in path.parent.glob(f".{TABLE}.*.part"):  # a writer cut off
                leftover.unlink(missing_ok=True)
            say(f"{job.name} [{period}]: writing its rankings table ({path})")
            started = time.monotonic()
            count = write_table(config, job, period, ledger)
            if config.output.url is not None:
                open_bucket(config.output).put_sync(table_key(job, period), str(path))
            took = time.monotonic() - started
            say(f"{job.name} [{period}]: rankings table written, {count} rows in {took:.1f}s")
            written += 1
    return written


def table_rows(path: Path, period: str, types: frozenset[str] | None) -> Iterator[Row]:
    """The export's rows of a table, as `rows_of_task` gives them from the JSON: a task's
    row of no item left out, `datetime` in ISO 8601, `period` from the partition."""
    import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

    table = pq.ParquetFile(path)
    for batch in table.iter_batches(batch_size=CHUNK_ROWS, columns=list(TABLE_COLUMNS)):
        for row in batch.to_pylist():
            kind = row["type"]
            if kind is None or (types is not None and kind not in types):
                continue
            when = row["datetime"]
            row["datetime"] = when.isoformat() if when is not None else None
            row["period"] = period
            yield {column: row[column] for column in _ROW_ORDER}


def refresh_all(config: Config, password: str | None, say: Callable[[str], None] = log.info) -> int:
    """`refresh` for every job of the config, through a reader of its ledger. A table that
    cannot be written (a full disk) is a warning, not a failed run: the results are safe, and
    readers use the JSON until a later run writes it."""
    try:
        ledger = Ledger.reader(config.state.location, password)
    except (NoLedger, OrchestratorError) as exc:
        log.warning("rankings_table_not_written reason=%s", exc)
        return 0
    try:
        return refresh(config, ledger, list(config.jobs), say)
    except (OrchestratorError, OSError) as exc:
        log.warning("rankings_table_not_written reason=%s", exc)
        return 0
    except Exception as exc:  # pyarrow's own (a value no column type holds):
        # the results are safe and readers use the JSON; a derived table never fails a run
        log.warning("rankings_table_not_written reason=%s: %s", type(exc).__name__, exc)
        return 0
    finally:
        ledger.close()
