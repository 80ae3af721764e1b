"""An object store named by `[output] url` (s3://, gs://, az://), through obstore: chosen by
measurement against s3fs (`bench/object_clients.py`: 11x faster to import, a fifth of the CPU
per GB moved, faster PUTs and GETs on the same server). Its async calls never block the event
loop; its sync calls are for threads and commands.

Credentials come from the standard places only (AWS_* / GOOGLE_* / AZURE_* variables, a
profile's web identity, the instance's role), never from the config. Every failure is one line
naming the bucket's URL, never a credential, and is a MachineError (exit 74): the store is out
of reach, refuses us, or has no such bucket. obstore retries 5xx answers and dropped
connections itself, with backoff, for at most RETRY_S (its default is three minutes of silence).
"""

import io
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn, cast
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import from_url

from orchestrator.errors import MachineError
from orchestrator.storage.layout import Exists, NotFound

if TYPE_CHECKING:
    from obstore import GetOptions, ReadableFile
    from obstore.store import ClientConfig, ObjectStore, RetryConfig

SCHEMES: Final = ("s3", "gs", "az")
_SECRETS: Final = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_ACCOUNT_KEY")
RETRY_S: Final = 30.0
RANGE_GAP: Final = 64 * 1024  # a gap worth a second request rather than its bytes
_RETRY: Final = {"max_retries": 5, "retry_timeout": timedelta(seconds=RETRY_S)}
_HINT: Final = (
    "check the bucket's URL, its endpoint_url and the credentials in the environment"
    " (AWS_*, GOOGLE_*, AZURE_*), then run again: what was settled is kept"
)


def _scrubbed(text: str) -> str:
    """The first line of a client error, with any credential in the environment cut out."""
    line = text.strip().splitlines()[0] if text.strip() else "failed"
    for name in _SECRETS:
        secret = os.environ.get(name)
        if secret:
            line = line.replace(secret, "***")
    return line[:300]


class _Ranged(io.RawIOBase):
    """obstore's reader as a Python file: pyarrow asks a file whether it is closed."""

    def __init__(self, reader: "ReadableFile") -> None:
        self._reader = reader

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._reader.seek(offset, whence))

    def tell(self) -> int:
        return int(self._reader.tell())

    def readinto(self, buffer: Any) -> int:
        data = self._reader.read(len(buffer))
        view = memoryview(buffer).cast("B")
        view[: len(data)] = data
        return len(data)


class Bucket:
    """A bucket and prefix; keys are relative to the prefix ('g/period=2026-11-23/...')."""

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        options = cast(
            "ClientConfig",
            {"allow_http": True} if (endpoint_url or "").startswith("http://") else {},
        )
        retry = cast("RetryConfig", _RETRY)
        try:
            if endpoint_url:
                self._store: ObjectStore = from_url(
                    self.url, client_options=options, retry_config=retry, endpoint=endpoint_url
                )
            else:
                self._store = from_url(self.url, client_options=options, retry_config=retry)
        except BaseError as exc:
            self._fail(exc, parts.netloc)

    def _fail(self, exc: Exception, key: str) -> NoReturn:
        raise MachineError(f"{self.url}/{key}", _scrubbed(str(exc)), _HINT) from None

    @contextmanager
    def _calling(self, key: str) -> Iterator[None]:
        """Turn the client's errors into NotFound, or the one line of a MachineError."""
        try:
            yield
        except FileNotFoundError:  # obstore's not-found
            raise NotFound(key) from None
        except AlreadyExistsError:
            raise Exists(key) from None
        except (BaseError, ValueError, OSError) as exc:
            self._fail(exc, key)

    async def put(self, key: str, body: bytes) -> None:
        """Write a whole object (a PUT, or a multipart upload for large bodies)."""
        with self._calling(key):
            await obstore.put_async(self._store, key, body)

    def put_sync(self, key: str, body: bytes | str, create_only: bool = False) -> None:
        """Write a whole object from bytes or a local file's path; `create_only` raises Exists
        rather than replace one (S3's If-None-Match)."""
        source = open(body, "rb") if isinstance(body, str) else body
        try:
            with self._calling(key):
                obstore.put(self._store, key, source, mode="create" if create_only else None)
        except AlreadyExistsError:
            raise Exists(key) from None
        finally:
            if not isinstance(source, bytes):
                source.close()

    def get(self, key: str) -> bytes | None:
        """An object's bytes, or None if there is none."""
        try:
            with self._calling(key):
                return bytes(obstore.get(self._store, key).bytes())
        except NotFound:
            return None

    def chunks(self, key: str, size: int | None = None) -> Iterator[bytes]:
        """An object's bytes (its first `size`), streamed in chunks."""
        if size is not None and size <= 0:
            return
        options: GetOptions = {"range": (0, size)} if size is not None else {}
        with self._calling(key):
            for chunk in obstore.get(self._store, key, options=options).stream():
                yield bytes(chunk)

    def open(self, key: str) -> IO[bytes]:
        """A seekable reader of an object, for pyarrow (it reads a Parquet footer, then only
        the column chunks it needs, by range); NotFound if there is no such object."""
        with self._calling(key):
            return io.BufferedReader(_Ranged(obstore.open_reader(self._store, key)), 1 << 20)

    def version(self, key: str) -> tuple[int, str | None]:
        """An object's size and ETag (a HEAD), which change when it is written over."""
        with self._calling(key):
            meta = obstore.head(self._store, key)
        return int(meta["size"]), meta["e_tag"]

    def ranges(self, key: str, spans: list[tuple[int, int]]) -> list[bytes]:
        """The bytes of each [start, end) span of an object, fetched ten at a time; spans
        less than RANGE_GAP apart are one request."""
        if not spans:
            return []
        starts, ends = [s for s, _ in spans], [e for _, e in spans]
        with self._calling(key):
            found = obstore.get_ranges(
                self._store, key, starts=starts, ends=ends, coalesce=RANGE_GAP
            )
        return [bytes(piece) for piece in found]

    def sizes(self, prefix: str) -> dict[str, int]:
        """Every object under `prefix` (a folder: 'g/'), with its size."""
        found: dict[str, int] = {}
        with self._calling(prefix):
            for page in obstore.list(self._store, prefix, chunk_size=1000):
                for meta in page:
                    found[meta["path"]] = int(meta["size"])
        return found

    def delete(self, keys: Iterable[str]) -> None:
        names = list(keys)
        if names:
            with self._calling(names[0]):
                obstore.delete(self._store, names)
