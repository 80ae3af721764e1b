"""Reading a job's results files: the one-shot file and each `period=KEY` partition, plain or
gzip, and of each only the part the ledger has settled (a run may be appending to it at the
same moment). With a bucket, the results are the parts the ledger recorded, never a listing:
an object a crash left unrecorded is not read."""

import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from orchestrator.config import Config, JobConfig, ledger_password
from orchestrator.errors import NoLedger
from orchestrator.ledger import Ledger
from orchestrator.pipeline.sink import file_key, worker_files
from orchestrator.storage.layout import PARTITION, RESULTS
from orchestrator.storage.opening import open_bucket
from orchestrator.storage.parts import decode, period_of


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
    config: Config,
    job: JobConfig,
    period: str | None = None,
    since: str | None = None,
    ledger: Ledger | None = None,
) -> list[tuple[str, str]]:
    """(period, path) of every results file of a job, oldest period first: the one-shot file
    (period '') and each `period=KEY` partition, plain and gzip whatever `gzip` says now.
    With a bucket, (period, key) of each results part `ledger` recorded (one is opened if
    none is given)."""
    if config.output.url is not None:
        found = [(key, name) for name, key in _recorded_parts(config, job, ledger).items()]
    else:
        found = _local_files(config, job)
    return sorted(
        (key, name)
        for key, name in found
        if (period is None or key == period) and (since is None or key >= since)
    )


def _local_files(config: Config, job: JobConfig) -> list[tuple[str, str]]:
    folder = Path(config.output.dir) / job.name
    places = [("", folder)]
    if folder.is_dir():
        places += sorted(
            (child.name.removeprefix(PARTITION), child)
            for child in folder.iterdir()
            if child.is_dir() and child.name.startswith(PARTITION)
        )
    return [(key, str(path)) for key, place in places for path in worker_files(place, RESULTS)]


def _recorded_parts(config: Config, job: JobConfig, ledger: Ledger | None) -> dict[str, str]:
    """Each recorded results part of the job, with its period."""
    own = ledger if ledger is not None else _required_reader(config)
    try:
        recorded = own.recorded_files(f"{job.name}/")
    finally:
        if ledger is None:
            own.close()
    found = {}
    for name in recorded:
        period = period_of(name, job.name)
        if period is not None:
            found[name] = period
    return found


def _required_reader(config: Config) -> Ledger:
    """A bucket is read by its ledger's list of parts: without a ledger there is nothing."""
    try:
        return Ledger.reader(config.state.location, ledger_password(config.state))
    except NoLedger as exc:
        raise NoLedger(
            f"{exc}: a bucket's results are the parts its ledger recorded, and there is no"
            " ledger to name them"
        ) from None


def open_reader(config: Config) -> Ledger | None:
    """A reader of the config's ledger, or None when there is none (files are read whole)."""
    try:
        return Ledger.reader(config.state.location, ledger_password(config.state))
    except NoLedger:
        return None


def settled_sizes(
    config: Config, files: list[tuple[str, str]], ledger: Ledger | None
) -> dict[str, int]:
    """Per results file, the bytes that hold settled tasks: what the ledger committed, or the
    whole file when no ledger wrote it (or there is no ledger). A part's recorded size."""
    if config.output.url is not None:
        own = ledger if ledger is not None else _required_reader(config)
        try:
            recorded: dict[str, int] = {}
            for job in {name.split("/", 1)[0] for _, name in files}:
                recorded.update(own.recorded_files(f"{job}/"))
        finally:
            if ledger is None:
                own.close()
        return {name: recorded[name] for _, name in files}
    sizes = {}
    for _, path in files:
        committed = None
        if ledger is not None:
            committed = ledger.committed_size(file_key(config.output.dir, path), path)
        sizes[path] = os.path.getsize(path) if committed is None else committed
    return sizes


def read_lines(
    config: Config, files: list[tuple[str, str]], sizes: dict[str, int]
) -> Iterator[tuple[str, bytes]]:
    """(period, line) of the first `sizes[path]` bytes of each file (or part), streamed."""
    if config.output.url is not None:
        bucket = open_bucket(config.output)
        for key, name in files:
            chunks = bucket.chunks(name, sizes[name])
            for line in decode(chunks, name.endswith(".gz")):
                yield key, line
        return
    for key, path in files:
        with open(path, "rb") as raw:
            stream: IO[bytes] = io.BufferedReader(_Prefix(raw, sizes[path]), 1 << 20)
            if path.endswith(".gz"):
                stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
            for line in stream:
                if line.strip():
                    yield key, line


def result_lines(
    config: Config, job: JobConfig, period: str | None = None, since: str | None = None
) -> Iterator[tuple[str, bytes]]:
    """(period, line) for the settled lines of a job's results files, streamed."""
    files, sizes = settled_files(config, job, period, since)
    yield from read_lines(config, files, sizes)


def settled_files(
    config: Config, job: JobConfig, period: str | None = None, since: str | None = None
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """A job's results files (or parts) and each one's settled size, the ledger opened once."""
    ledger = open_reader(config)
    try:
        files = result_files(config, job, period, since, ledger)
        return files, settled_sizes(config, files, ledger)
    finally:
        if ledger is not None:
            ledger.close()
