"""Data that cannot fit the model, found where it costs nothing: the feature count of a
builtin data set, a columnar file's header (read by the source's own `read_header`, so the
columns it names are checked too), the shape of an .npy/.npz array (its header only;
the data is not read), an image folder's size, a TFRecord's declared features, each against
the model's declared inputs; and a builtin data set's classes against the task. A wine spec
with `inputs: {x: [12]}` used to pass validation and fail in `train` after a run folder was
made. A source whose optional packages are missing says which extra installs them (found with
importlib.util.find_spec, not imported). No TensorFlow here: array headers are read by hand.

A source this module cannot read cheaply (a missing file, categorical columns, synthetic
data, a model input of variable size) is not checked here; training checks it.
"""
from __future__ import annotations

import ast
import math
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, cast

from specc.checks.paths import spec_paths
from specc.errors import DataError, Problem
from specc.project import has_control
from specc.registries import BUILTIN_DATA_SETS, DATA_SOURCES, DataSourceInfo, spec_task_type
from specc.registry import load_object
from specc.spec_data import integer, items, mapping, text
from specc.spec_data import problem as _p
from specc.shown import header_text, shown_names, shown_value
from specc.suggest import did_you_mean

if TYPE_CHECKING:
    from specc.load import Document

MAX_HEADER_BYTES = 64 * 1024


def check_data_fits(doc: Document) -> list[Problem]:
    """The data's values per sample agree with the model's inputs; a builtin data set's
    classes with the task's."""
    source = mapping(mapping(doc.data.get("data")).get("source"))
    if len(source) != 1:
        return []
    (form, spec), = source.items()
    if any(isinstance(value, str) and has_control(value) for _, value in spec_paths(doc.data)):
        return []  # checks/paths.py refuses the path; the OS would refuse to open it
    base = Path(doc.files[-1]).resolve().parent if doc.files else Path(".")
    info = DATA_SOURCES.find(form)
    if info is None:
        return []  # the schema reports an unknown form
    lacking = _missing_modules(doc, info)
    if lacking:
        return lacking  # the source's own reader could not run
    out = _classes(doc, form, spec)
    unreadable = _array_problems(doc, form, mapping(spec), base)
    if unreadable:
        return out + unreadable
    header = _header(info, spec, base) if info.columnar else None
    if header:
        missing = _missing_columns(doc, form, mapping(spec), header)
        if missing:
            return out + missing  # the counts would only echo it
    inputs, path = _model_inputs(doc.data)
    if not inputs:
        return out
    counts = _columnar_counts(mapping(spec), header) if info.columnar else _feature_counts(form, spec, base)
    if counts:
        out += _compare(doc, inputs, path, counts, _origin(form, spec))
    return out


def _missing_modules(doc: Document, info: DataSourceInfo) -> list[Problem]:
    """The packages the source needs that are not installed (looked up, not imported)."""
    missing = info.missing()
    if not missing:
        return []
    return [_p(doc, ("data", "source", info.name), f"the {info.name} source needs {', '.join(missing)}, "
               "not installed", info.install_hint(), code="data-preflight")]


def _header(info: DataSourceInfo, spec: Any, base: Path) -> Optional[list]:
    """The column names of a columnar source's file, from its own cheap `read_header`; None
    when it cannot be read (training reports why, with the file and row)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        return None
    read_header = cast(Callable[..., list], load_object(f"{info.module}:read_header"))
    try:
        return read_header(spec, _Context(base))
    except (DataError, OSError):
        return None


class _Context:
    """The part of a source's context its `read_header` uses (a data-layer SourceContext
    cannot be made here, in the core layer)."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir, self.seed, self.key = base_dir, 0, "data.source"


def _missing_columns(doc: Document, form: str, spec: dict, header: list) -> list[Problem]:
    """Columns the spec names (label, features, categorical) that the file's header lacks."""
    out = []
    at = ("data", "source", form)
    for key, path, column in _named_columns(spec):
        if column not in header:
            names = [cell for cell in shown_names(header) if cell is not None]
            hint = did_you_mean(column, names) or f"the columns: {header_text(header)}"
            out.append(_p(doc, at + path, f"{spec.get('path')} has no column '{column}' (named by {form}.{key})",
                          hint, code="data-shape"))
    return out


