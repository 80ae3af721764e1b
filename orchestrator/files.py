"""Opening what a person names (a config, an input file) without trusting it to be a file:
a FIFO would block the open and then every read, a device or a symlink to one never ends.
Everything read here is read in bounded pieces."""

import errno
import fcntl
import os
import stat
from typing import BinaryIO, Final

_KINDS: Final = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
    stat.S_IFSOCK: "a socket",
}


class NotRegularFile(OSError):
    """The path names something other than a regular file."""


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "rb")` for a regular file (symlinks followed); NotRegularFile for anything
    else. Opened without blocking first, so that a FIFO with no writer is refused at once
    instead of hanging the open."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
            raise NotRegularFile(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The whole of a regular file of at most `limit` bytes; OSError (EFBIG) if larger."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit // 1024} KiB: is it the right file?")
    return data
