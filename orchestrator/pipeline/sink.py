"""The sink: each collected task's JSON, exactly as received, appended as one line to
`{output.dir}/{job}/results.jsonl` (or `failed.jsonl`), then settled in the ledger. A recurring
job's results go to its period's partition, `{output.dir}/{job}/period=2026-11-23/`, which
DuckDB, Polars, pyarrow and Spark read as a `period` column (Hive-style partitioning).

Exactly once across crashes: the ledger records each file's committed size in the same
transaction that marks its tasks done. On open, a file longer than its committed size (a line
written just before a crash) is cut back; that task is still *posted* in the ledger, so it is
fetched and written again (task_get is free for 30 days). With `gzip`, each write is its own
gzip member, so a cut at a committed size is always a member boundary.

Outputs and ledger belong together: a run writes only into job folders whose marker
(`.orchestrator-ledger`) names its ledger, and never cuts a byte its ledger did not record. A
folder that holds results another ledger wrote (or a lost one) is refused before anything is
posted; `orchestrator recover` rebuilds a lost ledger from those files and id_list.
"""

import contextlib
import gzip
import json
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Final, Protocol

import msgspec

from orchestrator.errors import ForeignOutput, LeaseLost, LedgerError, machine_error, on_disk
from orchestrator.ledger import POSTED, POSTING, Ledger, is_url, row_of
from orchestrator.storage.layout import FAILED, MARKER, PARTITION, REJECTED, RESULTS


class Refusal(msgspec.Struct):
    """The failed.jsonl line of a task task_post refused: shaped like a task object (id,
    status_code, status_message, data) so failed.jsonl reads the same whichever stage failed."""

    id: str | None
    status_code: int
    status_message: str
    stage: str
    data: msgspec.Raw


class RefusalWriter(Protocol):
    """Where a period's refusals go: its failed.jsonl, or a failed part in a bucket."""

    def write_refusals(self, refused: list[tuple[str, int, str, bytes]]) -> None: ...


def refusal_line(task_id: str | None, code: int, message: str, body: bytes) -> bytes:
    """One failed.jsonl line for an input the API refused at task_post."""
    return msgspec.json.encode(Refusal(task_id, code, message, "task_post", msgspec.Raw(body)))


class TaskData(msgspec.Struct):
    """Of a task's `data` (the parameters it was posted with), the tag it echoes."""

    tag: str | None = None


class TaskHead(msgspec.Struct):
    """What the poller needs of a task; the rest stays raw bytes."""

    id: str = ""
    status_code: int = 0
    status_message: str = ""
    data: TaskData | None = None


class TaskGetHead(msgspec.Struct):
    """A task_get answer with its task objects left as raw slices of the input."""

    status_code: int = 0
    tasks: list[msgspec.Raw] | None = None


class OutputHead(msgspec.Struct):
    """Of an output line (a task object, or a refusal with no task id), whose it is."""

    id: str | None = None
    data: TaskData | None = None


OUTPUT_HEAD = msgspec.json.Decoder(OutputHead)
TASK_GET_HEAD = msgspec.json.Decoder(TaskGetHead)
TASK_HEAD = msgspec.json.Decoder(TaskHead)


KINDS: Final = (RESULTS, FAILED)
EXTENSIONS: Final = (".jsonl", ".jsonl.gz")
# A run's own file (ledger/workers.py): `results.jsonl` beside a ledger file, where one run
# writes at a time; `results-<run>.jsonl` with several runs of a ledger on a server.
WORKER_FILE: Final = re.compile(rf"({RESULTS}|{FAILED})(-[1-9][0-9]*)?\.jsonl(\.gz)?")


def own_name(kind: str, run_id: int | None, use_gzip: bool) -> str:
    """The name of the `kind` file a run appends to (`run_id` None: the one file)."""
    return f"{kind}{'' if run_id is None else f'-{run_id}'}{EXTENSIONS[use_gzip]}"


