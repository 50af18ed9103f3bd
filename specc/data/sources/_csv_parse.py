"""Reading a CSV file in chunks straight into typed arrays (for `specc.data.sources.csv`; the
typed column readers serve every columnar source, specc/data/sources/columnar.py).

The csv module reads CHUNK_CELLS cells at a time, and each column the source uses is
converted as its chunk arrives: numbers into float32 matrices (kept in segments until the
end), category cells into a list of shared strings, a label into float64 values or class
ids. Only one or two chunks are ever held as Python strings, so the peak stays near the size
of the arrays themselves (docs/guides/data.md). Each column keeps its first bad cell; `csv.py`
words the errors, in the order a reader that checks the whole file first meets them.
"""
from __future__ import annotations

import csv
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import numpy as np

from specc.errors import DataError

if TYPE_CHECKING:
    from specc.data.sources.columnar import RowFile

CHUNK_CELLS = 1 << 18   # cells per chunk: the strings of one chunk take about 20 MB
MIN_CHUNK_ROWS = 256
SEGMENT_BYTES = 8 << 20  # the arrays grow by segments of this size while the file is read


class CsvFile:
    """One pass over a CSV file: its header, then its non-blank rows in chunks.

    Attributes:
        header: The first row, cells stripped; None for an empty file.
    """

    def __init__(self, path: Path, text: str, delimiter: str) -> None:
        self.path, self.text, self.delimiter = path, text, delimiter
        self._handle = open(path, newline="", encoding="utf-8-sig")
        self._reader = csv.reader(self._handle, delimiter=delimiter)
        try:
            first = self._guarded(lambda: next(self._reader, None))
        except DataError:
            self._handle.close()
            raise
        self.header: Optional[list[str]] = None if first is None else [cell.strip() for cell in first]

    def __enter__(self) -> "CsvFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.close()

    def chunks(self, size: int) -> Iterator[tuple[np.ndarray, list]]:
        """Yield (line numbers, rows) of up to `size` non-blank rows, to the end of the file.

        Raises:
            DataError: The file is not UTF-8 or not CSV (wherever in the file that shows).
        """
        while True:
            lines, rows = self._guarded(lambda: _next_rows(self._reader, size))
            if not rows:
                return
            yield np.asarray(lines, dtype=np.int64), rows

    def column(self, index: int, count: int, size: int) -> Iterator[list[str]]:
        """Yield the stripped cells of column `index` in the first `count` data rows, up to
        `size` at a time (a second read of rows already read once)."""
        with open(self.path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            next(reader, None)
            while count > 0:
                _, rows = _next_rows(reader, min(count, size))
                if not rows:
                    return
                count -= len(rows)
                yield [row[index].strip() for row in rows]

    def _guarded(self, read: Any) -> Any:
        """Call `read`, turning a decoding or parsing failure into the file's DataError."""
        try:
            return read()
        except UnicodeDecodeError as err:
            raise DataError(f"{self.text}: not a UTF-8 text file ({err.reason} at byte {err.start})",
                            hint="save the CSV as UTF-8") from None
        except csv.Error as err:
            raise DataError(f"{self.text}: cannot parse the CSV: {err}") from None


def _next_rows(reader: Any, size: int) -> tuple[list, list]:
    """Up to `size` (line numbers, rows) from `reader`; rows of blank cells are skipped."""
    lines: list[int] = []
    rows: list[list[str]] = []
    for row in reader:
        if not row:
            continue
        first = row[0]
        # Most rows start with a visible character; only the others need the full blank test.
        if (not first or first[0].isspace()) and not "".join(row).strip():
            continue
        rows.append(row)
        lines.append(reader.line_num)
        if len(rows) == size:
            break
    return lines, rows


class Growing:
    """A numpy array filled along its first axis, kept in segments while the file is read, so
    that no estimate of the row count is needed and no copy of the whole array is ever made.

    `finish` moves the segments into one array, releasing each as soon as it is copied: the
    peak is the array plus one segment, where growing by copying would make it two arrays.
    """

    def __init__(self, dtype: Any, width: Optional[int]) -> None:
        self.dtype, self.width = np.dtype(dtype), width
        self.row_bytes = self.dtype.itemsize * (width or 1)
        self.segment_rows = max(1, SEGMENT_BYTES // max(1, self.row_bytes))
        self.segments: list[Optional[np.ndarray]] = []

    def put(self, start: int, values: np.ndarray, column: Optional[int] = None) -> None:
        """Write `values` at rows start.. (in matrix column `column`, if given)."""
        done = 0
        while done < len(values):
            index, offset = divmod(start + done, self.segment_rows)
            while len(self.segments) <= index:
                self.segments.append(self._segment())
            segment = self.segments[index]
            assert segment is not None
            count = min(len(values) - done, self.segment_rows - offset)
            if column is None:
                segment[offset:offset + count] = values[done:done + count]
            else:
                segment[offset:offset + count, column] = values[done:done + count]
            done += count

    def finish(self, rows: int) -> np.ndarray:
        """The `rows` rows written, as one array (the segments are released)."""
        array = np.empty(self._shape(rows), dtype=self.dtype)
        segments, self.segments = self.segments, []
        for index in range(len(segments)):
            # Take the list's reference away: rebinding `segment` at the next step frees it.
            segment, segments[index] = segments[index], None
            assert segment is not None
            start = index * self.segment_rows
            array[start:start + self.segment_rows] = segment[:max(0, rows - start)]
        return array

    def _segment(self) -> np.ndarray:
        # An anonymous mapping of its own rather than malloc: its pages cost nothing until
        # written, and it goes back to the system as soon as it is freed, whatever malloc's
        # thresholds are (a freed block inside malloc's heap would stay in the peak).
        buffer = mmap.mmap(-1, self.segment_rows * self.row_bytes)
        return np.frombuffer(buffer, dtype=self.dtype).reshape(self._shape(self.segment_rows))

    def _shape(self, rows: int) -> tuple:
        return (rows,) if self.width is None else (rows, self.width)


@dataclass
class BadNumber:
    """The first cell of a numeric column that is not a number: its line and its stripped
    text ("" when it is empty)."""

    line: int
    cell: str


def parse_numbers(cells: Sequence[str]) -> Optional[np.ndarray]:
    """The cells as float64 (as numpy parses them, whitespace around allowed), or None."""
    try:
        return np.asarray(cells, dtype=np.float64)
    except ValueError:
        pass
    try:
        return np.asarray([cell.strip() for cell in cells], dtype=np.float64)
    except ValueError:
        return None


def first_bad_number(lines: np.ndarray, cells: Sequence[str]) -> Optional[BadNumber]:
    """The first empty or non-number cell, or None when Python reads them all as floats."""
    for line, cell in zip(lines, cells):
        cell = cell.strip()
        if cell == "":
            return BadNumber(int(line), "")
        try:
            float(cell)
        except ValueError:
            return BadNumber(int(line), cell)
    return None


class Numbers:
    """A numeric column, written into one or more (matrix, column) slots as float32.

    Attributes:
        bad: Its first cell that is empty or not a number (then it is read no further).
        unreadable: numpy could not convert a chunk whose cells Python reads as floats.
    """

    def __init__(self) -> None:
        self.slots: list[tuple[Growing, int]] = []
        self.bad: Optional[BadNumber] = None
        self.unreadable = False

    def take(self, lines: np.ndarray, cells: Sequence[str], start: int) -> None:
        """Convert one chunk of the column's cells (rows start..)."""
        if self.bad is not None:
            return
        values = parse_numbers(cells)
        if values is None:
            self.bad = first_bad_number(lines, cells)
            self.unreadable = self.unreadable or self.bad is None
            return
        for matrix, column in self.slots:
            matrix.put(start, values, column)


class Categories:
    """A categorical column: its stripped cells, equal values sharing one string object.

    Attributes:
        values: Every cell, in row order.
        seen: Each distinct value (mapped to itself, the object `values` refers to).
        empty: The line of its first empty cell, or None.
    """

    def __init__(self) -> None:
        self.values: list[str] = []
        self.seen: dict[str, str] = {}
        self.empty: Optional[int] = None

    def take(self, lines: np.ndarray, cells: Sequence[str], start: int) -> None:
        """Keep one chunk of the column's cells."""
        seen = self.seen
        chunk = [seen.setdefault(cell, cell) for cell in map(str.strip, cells)]
        if self.empty is None and "" in seen:
            self.empty = int(lines[chunk.index("")])
        self.values.extend(chunk)


class Label:
    """A label column: float64 numbers while every cell is one, else class ids of the sorted
    distinct strings (the rows read before the first string are read again, as strings).

    Attributes:
        empty: The line of its first empty cell, or None (then it is read no further).
    """

    def __init__(self, file: RowFile, index: int) -> None:
        self.file, self.index = file, index
        self.numbers: Optional[Growing] = Growing(np.float64, None)
        self.codes: Optional[Growing] = None
        self.ids: dict[str, int] = {}   # class name -> id in order of appearance
        self.empty: Optional[int] = None

    def take(self, lines: np.ndarray, cells: Sequence[str], start: int) -> None:
        """Convert one chunk of the column's cells (rows start..)."""
        if self.empty is not None:
            return
        if self.numbers is not None:
            values = parse_numbers(cells)
            if values is not None:
                self.numbers.put(start, values)
                return
        stripped = [cell.strip() for cell in cells]
        if "" in stripped:
            self.empty = int(lines[stripped.index("")])
            return
        if self.codes is None:
            self._to_classes(start)
        self._add_classes(stripped, start)

    def finish(self, rows: int) -> tuple[np.ndarray, Optional[list]]:
        """(labels, class names): int64 for whole numbers, float32 for other numbers, class
        ids with their names for strings."""
        if self.codes is None:
            assert self.numbers is not None
            values = self.numbers.finish(rows)
            finite = np.isfinite(values)
            if finite.all() and (values == np.round(values)).all():
                return values.astype(np.int64), None
            return values.astype(np.float32), None
        names = sorted(self.ids)
        rank = np.empty(len(names), dtype=np.int64)
        for position, name in enumerate(names):
            rank[self.ids[name]] = position
        return rank[self.codes.finish(rows)], names

    def _to_classes(self, start: int) -> None:
        self.numbers = None
        self.codes = Growing(np.int64, None)
        done = 0
        for cells in self.file.column(self.index, start, CHUNK_CELLS):
            self._add_classes(cells, done)
            done += len(cells)

    def _add_classes(self, cells: list, start: int) -> None:
        ids = self.ids
        assert self.codes is not None
        self.codes.put(start, np.asarray([ids.setdefault(cell, len(ids)) for cell in cells], dtype=np.int64))


@dataclass
class Reading:
    """What one pass over the rows found.

    Attributes:
        count: Data rows (blank lines aside).
        lines: The line of each data row (header = 1), when the columns were read.
        ragged: (line, fields, row) of the first row whose field count differs from the
            header's (row: its place among the data rows, from 0).
    """

    count: int = 0
    lines: Optional[np.ndarray] = None
    ragged: Optional[tuple[int, int, int]] = None


def read_rows(file: RowFile, columns: Optional[dict]) -> Reading:
    """Read every row of `file`, feeding each column in `columns` (header index -> Numbers,
    Categories or Label) while no row is ragged; with None, only count and check the rows.

    Raises:
        DataError: The file is not UTF-8 or not CSV.
    """
    found = Reading()
    width = len(file.header or ())
    lines = Growing(np.int64, None)
    size = max(MIN_CHUNK_ROWS, CHUNK_CELLS // max(1, width))
    for chunk_lines, rows in file.chunks(size):
        if found.ragged is None:
            found.ragged = _ragged(chunk_lines, rows, width, found.count)
        if columns is not None and found.ragged is None:
            lines.put(found.count, chunk_lines)
            cells = list(zip(*rows))
            for index, column in columns.items():
                column.take(chunk_lines, cells[index], found.count)
        found.count += len(rows)
    if columns is not None and found.ragged is None:
        found.lines = lines.finish(found.count)
    return found


def _ragged(lines: np.ndarray, rows: list, width: int, before: int) -> Optional[tuple[int, int, int]]:
    if set(map(len, rows)) == {width}:
        return None
    at = next(i for i, row in enumerate(rows) if len(row) != width)
    return int(lines[at]), len(rows[at]), before + at
