"""Columnar sources: files whose columns have names (`csv`, and any source whose line in
`specc.registries.DATA_SOURCES` says `columnar=True`).

A columnar source module has, besides `load(spec, context) -> Table`,

    read_header(spec, context) -> list[str]    # its column names, cheaply (validate calls it)

and its mapping names columns alike: `path`, `label` (a column, a list, or output -> column),
`features` (`auto`, a list, or input -> columns), `categorical` and `text` (columns of
free text, kept as strings for a `text_vectorization` layer in the model; an empty cell is
an empty text). Everything else is shared
here: which column becomes what (`Plan`), the typed reading of the cells (numbers, categories,
label typing: specc/data/sources/_csv_parse.py), and the messages, which name the source's
own form (`data.source.tsv.features`). The module only opens its file as a `RowFile`: a
header, then rows of text cells in chunks; `load_columns` does the rest. Validate
(specc/checks/data_fit.py) and the by-name readers of predict and evaluate (specc/run/columns.py)
use `read_header` and `spec_columns`. No TensorFlow here.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Protocol, Union

import numpy as np

from specc.data.checks import did_you_mean
from specc.data.sources._csv_parse import BadNumber, Categories, Growing, Label, Numbers, Reading, read_rows
from specc.data.table import Table, row_text
from specc.errors import DataError
from specc.shown import name_like, shown_names, shown_value

Column = Union[Numbers, Categories, Label]


class RowFile(Protocol):
    """One pass over a file of named columns, as a columnar source opens it.

    Attributes:
        text: The path as the user wrote it, for messages.
        header: The column names (the first row), cells stripped; None for an empty file.
    """

    text: str
    header: Optional[list[str]]

    def chunks(self, size: int) -> Iterator[tuple[np.ndarray, list]]:
        """Yield (line numbers, rows of text cells) of up to `size` rows, to the end."""

    def column(self, index: int, count: int, size: int) -> Iterator[list[str]]:
        """Yield the stripped cells of column `index` in the first `count` data rows, up to
        `size` at a time (a second read, for a label column that turns out to hold strings)."""


class ColumnarSource(Protocol):
    """A columnar source module (`columnar=True` in its registry line)."""

    def load(self, spec: Any, context: Any) -> Table:
        """The source's samples (see specc/data/sources/__init__.py)."""

    def read_header(self, spec: Any, context: Any) -> list[str]:
        """The column names of the source's file, read cheaply (its first row only).

        Raises:
            DataError: No such file, or not a file of this source with a header.
        """


class Columnar:
    """What the shared code says of one columnar source in its messages.

    Args:
        form: Its key under `data.source` (`csv`).
        name: What its files are called in messages (`CSV`; the form in capitals if not given).
        delimiter: Its field delimiter, when it has one (a header of one column that holds
            another delimiter is then worth a hint).
    """

    def __init__(self, form: str, name: Optional[str] = None, delimiter: Optional[str] = None) -> None:
        self.form, self.name, self.delimiter = form, name or form.upper(), delimiter
        self.kind = f"{self.name} file"


def load_columns(file: RowFile, spec: dict, key: str, source: Columnar) -> Table:
    """The Table of a columnar file, read in one pass. Errors come in the order of a reader
    that checks the whole file first: the header, no rows, a ragged row, a column the spec
    names but the file lacks, then the cells, feature by feature and then the labels, each
    column's first bad cell.

    Args:
        file: The open file (its header read).
        spec: The source's mapping (label, features, categorical, ...).
        key: Spec key of the source, e.g. "data.source".
        source: The form and the words of its messages.

    Raises:
        DataError: The header, a ragged row, a missing column, a bad cell.
    """
    header_problem = _header_problem(file.header, file.text, source,
                                     f"a {source.name} source needs a header row and data rows")
    plan: Optional[Plan] = None
    plan_problem: Optional[DataError] = None
    if header_problem is None:
        try:
            plan = Plan(spec, file, key, source)
        except DataError as err:
            plan_problem = err
    reading = read_rows(file, plan.columns if plan is not None else None)
    for problem in (header_problem, _rows_problem(file.text, reading, len(file.header or ())), plan_problem):
        if problem is not None:
            raise problem
    assert plan is not None and reading.lines is not None
    return plan.table(reading)


