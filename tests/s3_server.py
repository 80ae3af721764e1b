"""A throwaway S3-compatible server on 127.0.0.1 for the tests and the bench: moto's server
mode, a real HTTP server speaking the S3 protocol, in its own process on a free port. No mock
of the client library: the product's object store talks HTTP to it as it would to S3 or MinIO.

Credentials reach the product the standard way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in
the environment); `SECRET` is asserted to appear in no output.
"""

import os
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count

from tests.local_servers import free_port, stop, wait_until_up

KEY_ID = "orchestrator-test-key"
SECRET = "s3-secret-never-logged"
REGION = "us-east-1"
_numbers = count(1)


@dataclass(frozen=True)
class S3Server:
    """A running server: `bucket()` makes a new empty bucket and names it."""

    endpoint: str
    process: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        """The environment a product process needs to reach it."""
        return {
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def output(self, bucket: str) -> str:
        """The `[output]` lines of a config writing under `serp/` in the bucket."""
        return f'url = "s3://{bucket}/serp"\nendpoint_url = "{self.endpoint}"'

    def bucket(self) -> str:
        name = f"orch-{os.getpid()}-{next(_numbers)}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        request.add_header("Authorization", _signature_free_auth())
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200, answer.status
        return name

    def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every object under `prefix`, with its size (ListObjectsV2, all pages)."""
        found: dict[str, int] = {}
        token = ""
        space = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        while True:
            query = f"list-type=2&prefix={prefix}" + (
                f"&continuation-token={token}" if token else ""
            )
            request = urllib.request.Request(f"{self.endpoint}/{bucket}?{query}")
            request.add_header("Authorization", _signature_free_auth())
            with urllib.request.urlopen(request, timeout=30) as answer:
                tree = ET.fromstring(answer.read())
            for item in tree.iter(f"{space}Contents"):
                found[item.findtext(f"{space}Key") or ""] = int(item.findtext(f"{space}Size") or 0)
            token = tree.findtext(f"{space}NextContinuationToken") or ""
            if not token:
                return found

    def read(self, bucket: str, key: str) -> bytes:
        request = urllib.request.Request(f"{self.endpoint}/{bucket}/{key}")
        request.add_header("Authorization", _signature_free_auth())
        with urllib.request.urlopen(request, timeout=30) as answer:
            return bytes(answer.read())

    def put(self, bucket: str, key: str, body: bytes) -> None:
        request = urllib.request.Request(f"{self.endpoint}/{bucket}/{key}", body, method="PUT")
        request.add_header("Authorization", _signature_free_auth())
        # urllib's default form type makes the server parse the body as a form, and store none
        request.add_header("Content-Type", "application/octet-stream")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200, answer.status


def _signature_free_auth() -> str:
    """moto accepts any well-formed SigV4 header without checking the signature: enough for
    the tests' own setup and inspection calls (the product signs for real)."""
    return (
        f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20260101/{REGION}/s3/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


@contextmanager
def running() -> Iterator[S3Server]:
    """Start a server for the duration of the block."""
    port = free_port()
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            process,
            lambda: urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5).close(),
            "moto's S3 server",
        )
        yield S3Server(endpoint, process)
    finally:
        stop(process)
