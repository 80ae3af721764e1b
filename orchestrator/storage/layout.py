"""The names of outputs, the same on a disk and in a bucket: what readers such as DuckDB,
Polars and Spark glob, and the marker that says whose ledger writes under a job."""

from typing import Final

RESULTS, FAILED, REJECTED = "results", "failed", "rejected"
PARTITION: Final = "period="  # Hive-style: a `period` column to every reader
MARKER: Final = ".orchestrator-ledger"


class NotFound(Exception):
    """No object at that key."""


class Exists(Exception):
    """A create-only PUT found an object at its key already."""