def checked_header(header: Optional[list], text: str, source: Columnar) -> list[str]:
    """`header`, checked as `load_columns` checks it.

    Raises:
        DataError: Empty, or a header with an empty or repeated name.
    """
    problem = _header_problem(header, text, source, f"a {source.name} needs a header row and data rows")
    if problem is not None:
        raise problem
    assert header is not None
    return header


def spec_columns(spec: dict, header: list, key: str, form: str) -> dict:
    """The `Table.columns` that loading `spec` gives a file with this header, without
    reading its rows.

    Raises:
        DataError: A column the spec names is not in the header.
    """
    label_cols = label_columns(spec.get("label"))
    groups = _feature_groups(spec.get("features", "auto"), header, label_cols, string_columns(spec),
                             str(spec.get("path")), f"{key}.{form}", Columnar(form))
    return _named_columns(groups, spec.get("label"), spec)


def string_columns(spec: dict) -> list:
    """The columns a source's mapping keeps as strings: its categorical, then its text columns."""
    return list(spec.get("categorical") or []) + list(spec.get("text") or [])


def _named_columns(groups: dict, label: Any, spec: dict) -> dict:
    """Table.columns: the columns of each feature key, the label as named, the categorical
    and the text columns among the features (`text` only when the source has some, so the
    records of runs without text stay as they were)."""
    used = {name for names in groups.values() for name in names}
    columns = {"inputs": {group: list(names) for group, names in groups.items()},
               "labels": dict(label) if isinstance(label, dict) else list(label) if isinstance(label, list) else label,
               "categorical": [name for name in spec.get("categorical") or [] if name in used]}
    text = [name for name in spec.get("text") or [] if name in used]
    if text:
        columns["text"] = text
    return columns


