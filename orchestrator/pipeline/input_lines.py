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

    A line the reader asks for before `row_ended` is called continues its record (it holds a
    quoted field open); where a dropped one ends is told by the parity of the quotes from
    there (RFC 4180: `""` inside a field, one `"` closes it). `number` is the last line read."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._lines = bounded_lines(text)
        self.number = 0
        self.dropped: dict[int, TooLong] = {}
        self._fresh = True

    def row_ended(self) -> None:
        """The reader returned a row: the next line it asks for begins a record."""
        self._fresh = True

    def __iter__(self) -> Iterator[str]:
        start, size, first = 1, 0, ""  # the record being read: its first line, its length
        dropping = False  # inside the quoted field of a dropped record, until it closes
        for item in self._lines:
            self.number += 1
            continuing, self._fresh = not self._fresh, False
            if not continuing:
                start, size = self.number, 0
            odd = bool((item.quotes if isinstance(item, TooLong) else item.count('"')) & 1)
            if dropping:
                dropping = not odd
                if not dropping:
                    yield '"\n'
                continue
            why = self._fault(item, size)
            if why is None:
                assert isinstance(item, str)
                size += len(item)
                first = first if continuing else item
                yield item
                continue
            shown = item.shown if isinstance(item, TooLong) else item
            self.dropped[start] = TooLong((first if continuing else shown)[:SHOWN_CHARS], 0, why)
            if not continuing:
                yield "\n"  # a blank row where the line was
            elif odd:  # this line closes the open field: the record ends here
                yield '"\n'
            else:
                dropping = True
        if dropping:  # a quote left open to the end of the file
            yield '"\n'

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
