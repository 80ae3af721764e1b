"""The lines of an input file, each bounded in memory: a line (or a CSV record) over
MAX_LINE_CHARS is read past piece by piece and stands as a `TooLong`, the rejection of its
row, instead of being held whole (a 2 GB line of NULs costs MAX_LINE_CHARS)."""

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

# A row's bound, as csv's own field_size_limit: the API takes keywords of up to 700 characters.
MAX_LINE_CHARS: Final = 131_072
SHOWN_CHARS: Final = 200  # of a dropped line, what rejected.jsonl keeps
_ENDS: Final = "\r\n"


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line over the bound: its first SHOWN_CHARS and how many quotes it held."""

    shown: str
    quotes: int
    reason: str = f"line longer than {MAX_LINE_CHARS} characters"


def bounded_lines(text: io.TextIOBase, limit: int = MAX_LINE_CHARS) -> Iterator[str | TooLong]:
    """The lines of `text` (their ends kept), or a TooLong for each line over `limit`."""
    while line := text.readline(limit):
        if len(line) < limit or line[-1] in _ENDS:
            yield line
            continue
        quotes = line.count('"')
        while (more := text.readline(limit)) and more[-1] not in _ENDS:
            quotes += more.count('"')
        yield TooLong(line[:SHOWN_CHARS], quotes + more.count('"'))


class CsvLines:
    """The lines csv.reader takes, each record bounded. A record over MAX_LINE_CHARS (one long
    line, or a quoted field over many) or holding a NUL is dropped whole: the reader gets an
    empty line instead (or the closing quote of the field it holds open), and the record's
    first line is kept in `dropped`, so that the row the reader returns there is rejected.

    Where a record ends is told by the parity of its quotes (RFC 4180: a field still open has
    an odd count so far), counted in C. `number` is the last line read."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._lines = bounded_lines(text)
        self.number = 0
        self.dropped: dict[int, TooLong] = {}

    def __iter__(self) -> Iterator[str]:
        start, size, odd, first = 1, 0, False, ""  # the record: first line, length, quote open
        dropping, held_open = False, False
        for item in self._lines:
            self.number += 1
            was_open = odd
            if not was_open:
                start, size = self.number, 0
            quotes = item.quotes if isinstance(item, TooLong) else item.count('"')
            odd ^= bool(quotes & 1)
            if not dropping:
                why = self._fault(item, size)
                if why is None:
                    assert isinstance(item, str)
                    size += len(item)
                    first = item if not was_open else first
                    yield item
                    continue
                shown = item.shown if isinstance(item, TooLong) else item
                self.dropped[start] = TooLong((first if was_open else shown)[:SHOWN_CHARS], 0, why)
                dropping, held_open = True, was_open
            if not odd:  # the dropped record ends on this line
                dropping = False
                yield '"\n' if held_open else "\n"
        if dropping:  # a quote left open to the end of the file
            yield '"\n' if held_open else "\n"

    @staticmethod
    def _fault(item: str | TooLong, size: int) -> str | None:
        """Why a record cannot take this line, or None."""
        if isinstance(item, TooLong):
            return item.reason
        if size + len(item) > MAX_LINE_CHARS:
            return f"a row longer than {MAX_LINE_CHARS} characters"
        if "\0" in item:
            return "a NUL character in the row"
        return None

    def dropped_in(self, first: int, last: int) -> tuple[int, TooLong] | None:
        """The dropped record that begins among lines first..last, forgotten once asked for."""
        taken = [(n, self.dropped.pop(n)) for n in sorted(self.dropped) if first <= n <= last]
        return taken[0] if taken else None