def _named_columns(spec: dict) -> list:
    """(source key, spec path below the form, column) of every column the source names."""
    found: list = []
    label = spec.get("label")
    if isinstance(label, str):
        found.append(("label", ("label",), label))
    elif isinstance(label, dict):
        found += [("label", ("label", k), v) for k, v in label.items() if isinstance(v, str)]
    else:
        found += [("label", ("label", i), v) for i, v in enumerate(items(label)) if isinstance(v, str)]
    features = spec.get("features")
    if isinstance(features, dict):
        found += [("features", ("features", k, i), c) for k, cols in features.items()
                  for i, c in enumerate(items(cols)) if isinstance(c, str)]
    else:
        found += [("features", ("features", i), c) for i, c in enumerate(items(features)) if isinstance(c, str)]
    found += [("categorical", ("categorical", i), c) for i, c in enumerate(items(spec.get("categorical")))
              if isinstance(c, str)]
    return found


def fed_inputs(data: dict) -> tuple[dict, tuple]:
    """The `inputs:` mapping of the network the data feeds, and its spec path."""
    model = mapping(data.get("model"))
    declared = spec_task_type(data)
    base: tuple = ("model", "inputs")
    if declared is not None and declared.feeds is not None:
        fed, path = declared.fed_part(model)
        if fed.get("inputs") or not model.get("inputs"):
            # a fed part that declares no inputs takes model.inputs, else a linked part's shape
            model, base = fed, path + ("inputs",)
    return mapping(model.get("inputs")), base


def _model_inputs(data: dict) -> tuple[dict, tuple]:
    """Input name -> values per sample (None: variable size) of the network the data feeds."""
    inputs, base = fed_inputs(data)
    found = {}
    for name, value in inputs.items():
        shape = value.get("shape") if isinstance(value, dict) else value
        dtype = value.get("dtype", "float32") if isinstance(value, dict) else "float32"
        if dtype == "string" or not isinstance(shape, list):
            return {}, ()
        sizes = [integer(d) for d in shape]
        found[name] = None if any(s is None or s < 1 for s in sizes) else math.prod(sizes)  # type: ignore[arg-type]
    return found, base


def _compare(doc: Document, inputs: dict, base: tuple, counts: dict, origin: str) -> list[Problem]:
    out = []
    if len(inputs) == 1:
        name, size = next(iter(inputs.items()))
        group = name if name in counts else ("x" if "x" in counts else None)
        if group is None and len(counts) == 1:
            group = next(iter(counts))
        pairs = [(name, size, group)]
    else:
        pairs = [(name, size, name) for name, size in inputs.items()]
    for name, size, group in pairs:
        have = counts.get(group) if group else None
        if size is None or have is None or size == have:
            continue
        where = f"'{group}' of {origin}" if group not in (None, "x") else origin
        out.append(_p(doc, base + (name,), f"model input '{name}' takes {size} value(s) per sample, but "
                      f"{where} has {have}", _fix(doc, base + (name,), have), code="data-shape"))
    return out


def _fix(doc: Document, path: tuple, have: int) -> str:
    name = path[-1]
    return (f"declare inputs: {{{name}: [{have}]}} (any shape with {have} values), or select other "
            "features in data.source")


def _origin(form: str, spec: Any) -> str:
    if form == "builtin":
        return f"builtin {spec.get('name') if isinstance(spec, dict) else spec}"
    path = mapping(spec).get("path") or mapping(spec).get("features")
    return f"{form} {path}" if isinstance(path, str) else f"data.source.{form}"


def _classes(doc: Document, form: str, spec: Any) -> list[Problem]:
    """A builtin data set's classes (or targets) against the task's."""
    if form != "builtin" or mapping(doc.data.get("data")).get("select"):
        return []  # data.select changes the classes: checks/data_select.py counts them
    name = spec.get("name") if isinstance(spec, dict) else spec
    info = BUILTIN_DATA_SETS.get(name) if isinstance(name, str) else None
    task = mapping(doc.data.get("task"))
    kind, classes = text(task.get("type")), integer(task.get("classes"))
    if info is None or kind != "multiclass" or classes is None or info.classes is None:
        return []
    if classes < info.classes:
        return [_p(doc, ("task", "classes"), f"builtin {name} has {info.classes} classes, task.classes is {classes}",
                   f"set task.classes: {info.classes}", code="data-shape")]
    if classes > info.classes:
        return [_p(doc, ("task", "classes"), f"builtin {name} has {info.classes} classes, task.classes is "
                   f"{classes}: {classes - info.classes} output unit(s) would never be a right answer",
                   f"set task.classes: {info.classes}", code="data-shape", severity="warning")]
    return []


# --- values per sample of each source ---------------------------------------------------------