class Plan:
    """Which column of the file becomes what, the reader of each column the spec uses, and
    the arrays they fill; `table` checks what was read and builds the Table."""

    def __init__(self, spec: dict, file: RowFile, key: str, source: Columnar) -> None:
        assert file.header is not None
        self.header, self.text, self.key, self.source = file.header, file.text, key, source
        self.at = f"{key}.{source.form}"   # where the source's keys are, for messages
        self.label = spec.get("label")
        self.label_cols = label_columns(self.label)
        self.spec = spec
        self.categorical = list(spec.get("categorical") or [])
        self.text_columns = list(spec.get("text") or [])
        for name in self.label_cols:
            if name not in self.header:
                raise _missing_column(self.text, name, self.header, f"{self.at}.label", source)
        for form in ("categorical", "text"):
            for name in spec.get(form) or []:
                if name not in self.header:
                    raise _missing_column(self.text, name, self.header, f"{self.at}.{form}", source)
        both = [name for name in self.text_columns if name in self.categorical]
        if both:
            raise DataError(f"{self.text}: column '{both[0]}' is listed both as categorical and as text",
                            hint=f"keep it in one of {self.at}.categorical and {self.at}.text")
        self.groups = _feature_groups(spec.get("features", "auto"), self.header, self.label_cols,
                                      string_columns(spec), self.text, self.at, source)
        self.file = file
        self.lines: Any = None  # the line of each data row, once read
        self.index = {name: i for i, name in enumerate(self.header)}
        self.columns: dict[int, Column] = {}   # header index -> its reader
        self.matrices: dict[str, Growing] = {}   # numeric feature group -> its float32 matrix
        for group, names in self.groups.items():
            if self._kind(names) == "numbers":
                self.matrices[group] = self._matrix(names)
            elif self._kind(names) in ("categories", "text"):
                for name in names:
                    self._column(name, Categories)
        if isinstance(self.label, list):
            self.label_matrix = self._matrix(self.label)
        else:
            for name in self.label_cols:
                self._column(name, Label)

    def table(self, reading: Reading) -> Table:
        """The Table, after raising the first problem of the cells (in the whole-file
        reader's order: feature groups in order, then the labels)."""
        self.lines = reading.lines
        features: dict = {}
        vocab: dict = {}   # categorical feature -> its sorted values
        for group, names in self.groups.items():
            features[group] = self._group_array(group, names, reading.count, vocab)
        labels, class_names = self._labels(reading.count)
        per_output = class_names if isinstance(class_names, dict) else None
        return Table(features=features, labels=labels, class_names=None if per_output is not None else class_names,
                     output_class_names=per_output,
                     feature_names=list(self.groups["x"]) if "x" in self.groups else None,
                     categorical=vocab, origin=self.text, rows=np.arange(reading.count, dtype=np.int64),
                     lines=reading.lines, row_word="row",
                     label_columns=self.label_cols or None,
                     columns=_named_columns(self.groups, self.label, self.spec))

    def _kind(self, names: list) -> str:
        kinds = {"categories" if name in self.categorical else "text" if name in self.text_columns else "numbers"
                 for name in names}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def _column(self, name: str, kind: Any) -> Any:
        index = self.index[name]
        if index not in self.columns:
            self.columns[index] = Label(self.file, index) if kind is Label else kind()
        return self.columns[index]

    def _matrix(self, names: list) -> Growing:
        matrix = Growing(np.float32, len(names))
        for position, name in enumerate(names):
            self._column(name, Numbers).slots.append((matrix, position))
        return matrix

    def _group_array(self, group: str, names: list, rows: int, vocab: dict) -> np.ndarray:
        kind = self._kind(names)
        if kind == "mixed":
            raise DataError(f"{self.text}: input '{group}' mixes numeric, categorical or text columns",
                            hint="give categorical and text columns their own input")
        if kind == "numbers":
            for name in names:
                self._check_numbers(name)
            return self.matrices[group].finish(rows)
        columns: list[Categories] = []
        for name in names:
            column = self.columns[self.index[name]]
            assert isinstance(column, Categories)
            if column.empty is not None and kind == "categories":  # an empty text is a text
                raise DataError(f"{self.text}: {self._row(column.empty)}, {self._shown(name)} is empty",
                                hint="fill in the missing category or drop the row")
            columns.append(column)
        if kind == "categories":
            vocab[group] = sorted(set().union(*(column.seen for column in columns)))
        values = np.array([column.values for column in columns], dtype=np.object_).T
        return values[:, 0] if len(names) == 1 else values

    def _check_numbers(self, name: str) -> None:
        column = self.columns[self.index[name]]
        assert isinstance(column, Numbers)
        if column.bad is not None:
            raise self._bad_number(name, column.bad)
        if column.unreadable:
            raise DataError(f"{self.text}: {self._shown(name)} cannot be read as numbers")

    def _bad_number(self, name: str, bad: BadNumber) -> DataError:
        where = f"{self.text}: {self._row(bad.line)}, {self._shown(name)}"
        if bad.cell == "":
            return DataError(f"{where} is empty", hint="fill in the missing value or drop the row")
        listed = f"'{name}'" if shown_names(self.header)[self.index[name]] is not None else "the column"
        if self.key.startswith("--"):  # --input, --data: the run's spec says how columns are read
            return DataError(f"{where}: {shown_value(bad.cell)} is not a number",
                             hint=f"fix the value (the run reads {listed} as numbers), or list it under "
                                  f"data.source.{self.source.form}.categorical in the spec and train again")
        return DataError(f"{where}: {shown_value(bad.cell)} is not a number",
                         hint=f"fix the value, or list {listed} under {self.at}.categorical "
                              f"if the column holds categories")

    def _labels(self, rows: int) -> tuple[Any, Any]:
        """(labels, class names) for the label spec (str, list, dict or None); for a dict,
        the class names of each output whose labels are strings (a dict, maybe empty)."""
        if self.label is None:
            return None, None
        if isinstance(self.label, str):
            return self._label_column(self.label, rows)
        if isinstance(self.label, dict):
            columns = {out: self._label_column(name, rows) for out, name in self.label.items()}
            return ({out: labels for out, (labels, _) in columns.items()},
                    {out: names for out, (_, names) in columns.items() if names is not None})
        for name in self.label:
            self._check_numbers(name)
        return self.label_matrix.finish(rows), None

    def _label_column(self, name: str, rows: int) -> tuple[np.ndarray, Optional[list]]:
        column = self.columns[self.index[name]]
        assert isinstance(column, Label)
        if column.empty is not None:
            raise DataError(f"{self.text}: {self._row(column.empty)}, {self._shown(name)} is empty; "
                            f"every row needs a label")
        return column.finish(rows)

    def _row(self, line: int) -> str:
        """The row of a data line (its place among the data rows, from 0) and the line."""
        return row_text(int(np.searchsorted(self.lines, line)), line)

    def _shown(self, name: str) -> str:
        """`column 'name'`, or `column N` for a name that does not look like one."""
        index = self.index[name]
        shown = shown_names(self.header)[index]
        return f"column '{shown}'" if shown is not None else f"column {index + 1}"


