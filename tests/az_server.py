"""A throwaway Azure Blob Storage server on 127.0.0.1 for the tests: Azurite, Microsoft's own
emulator (`npm install azurite`, which .ci/run does), in its own process on a free port.

The product reaches it the standard way for Azurite, from the environment alone:
AZURE_STORAGE_USE_EMULATOR and AZURITE_BLOB_STORAGE_URL, with the emulator's well-known account
and key (which Microsoft publishes; they open nothing but an emulator). The tests' own setup and
inspection calls sign their requests with that key (Azure's SharedKey), as any client must.
"""

import base64
import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from itertools import count
from pathlib import Path
from typing import Any

import obstore
from obstore.store import AzureStore

from tests.local_servers import free_port, stop, wait_until_up

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
API_VERSION = "2021-08-06"
# Where .ci/run installs it when it is not on PATH.
INSTALLED = Path("/opt/azurite/node_modules/.bin/azurite-blob")
_numbers = count(1)


def binary() -> str | None:
    return shutil.which("azurite-blob") or (str(INSTALLED) if INSTALLED.exists() else None)


@dataclass(frozen=True)
class AzServer:
    """A running Azurite: `bucket()` makes a new empty container and names it."""

    endpoint: str  # the blob service's root: http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        """The environment a product process needs to reach it."""
        return {"AZURE_STORAGE_USE_EMULATOR": "true", "AZURITE_BLOB_STORAGE_URL": self.endpoint}

    def output(self, bucket: str) -> str:
        """The `[output]` lines of a config writing under `serp/` in the container."""
        return f'url = "az://{bucket}/serp"'

    def bucket(self) -> str:
        name = f"orch-{os.getpid()}-{next(_numbers)}"
        date = formatdate(usegmt=True)
        signed = (
            "PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{API_VERSION}\n"
            f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        )
        digest = hmac.new(base64.b64decode(ACCOUNT_KEY), signed.encode(), hashlib.sha256)
        request = urllib.request.Request(
            f"{self.endpoint}/{ACCOUNT}/{name}?restype=container", method="PUT"
        )
        request.add_header("x-ms-date", date)
        request.add_header("x-ms-version", API_VERSION)
        request.add_header(
            "Authorization", f"SharedKey {ACCOUNT}:{base64.b64encode(digest.digest()).decode()}"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201, answer.status
        return name

    def _store(self, bucket: str) -> Any:
        return AzureStore(
            bucket,
            account_name=ACCOUNT,
            account_key=ACCOUNT_KEY,
            endpoint=f"{self.endpoint}/{ACCOUNT}",
            client_options={"allow_http": True},
        )

    def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every blob under `prefix`, with its size."""
        return {
            meta["path"]: int(meta["size"])
            for page in obstore.list(self._store(bucket), prefix or None)
            for meta in page
        }

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(obstore.get(self._store(bucket), key).bytes())

    def put(self, bucket: str, key: str, body: bytes) -> None:
        obstore.put(self._store(bucket), key, body)


@contextmanager
def running() -> Iterator[AzServer]:
    """Start Azurite's blob service, blobs in memory, for the duration of the block."""
    found = binary()
    if found is None:
        raise RuntimeError(
            "Azurite is missing: npm install --prefix /opt/azurite azurite (.ci/run does)"
        )
    port = free_port()
    # in its own folder: Azurite writes its debug and extent files in its working directory
    with tempfile.TemporaryDirectory() as folder:
        args = ["--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence"]
        flags = ["--disableTelemetry", "--skipApiVersionCheck", "--silent"]
        process = subprocess.Popen(
            [found, *args, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder
        )
        try:
            address = ("127.0.0.1", port)
            wait_until_up(
                process, lambda: socket.create_connection(address, timeout=1).close(), "Azurite"
            )
            yield AzServer(f"http://127.0.0.1:{port}", process)
        finally:
            stop(process)
