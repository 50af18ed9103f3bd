"""Backbones: a trained network used as one layer of a spec (`backbone:` in `layers:`/`nodes:`).

A backbone comes from one of two places:

- `from: REF`, a network an earlier specc run saved (REF: a run's id, `NAME` for the newest
  run of a spec, `NAME/ID`, or a run folder) or a `.keras` file; `part:` picks a part a
  composite run kept (an autoencoder's encoder), `checkpoint:` best or last, `until:` the
  layer whose output ends the backbone (a classifier's convolutional part);
- `application: NAME`, a keras.applications architecture (catalog/applications.json, written
  by tools/gen_applications.py), with `weights:` from a local `.weights.h5`/`.keras` file;
- `preset: FOLDER`, a KerasHub backbone saved on disk (`save_to_preset`).

Everything here reads files only (zip, JSON, HDF5): no TensorFlow. What is read from a run
folder is untrusted: a path it names must stay inside that folder.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

from specc.project import file_sha256 as sha256, inside, resolve_path

KEY = "backbone"
TABLE = Path(__file__).resolve().parent / "catalog" / "applications.json"
WEIGHT_SUFFIXES = (".weights.h5", ".keras")
MISSING_RUN = "backbone-run"  # validate only warns: `specc train --runs-dir` may look elsewhere


class BackboneError(Exception):
    """A backbone that cannot be found or does not fit: `arg` is the argument at fault."""

    def __init__(self, message: str, hint: str, arg: str, code: str = "backbone"):
        super().__init__(message)
        self.message, self.hint, self.arg, self.code = message, hint, arg, code


@dataclass(frozen=True)
class Source:
    """A file weights come from, as the run record names it."""

    kind: str               # run | file | application
    path: str               # the file read (absolute)
    sha256: str
    run: Optional[str] = None       # the run id, for a backbone from a run
    layer: Optional[str] = None     # the layer name the backbone has in the model

    def recorded(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


# --- the architectures' table ---------------------------------------------------------------------

@lru_cache(maxsize=None)
def applications() -> dict:
    """Architecture name (as keras.applications spells it) -> what validate knows of it."""
    if not TABLE.exists():
        raise RuntimeError(f"{TABLE} is missing: run python tools/gen_applications.py")
    return json.loads(TABLE.read_text(encoding="utf-8"))


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def application(name: Any) -> Optional[str]:
    """The architecture a spec names, however spelt (`mobilenet_v3_small`, `MobileNetV3Small`)."""
    if not isinstance(name, str):
        return None
    wanted = _plain(name)
    return next((known for known in applications() if _plain(known) == wanted), None)


# --- files ------------------------------------------------------------------------------------

def keras_config(path: Path) -> dict:
    """The model config inside a `.keras` file (its config.json)."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def layer_names(config: dict) -> list:
    """The names of a saved model's layers, nested models' layers as `outer/inner`."""
    names = []
    for layer in (config.get("config") or {}).get("layers") or []:
        name = (layer.get("config") or {}).get("name") or layer.get("name")
        if not isinstance(name, str):
            continue
        names.append(name)
        names += [f"{name}/{inner}" for inner in layer_names(layer)]
    return names


