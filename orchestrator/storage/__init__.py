"""Where results live: the names every store shares (layout), and a bucket's parts (bucket,
parts) for `[output] url`. A local folder's files are the sink's own (pipeline/sink.py)."""

from typing import TYPE_CHECKING

from orchestrator.config import OutputConfig

if TYPE_CHECKING:
    from orchestrator.storage.bucket import Bucket


class NotFound(Exception):
    """No object at that key."""


class Exists(Exception):
    """A create-only PUT found an object at its key already."""


def open_bucket(output: OutputConfig) -> "Bucket":
    """The bucket `[output] url` names (obstore, the [objects] extra, is imported only here:
    a config that writes to a folder never loads it)."""
    from orchestrator.storage.bucket import Bucket

    assert output.url is not None
    return Bucket(output.url, output.endpoint_url)