def cut_back_runs(
    out_dir: str, ledger: Ledger, runs: Sequence[int | None], jobs: Collection[str] | None = None
) -> None:
    """The files of runs taken over (dead), cut back to what those runs settled: a line a
    run wrote but did not settle is fetched and written again by another. Run None: the one
    file the runs of a ledger file write in turn (`results.jsonl`), cut when the ledger moves
    to a server, whose runs write files of their own and would never cut it. With `jobs`,
    only those jobs' files: another config's are under its own [output] dir."""
    names = {own_name(kind, run, gz) for run in runs for kind in KINDS for gz in (False, True)}
    for key, size in ledger.recorded_files("").items():
        if jobs is not None and key.split("/", 1)[0] not in jobs:
            continue
        path = Path(out_dir) / key
        if path.name in names and path.exists() and path.stat().st_size > size:
            with on_disk(path), open(path, "r+b") as handle:
                handle.truncate(size)
                os.fsync(handle.fileno())


def worker_files(place: Path, kind: str | None = None) -> list[Path]:
    """The results and failed files of one folder, every worker's (or `kind`'s only)."""
    if not place.is_dir():
        return []
    found = []
    for child in sorted(place.iterdir()):
        matched = WORKER_FILE.fullmatch(child.name)
        if matched and (kind is None or matched.group(1) == kind) and child.is_file():
            found.append(child)
    return found


def file_key(out_dir: str | Path, path: str | Path) -> str:
    """How the ledger names an output file: its path under [output] dir, so that a project
    folder moved elsewhere (a renamed directory, another mount) keeps its results."""
    return Path(os.path.relpath(path, out_dir)).as_posix()


def fsync_dir(folder: str | Path) -> None:
    """Make a new entry of `folder` (a file, a partition) survive a power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folder(folder: Path) -> None:
    """mkdir -p, with each new level's entry fsynced in its parent."""
    missing = []
    place = folder
    while not place.exists():
        missing.append(place)
        place = place.parent
    for level in reversed(missing):
        with on_disk(level):
            with contextlib.suppress(FileExistsError):
                level.mkdir()
            fsync_dir(level.parent)


def output_folder(out_dir: str, job: str, period: str) -> Path:
    """Where a job's files of one period go ('' : the job's own folder, for one-shot jobs)."""
    folder = Path(out_dir) / job
    return folder / f"{PARTITION}{period}" if period else folder


def output_files(job_dir: Path) -> list[Path]:
    """The results and failed files of a job folder, its period partitions included."""
    places = [job_dir, *sorted(job_dir.glob(f"{PARTITION}*"))]
    return [path for place in places for path in worker_files(place)]


