"""What `export` and `report` write: CSV a spreadsheet opens without running anything in it,
and files that appear whole at their path or not at all.

CSV cells: a text cell that begins with `=`, `+`, `-`, `@`, TAB or CR is a formula to Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)` in a keyword, or in a SERP title a
third-party page chose). Such a cell is written with a leading `'` (OWASP's rule for CSV
injection) unless the caller asks for the raw value; numbers are never changed. Every field
holding a quote, a comma, CR, LF or NUL is quoted: Python's csv module leaves a bare CR and a
NUL unquoted, and readers then split the row (pyarrow: "Expected 37 columns, got 6").
"""

import contextlib
import errno
import io
import os
import re
import signal
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO, Final

from orchestrator.errors import OrchestratorError, OutputPathError, machine_error

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTES: Final = re.compile('[",\r\n\0]')
# Mistakes in the path given (exit 2); any other OSError is the machine's (exit 74).
_PATH_MISTAKES: Final = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG})


def csv_cell(value: object, raw: bool = False) -> str:
    """One CSV field: None empty, a number as Python writes it, text neutralised (unless
    `raw`) and quoted where it must be."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    if not raw and value.startswith(FORMULA_STARTS):
        value = "'" + value
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv_rows(
    out: IO[str], columns: Sequence[str], rows: Iterable[Mapping[str, object]], raw: bool = False
) -> int:
    """A header and one line per row; returns the number of rows."""
    out.write(",".join(csv_cell(c, raw) for c in columns) + "\n")
    count = 0
    for row in rows:
        out.write(",".join([csv_cell(row.get(c), raw) for c in columns]) + "\n")
        count += 1
    return count


@contextmanager
def replaced_whole(target: str) -> Iterator[BinaryIO]:
    """A file beside `target` to write; renamed onto `target` when the block ends well and
    removed when it does not (an error, Ctrl-C, SIGTERM): the target holds the old file or
    the whole new one, never a part."""
    with temporary_beside(target) as temporary, open(temporary, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def replaced_text(target: str) -> Iterator[IO[str]]:
    """`replaced_whole` as UTF-8 text, line ends as written."""
    with replaced_whole(target) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        yield text
        text.flush()
        text.detach()  # the binary file is closed by replaced_whole, after its fsync


@contextmanager
def temporary_beside(target: str, durable: bool = False) -> Iterator[str]:
    """The path of a new empty file in `target`'s folder, for a writer that opens paths
    itself (pyarrow's); renamed onto `target` on success, removed otherwise. `durable`: the
    file is fsynced before the rename, and the folder after it."""
    folder = os.path.dirname(os.path.abspath(target))
    # Ctrl-C and SIGTERM wait until the file is made and its removal is in place below.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{Path(target).name}.", suffix=".part", dir=folder
        )
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise output_error(exc, target) from exc
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # as open() would make it, not mkstemp's 0600
        finally:
            os.close(fd)
        yield temporary
        if durable:
            _fsync(temporary, os.O_RDONLY)
        os.replace(temporary, target)
        if durable:
            _fsync(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise output_error(exc, target) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_error(exc: OSError, target: str) -> OrchestratorError:
    """An OSError writing `target`: a mistake in the path (exit 2) or the machine's (74)."""
    if exc.errno in _PATH_MISTAKES:
        return OutputPathError(f"{target}: {exc.strerror or exc}")
    return machine_error(exc, target)


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
