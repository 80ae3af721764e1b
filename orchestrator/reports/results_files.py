"""Reading a job's results files: the one-shot file and each `period=KEY` partition, plain or
gzip, and of each only the part the ledger has settled (a run may be appending to it at the
same moment)."""

import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from orchestrator.config import Config, JobConfig, ledger_password
from orchestrator.errors import NoLedger
from orchestrator.ledger import Ledger
from orchestrator.pipeline.sink import PARTITION, RESULTS, file_key


class _Prefix(io.RawIOBase):
    """The first `size` bytes of a file: the part the ledger has settled."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle, self._left = handle, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self._left]
        count = self._handle.readinto(view)  # type: ignore[attr-defined]
        self._left -= count
        return int(count)


def result_files(
    config: Config, job: JobConfig, period: str | None = None, since: str | None = None
) -> list[tuple[str, str]]:
    """(period, path) of every results file of a job, oldest period first: the one-shot file
    (period '') and each `period=KEY` partition, plain and gzip whatever `gzip` says now."""
    folder = Path(config.output.dir) / job.name
    places = [("", folder)]
    if folder.is_dir():
        places += sorted(
            (child.name.removeprefix(PARTITION), child)
            for child in folder.iterdir()
            if child.is_dir() and child.name.startswith(PARTITION)
        )
    found = []
    for key, place in places:
        if period is not None and key != period:
            continue
        if since is not None and key < since:
            continue
        for suffix in (".jsonl", ".jsonl.gz"):
            path = place / f"{RESULTS}{suffix}"
            if path.is_file():
                found.append((key, str(path)))
    return found


def result_lines(
    config: Config, job: JobConfig, period: str | None = None, since: str | None = None
) -> Iterator[tuple[str, bytes]]:
    """(period, line) for the settled lines of a job's results files, streamed."""
    files = result_files(config, job, period, since)
    sizes: dict[str, int] = {}
    try:
        ledger = Ledger.reader(config.state.location, ledger_password(config.state))
        try:
            for _, path in files:
                committed = ledger.committed_size(file_key(config.output.dir, path), path)
                if committed is not None:  # a file the ledger never wrote is read whole
                    sizes[path] = committed
        finally:
            ledger.close()
    except NoLedger:
        pass  # no ledger next to them: read the whole files
    for key, path in files:
        size = sizes.get(path, os.path.getsize(path))
        with open(path, "rb") as raw:
            stream: IO[bytes] = io.BufferedReader(_Prefix(raw, size), 1 << 20)
            if path.endswith(".gz"):
                stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
            for line in stream:
                if line.strip():
                    yield key, line