def _rows_problem(text: str, reading: Reading, width: int) -> Optional[DataError]:
    if reading.count == 0:
        return DataError(f"{text}: the file has a header but no data rows")
    if reading.ragged is not None:
        line, fields, row = reading.ragged
        return DataError(f"{text}: {row_text(row, line)} has {fields} fields but the header has {width}",
                         hint="check the delimiter and quoting of that row")
    return None


def _header_problem(header: Optional[list], text: str, source: Columnar, needs: str) -> Optional[DataError]:
    """What is wrong with the first row as a header (empty, a repeated name, one column that
    holds another delimiter), or None."""
    if not header:
        return DataError(f"{text}: the file is empty; {needs}")
    shown = shown_names(header)
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            return DataError(f"{text}: row 1, column {i + 1} has an empty name; every column needs a header")
        if name in seen:
            if shown[i] is None:
                return DataError(f"{text}: row 1: columns {seen[name] + 1} and {i + 1} have the same name")
            return DataError(f"{text}: row 1: the column name '{name}' appears twice")
        seen[name] = i
    delimiter = source.delimiter
    if len(header) == 1 and delimiter is not None:
        for other in (";", "\t", "|", ","):
            if other != delimiter and other in header[0]:
                pieces = [piece.strip() for piece in header[0].split(other)]
                named = all(name_like(piece) for piece in pieces if piece)
                return DataError(f"{text}: the header has a single column" + (f" '{header[0]}'" if named else ""),
                                 hint=f"is the delimiter {other!r}? set delimiter: {other!r}")
    return None


def _missing_column(text: str, name: object, header: list, key: str, source: Columnar) -> DataError:
    """The error for a column the spec names that the header lacks, listing the header's
    names (only the cells that look like names)."""
    shown = [cell for cell in shown_names(header) if cell is not None]
    if not shown:
        return DataError(f"{text}: no column '{name}'; the first row of the file does not look like "
                         f"a header row (it names no columns)",
                         hint=f"the first row of a {source.kind} names its columns; add one, or fix {key}")
    hidden = len(header) - len(shown)
    others = ""
    if hidden:
        others = (" (not shown: 1 cell that does not look like a column name)" if hidden == 1 else
                  f" (not shown: {hidden} cells that do not look like column names)")
    listed = ", ".join(repr(str(cell)) for cell in shown)
    return DataError(f"{text}: no column '{name}'{did_you_mean(name, shown)}; available: {listed}{others}",
                     hint=f"fix {key}")


def label_columns(label: Any) -> list:
    """The label column(s) a `label:` names (a column, a list, or output -> column)."""
    if label is None:
        return []
    if isinstance(label, str):
        return [label]
    if isinstance(label, dict):
        return list(label.values())
    return list(label)


def _feature_groups(features: Any, header: list, label_cols: list, categorical: list, text: str,
                    at: str, source: Columnar) -> dict:
    """Map feature key -> list of columns (`at`: where the source's keys are, for messages;
    `categorical`: every column kept as strings, each its own input under `features: auto`)."""
    where = f"{at}.features"
    if isinstance(features, dict):
        groups = {name: list(cols) for name, cols in features.items()}
    else:
        chosen = [c for c in header if c not in label_cols] if features in (None, "auto") else list(features)
        numeric = [c for c in chosen if c not in categorical]
        groups = {"x": numeric} if numeric else {}
        for name in categorical:
            if name in chosen:
                groups[name] = [name]
    for cols in groups.values():
        for name in cols:
            if name not in header:
                raise _missing_column(text, name, header, where, source)
            if name in label_cols:
                raise DataError(f"{text}: column '{name}' is both a label and a feature", hint=f"fix {where}")
    if not groups:
        raise DataError(f"{text}: no feature columns are left besides the label(s)", hint=f"check {where}")
    return groups