def weights_held(path: Path) -> tuple[int, int]:
    """(tensors, values) a `.weights.h5` or `.keras` file holds, read with h5py."""
    import h5py

    if str(path).endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            handle: Any = io.BytesIO(archive.read("model.weights.h5"))
    else:
        handle = str(path)
    counts = [0, 0]

    def visit(_name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            counts[0] += 1
            counts[1] += int(item.size)

    with h5py.File(handle, "r") as weights:
        weights.visititems(visit)
    return counts[0], counts[1]


def check_weights_file(path: Path, name: str, arg: str = "weights") -> None:
    """Refuse a weights file that is not `name`'s without its top: the tensors and values it
    holds differ from the architecture's (a silent partial load is never an option)."""
    expected = applications()[name]["weights"]
    try:
        tensors, values = weights_held(path)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise BackboneError(f"{path.name} is not a weights file Keras wrote ({exc})",
                            "give a .weights.h5 saved with model.save_weights, or a .keras model", arg) from None
    if (tensors, values) != (expected["tensors"], expected["values"]):
        raise BackboneError(
            f"weights file {path.name} holds {tensors} tensors ({values:,} values), but {name} without its top "
            f"has {expected['tensors']} ({expected['values']:,}): they are the weights of another architecture",
            f"give weights saved from keras.applications.{name}(include_top=False) (docs/guides/transfer.md), "
            "or name the architecture they belong to", arg)


# --- where a backbone comes from ---------------------------------------------------------------

def weights_path(args: dict, spec_dir: Path) -> Optional[Path]:
    """The local weights file of an `application:` backbone (None: random weights)."""
    given = args.get("weights")
    if given in (None, "none"):
        return None
    path = resolve_path(str(given), spec_dir)
    if not path.is_file():
        raise BackboneError(f"weights file {given} does not exist", "give the path of a .weights.h5 or .keras "
                            "file, relative to the spec's folder (nothing is downloaded)", "weights")
    if not str(path).endswith(WEIGHT_SUFFIXES):
        raise BackboneError(f"weights file {given} is neither .weights.h5 nor .keras",
                            "save weights with model.save_weights('x.weights.h5') or model.save('x.keras')",
                            "weights")
    return path


def model_file(args: dict, spec_dir: Path, runs_dir: Path) -> Source:
    """The `.keras` file a `from:` backbone reads: a file, or a run's checkpoint or part."""
    ref = str(args["from"])
    direct = resolve_path(ref, spec_dir)
    if direct.is_file():
        if not ref.endswith(".keras"):
            raise BackboneError(f"{ref} is not a .keras model", "give a .keras file or a run", "from")
        return Source("file", str(direct), sha256(direct))
    folder = direct if (direct / "record.json").is_file() else _run_folder(ref, runs_dir)
    record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    path = _checkpoint(folder, record, args)
    return Source("run", str(path), sha256(path), run=str(record.get("run_id") or folder.name))


def _run_folder(ref: str, runs_dir: Path) -> Path:
    from specc.registry import load_object

    find_run: Any = load_object("specc.run.records:find_run")  # never imports TensorFlow
    try:
        record = find_run(ref, runs_dir)
    except Exception as exc:  # noqa: BLE001 - a UsageError (nothing or several match)
        message = getattr(exc, "message", str(exc))
        raise BackboneError(f"no run or .keras file '{ref}': {message}",
                            f"train the spec it names first (runs are looked up in {runs_dir}/), or give a path",
                            "from", code=MISSING_RUN) from None
    if record.read().get("status") != "completed":
        raise BackboneError(f"run {record.run_id} did not complete ({record.read().get('status')})",
                            "transfer from a completed run", "from")
    return Path(record.path)


def _checkpoint(folder: Path, record: dict, args: dict) -> Path:
    """A run's saved network: a part (`part:`) or best/last (`checkpoint:`), inside its folder."""
    part = args.get("part")
    if part is not None:
        parts = record.get("parts") or {}
        if part not in parts:
            raise BackboneError(f"run {folder.name} kept no part '{part}'",
                                f"its parts: {', '.join(parts) or 'none'}", "part")
        path = folder / str(parts[part])
    else:
        which = args.get("checkpoint", "best")
        path = folder / "checkpoints" / f"{which}.keras"
        if which == "best" and not path.exists():
            path = folder / "checkpoints" / "last.keras"  # a run whose best is its last
    if not inside(path, folder) or not path.is_file():
        raise BackboneError(f"run {folder.name} has no {path.name} inside its folder",
                            "transfer from a completed run of this machine's specc", "from")
    return path


def check_until(args: dict, path: Path) -> None:
    """`until:` names a layer of the saved model."""
    until = args.get("until")
    if until is None:
        return
    names = [n for n in layer_names(keras_config(path)) if "/" not in n]
    if until not in names:
        from specc.suggest import did_you_mean

        raise BackboneError(f"the saved model has no layer '{until}'",
                            did_you_mean(str(until), names) or f"its layers: {', '.join(names)}", "until")


PINNED = "_file"  # the absolute path found for a backbone's `from:` or `weights:`


def pin(resolved: dict, spec_dir: Path, runs_dir: Optional[Path] = None,
        where: Optional[Callable] = None) -> tuple[dict, list]:
    """A copy of the resolved spec whose backbones name the absolute file they read
    (`_file`), and the weight sources (what the run record names).

    Raises:
        SpecInvalid: A backbone's run or file cannot be found, or does not fit.
    """
    import copy

    from specc.layer_items import layer_items
    from specc.errors import Problem, SpecInvalid

    pinned = copy.deepcopy(resolved)
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir(resolved, spec_dir)
    found = []
    for path, item in layer_items(pinned):
        args = item.get(KEY) if isinstance(item, dict) else None
        if not isinstance(args, dict):
            continue
        try:
            source = _source(args, spec_dir, runs_dir)
        except BackboneError as exc:
            at = tuple(path) + (KEY, exc.arg)
            raise SpecInvalid([Problem(at, exc.message, exc.hint, where(at) if where else None,
                                       code=exc.code)]) from None
        if source is not None:
            args[PINNED] = source.path
            found.append(Source(**{**source.__dict__, "layer": item.get("name") or KEY}))
    return pinned, found


def _source(args: dict, spec_dir: Path, runs_dir: Path) -> Optional[Source]:
    if "preset" in args:
        folder = preset_folder(args, spec_dir)
        return Source("preset", str(folder), folder_sha256(folder))
    if "from" in args:
        source = model_file(args, spec_dir, runs_dir)
        check_until(args, Path(source.path))
        return source
    weights = weights_path(args, spec_dir)
    name = application(args.get("application"))
    if weights is None or name is None:
        return None
    check_weights_file(weights, name)
    return Source("application", str(weights), sha256(weights))


PRESET_FILES = ("config.json", "model.weights.h5")


def preset_folder(args: dict, spec_dir: Path) -> Path:
    """A KerasHub preset on disk: a folder with its config and weights; KerasHub installed."""
    import importlib.util

    given = str(args["preset"])
    folder = resolve_path(given, spec_dir)
    missing = [name for name in PRESET_FILES if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        what = "does not exist" if not folder.is_dir() else f"has no {' and no '.join(missing)}"
        raise BackboneError(f"KerasHub preset folder {given} {what}",
                            "save one with keras_hub's `backbone.save_to_preset(folder)` (nothing is downloaded)",
                            "preset")
    if importlib.util.find_spec("keras_hub") is None:
        raise BackboneError("a KerasHub preset needs KerasHub, which is not installed",
                            "pip install 'specc[hub]'", "preset")
    return folder


def folder_sha256(folder: Path) -> str:
    """The sha256 of a folder's files: each one's relative name and bytes, in name order."""
    import hashlib

    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def default_runs_dir(resolved: dict, spec_dir: Path) -> Path:
    """Where `from: NAME` looks for runs: the spec's train.runs_dir, else runs/ here."""
    named = (resolved.get("train") or {}).get("runs_dir")
    return resolve_path(named, Path(spec_dir)) if named else Path("runs")
