"""Opening the bucket `[output] url` names: obstore (the [objects] extra) is imported only
here, so a config that writes to a folder never loads it."""

from typing import TYPE_CHECKING

from orchestrator.config import OutputConfig

if TYPE_CHECKING:
    from orchestrator.storage.bucket import Bucket


def open_bucket(output: OutputConfig) -> "Bucket":
    """The bucket and prefix of `[output] url`."""
    from orchestrator.storage.bucket import Bucket

    assert output.url is not None
    return Bucket(output.url, output.endpoint_url)