def _feature_counts(form: str, spec: Any, base: Path) -> Optional[dict]:
    """Feature group -> values per sample, or None when it cannot be known cheaply."""
    try:
        if form == "builtin":
            name = spec.get("name") if isinstance(spec, dict) else spec
            info = BUILTIN_DATA_SETS.get(name) if isinstance(name, str) else None
            return {"x": info.features} if info else None
        if form in ("npz", "npy"):
            return _array_counts(form, mapping(spec), base)
        if form == "image_folder":
            return _image_counts(mapping(spec))
        if form == "tfrecord":
            return _record_counts(mapping(spec))
    except (OSError, ValueError, SyntaxError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return None  # unreadable here: training reports it with the file, row and column
    return None


def _columnar_counts(spec: dict, header: Optional[list]) -> Optional[dict]:
    """Feature group -> columns, of a columnar source without categorical columns."""
    if spec.get("categorical"):
        return None
    features = spec.get("features", "auto")
    if isinstance(features, list):
        return {"x": len(features)}
    if isinstance(features, dict):
        return {k: len(v) for k, v in features.items() if isinstance(v, list)}
    if header is None:
        return None
    label = spec.get("label")
    labels = [label] if isinstance(label, str) else list(label.values()) if isinstance(label, dict) \
        else [c for c in items(label) if isinstance(c, str)]
    return {"x": len([c for c in header if c not in labels])}


def _array_counts(form: str, spec: dict, base: Path) -> Optional[dict]:
    wanted = spec.get("features") or ("x" if form == "npz" else None)
    if form == "npy":
        files = wanted if isinstance(wanted, dict) else {"x": wanted}
        return {k: _per_sample(_npy_shape(base / str(v))) for k, v in files.items()}
    path = base / str(spec.get("path"))
    if isinstance(wanted, str):
        return {"x": _per_sample(_npz_shape(path, wanted))}
    if isinstance(wanted, dict):
        return {k: _per_sample(_npz_shape(path, v)) for k, v in wanted.items()}
    return {k: _per_sample(_npz_shape(path, k)) for k in items(wanted)}


def _per_sample(shape: tuple) -> int:
    return int(math.prod(shape[1:])) if len(shape) > 1 else 1


def _npy_shape(path: Path) -> tuple:
    with open(path, "rb") as handle:
        return _header_shape(handle.read(MAX_HEADER_BYTES))


def _npz_shape(path: Path, key: str) -> tuple:
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        return _header_shape(member.read(MAX_HEADER_BYTES))


def _header_shape(head: bytes) -> tuple:
    return tuple(_npy_header(head)["shape"])


def _npy_header(head: bytes) -> dict:
    """A .npy header (format 1.0-3.0: magic, version, length, a dict literal)."""
    if not head.startswith(b"\x93NUMPY"):
        raise ValueError("not an .npy file")
    size = 2 if head[6] == 1 else 4
    length = int.from_bytes(head[8:8 + size], "little")
    return ast.literal_eval(head[8 + size:8 + size + length].decode("latin1"))


def _array_problems(doc: Document, form: str, spec: dict, base: Path) -> list[Problem]:
    """An .npz archive whose directory cannot be read (truncated), or an array of Python objects
    (numpy would need a pickle to read it, which specc never loads); both from headers only."""
    if form != "npz" or not isinstance(spec.get("path"), str):
        return []
    path, where = base / spec["path"], ("data", "source", "npz", "path")
    if not path.is_file():
        return []  # checks/paths.py reports it
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as member:
                    if "O" in str(_npy_header(member.read(MAX_HEADER_BYTES)).get("descr")):
                        return [_p(doc, where, f"array {shown_value(Path(name).stem)} of {spec['path']} holds Python objects "
                                   "(an object array), which numpy reads only through a pickle",
                                   "save numbers or strings (e.g. array.astype('float32')); specc loads no pickles",
                                   code="data")]
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        return [_p(doc, where, f"{spec['path']} is not a complete .npz archive ({type(exc).__name__})",
                   "it is truncated or damaged: write it again with numpy.savez", code="data")]
    except (ValueError, SyntaxError, KeyError, AttributeError):
        return []  # not an .npy member: training reports it with the file
    return []


def _image_counts(spec: dict) -> Optional[dict]:
    size = [integer(d) for d in items(spec.get("size"))]
    if len(size) != 2 or any(d is None for d in size):
        return None
    channels = 1 if spec.get("color") == "grayscale" else 3
    return {"x": size[0] * size[1] * channels}  # type: ignore[operator]


def _record_counts(spec: dict) -> Optional[dict]:
    declared = {k: v for k, v in mapping(spec.get("features")).items() if k != spec.get("label")}
    counts = {}
    for name, feature in declared.items():
        shape = [integer(d) for d in items(mapping(feature).get("shape"))]
        if any(d is None for d in shape) or mapping(feature).get("dtype") == "string":
            return None
        counts[name] = int(math.prod(shape))  # type: ignore[arg-type]
    return {"x": next(iter(counts.values()))} if len(counts) == 1 else counts
