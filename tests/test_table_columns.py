"""Some columns of a Parquet table in a bucket, fetched by byte range (reports/table_columns.py),
against real S3 and Azure servers: the columns come back as they were, row group by row
group; an object that is not the table asked for gives nothing."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.reports.table_columns import fetch_columns
from orchestrator.storage.bucket import Bucket
from tests import s3_server
from tests.conftest import ObjectServer

COVERS = (b"covers", b"1234")
WANTED = ("key", "rank", "url")


def table(rows: int) -> pa.Table:
    """Keys, ranks and URLs among wide text columns, as in a rankings table."""
    return pa.table(
        {
            "job": ["rank"] * rows,
            "key": [f"k{i % 997}" for i in range(rows)],
            "description": [f"description {i} " * 20 for i in range(rows)],
            "rank": [i % 100 or None for i in range(rows)],
            "title": [f"title {i} " * 5 for i in range(rows)],
            "url": [f"https://example.com/{i}" for i in range(rows)],
        }
    ).replace_schema_metadata(dict([COVERS]))


def put_table(folder: Path, bucket: Bucket, key: str, data: pa.Table) -> None:
    local = folder / "whole.parquet"
    pq.write_table(data, local, row_group_size=3_000)
    bucket.put_sync(key, str(local))


@pytest.fixture
def bucket(store: ObjectServer, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A bucket on S3 (moto) and one on Azure (Azurite), reached as the product reaches them."""
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)
    if isinstance(store, s3_server.S3Server):
        return Bucket(f"s3://{store.bucket()}/serp", store.endpoint)
    return Bucket(f"az://{store.bucket()}/serp")


def test_the_columns_fetched_are_the_tables_columns_row_for_row(
    tmp_path: Path, bucket: Bucket
) -> None:
    data = table(20_000)
    put_table(tmp_path, bucket, "t/rankings.parquet", data)
    target = tmp_path / "columns.parquet"
    assert fetch_columns(bucket, "t/rankings.parquet", WANTED, target, COVERS)
    fetched = pq.read_table(target)
    assert fetched.column_names == list(WANTED)
    assert fetched.to_pylist() == data.select(list(WANTED)).to_pylist()
    assert (fetched.schema.metadata or {})[COVERS[0]] == COVERS[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["columns.parquet", "whole.parquet"]


def test_a_table_of_other_bytes_a_missing_column_or_no_table_gives_nothing(
    tmp_path: Path, bucket: Bucket
) -> None:
    put_table(tmp_path, bucket, "t/rankings.parquet", table(100))
    bucket.put_sync("t/foreign.parquet", b"PAR1 not a table at all")
    target = tmp_path / "columns.parquet"
    stale = (COVERS[0], b"999")
    assert not fetch_columns(bucket, "t/rankings.parquet", WANTED, target, stale)
    assert not fetch_columns(bucket, "t/rankings.parquet", ("key", "phone"), target, COVERS)
    assert not fetch_columns(bucket, "t/foreign.parquet", WANTED, target, COVERS)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.parquet"]