def read_marker(job_dir: Path) -> dict[str, str] | None:
    """What a job folder's marker says (ledger_id, ledger path), or None without one."""
    try:
        found = json.loads((job_dir / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ForeignOutput(
            str(job_dir), f"unreadable {MARKER} ({exc}): remove it or fix it"
        ) from exc
    if not isinstance(found, dict) or not isinstance(found.get("ledger_id"), str):
        raise ForeignOutput(str(job_dir), f"{MARKER} names no ledger: remove it or fix it")
    return {str(k): str(v) for k, v in found.items()}


def claim_folder(job_dir: Path, ledger: Ledger) -> None:
    """Make sure a run may write into a job folder: its marker names this ledger, or it has no
    marker and holds no output this ledger did not write (then the marker is written, with
    O_EXCL, so two runs cannot both claim it). Raises ForeignOutput otherwise."""
    hint = (
        "a run writes only where its own ledger has written: point [output] dir elsewhere, "
        "move the folder away, or rebuild a lost ledger with `orchestrator recover`"
    )
    for _ in range(2):
        marker = read_marker(job_dir)
        if marker is not None:
            if marker["ledger_id"] == ledger.id:
                return
            owner = marker.get("ledger", "?")
            raise ForeignOutput(
                str(job_dir),
                f"written by another ledger ({owner}, id {marker['ledger_id']}); {hint}",
            )
        root = job_dir.parent
        unknown = [
            p.name
            for p in output_files(job_dir)
            if p.stat().st_size and ledger.committed_size(file_key(root, p), str(p)) is None
        ]
        if unknown:
            raise ForeignOutput(
                str(job_dir),
                f"holds {', '.join(sorted(set(unknown)))} that this ledger"
                f" ({ledger.path}) did not write; {hint}",
            )
        make_folder(job_dir)
        if write_marker(job_dir, ledger):
            return
    raise ForeignOutput(str(job_dir), f"{MARKER} changed while being read; {hint}")


def write_marker(job_dir: Path, ledger: Ledger) -> bool:
    """Write the folder's marker whole or not at all: written aside, then linked in under its
    name, which fails if another run (of this config, starting beside this one) linked its
    own first. A reader never meets a marker half written. True if this one was linked."""
    where = ledger.path if is_url(ledger.path) else str(Path(ledger.path).resolve())
    record = json.dumps({"ledger_id": ledger.id, "ledger": where}) + "\n"
    aside = job_dir / f"{MARKER}.{os.getpid()}.{os.urandom(4).hex()}"
    with on_disk(job_dir / MARKER):
        try:
            with aside.open("w", encoding="utf-8") as handle:
                handle.write(record)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(aside, job_dir / MARKER)
        except FileExistsError:
            return False  # another run claimed it meanwhile: the caller looks again
        finally:
            aside.unlink(missing_ok=True)
        fsync_dir(job_dir)
    return True


class RejectedRows:
    """A period's rejected.jsonl: the input rows refused before posting, with why. Always in
    a local folder (with a bucket too): they are found anew at every read of the inputs."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        make_folder(self.dir)
        self.rejected_path = self.dir / f"{REJECTED}.jsonl"

    def start_rejected(self) -> None:
        """Rejected rows are found anew on every read of the inputs: start the file afresh."""
        with on_disk(self.rejected_path):
            self.rejected_path.write_bytes(b"")

    def cut_rejected(self, size: int) -> None:
        """A load goes on after a crash: drop the rejected rows it wrote past its last
        committed chunk (they are read and written again)."""
        if self.rejected_path.exists() and self.rejected_path.stat().st_size > size:
            with on_disk(self.rejected_path), self.rejected_path.open("r+b") as handle:
                handle.truncate(size)

    def write_rejected_rows(self, rows: list[tuple[int, str, str]]) -> int:
        """Append (line, reason, raw) records, fsynced; returns the file's size (committed
        with the load's progress, so it must be on disk first)."""
        with on_disk(self.rejected_path), self.rejected_path.open("ab") as handle:
            for line, reason, raw in rows:
                record = {"line": line, "reason": reason, "input": raw}
                handle.write(msgspec.json.encode(record) + b"\n")
            if rows:
                handle.flush()
                os.fsync(handle.fileno())
            return handle.tell()


class JobFiles(RejectedRows):
    """The output files of one job in one period; appends are durable before the ledger hears
    of them. The ledger knows each file by its path under `root` ([output] dir)."""

    def __init__(
        self,
        folder: Path,
        ledger: Ledger,
        use_gzip: bool,
        root: str | Path,
        run_id: int | None = None,
    ) -> None:
        super().__init__(folder)
        self.ledger = ledger
        self.gzip = use_gzip
        self.paths = {kind: str(self.dir / own_name(kind, run_id, use_gzip)) for kind in KINDS}
        self.keys = {kind: file_key(root, path) for kind, path in self.paths.items()}
        for kind in self.paths:
            with on_disk(self.paths[kind]):
                self._cut_back(self.paths[kind], self.keys[kind])

    def _cut_back(self, path: str, key: str) -> None:
        """Cut what a crash left unsettled; a file this ledger never wrote is not touched: an
        empty or absent one is made and recorded (0 bytes) before the first append, so a
        crash after that append is cut back too; a file with bytes in it is refused."""
        committed = self.ledger.committed_size(key, path)
        if committed is not None and self.ledger.committed_size(key) is None:
            self.ledger.rename_file(path, key)  # recorded by version 3, by its absolute path
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if committed is None:
            if size:
                raise ForeignOutput(
                    str(self.dir),
                    f"{Path(path).name} was not written by this ledger ({self.ledger.path})",
                )
            with open(path, "ab") as handle:
                os.fsync(handle.fileno())
            fsync_dir(self.dir)
            self.ledger.own_file(key)
        elif size > committed:
            stranger = self._stranger_in_tail(path, committed)
            if stranger:
                raise ForeignOutput(
                    str(self.dir),
                    f"{Path(path).name} has {size - committed} bytes after its last settled"
                    f" line that this ledger's runs did not write ({stranger}): another writer"
                    " appended to it; move those lines away (the file's first"
                    f" {committed} bytes are this ledger's), then run again",
                )
            with open(path, "r+b") as handle:
                handle.truncate(committed)
                os.fsync(handle.fileno())

    def _stranger_in_tail(self, path: str, committed: int) -> str:
        """Why the bytes after `committed` are not a crash's unsettled appends of ours ('' if
        they are): each whole line there must be the answer of a task this ledger has posted
        and not settled, or the refusal of an input it is posting. A last line cut short is a
        crash's; so is a gzip member cut short."""
        with open(path, "rb") as handle:
            handle.seek(committed)
            tail = handle.read()
        if self.gzip:
            try:
                tail = gzip.decompress(tail)
            except (OSError, EOFError):
                return ""  # a member a crash cut short: ours
        lines = tail.split(b"\n")
        for line in lines[:-1]:  # the last piece is empty, or a line a crash cut short
            try:
                head = OUTPUT_HEAD.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                return "a line that is not a task object"
            if head.id and self.ledger.task_state(head.id) == POSTED:
                continue
            tag = head.data.tag if head.data is not None else None
            if tag and self._posting(tag):
                continue
            return f"task {head.id or '(no id)'} is not one this ledger waits for"
        return ""

    def _posting(self, tag: str) -> bool:
        """Whether the refusal line of this (row) tag is of an input still posting."""
        try:
            job, period, key = row_of(tag)
        except LedgerError:
            return False
        return self.ledger.row_state(job, period, key) == POSTING

    def _append(self, path: str, lines: list[bytes]) -> int:
        """Append lines (one gzip member with `gzip`), fsync, return the file's new size. A
        failed append (a full disk) is cut back at once, and in any case by the next run.

        Written line by line through the file's buffer, not joined first: a batch can be
        megabytes, and big short-lived buffers fragment the heap of a long run.
        """
        if not self.ledger.lease_ok():
            raise LeaseLost(
                f"{path}: this run's lease on the ledger was not renewed in time: it stops"
                " writing before another run takes its work over; run again"
            )
        before = os.path.getsize(path) if os.path.exists(path) else 0
        try:
            return self._append_lines(path, lines)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.truncate(path, before)
            raise machine_error(exc, path) from exc

    def _append_lines(self, path: str, lines: list[bytes]) -> int:
        with open(path, "ab") as handle:
            if self.gzip:
                with gzip.GzipFile(fileobj=handle, mode="wb") as member:
                    for line in lines:
                        member.write(line)
                        member.write(b"\n")
            else:
                for line in lines:
                    handle.write(line)
                    handle.write(b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            return handle.tell()

    def write_results(self, tasks: list[tuple[str, bytes]]) -> None:
        """Append (task_id, raw task JSON) lines, then mark those tasks done."""
        if tasks:
            size = self._append(self.paths[RESULTS], [raw for _, raw in tasks])
            self.ledger.settle(self.keys[RESULTS], size, [tid for tid, _ in tasks], [])

    def write_failures(self, tasks: list[tuple[str, int, str, bytes]]) -> None:
        """Append (task_id, code, message, raw task JSON) lines, then mark those tasks failed."""
        if tasks:
            size = self._append(self.paths[FAILED], [raw for *_, raw in tasks])
            failed = [(tid, code, msg) for tid, code, msg, _ in tasks]
            self.ledger.settle(self.keys[FAILED], size, [], failed)

    def write_refusals(self, refused: list[tuple[str, int, str, bytes]]) -> None:
        """Append a line for each (tag, code, message, line) task_post refused, then mark the
        inputs failed: every posted input ends as exactly one line in results or failed."""
        if refused:
            size = self._append(self.paths[FAILED], [line for *_, line in refused])
            self.ledger.settle(self.keys[FAILED], size, [], [], [r[:3] for r in refused])
