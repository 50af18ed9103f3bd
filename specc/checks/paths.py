"""Paths a spec names stay inside its project.

A spec received from someone else must not write runs anywhere (`train.runs_dir: /etc` or
`../..`, `sweep.storage: sqlite:////home/you/x.db`), nor copy any readable file into a saved model (`string_lookup: {vocabulary:
/home/you/.ssh/id_rsa}` travels inside every export). So every path in a spec resolves
against the spec's folder (`~` expands to the home folder) and must stay inside the project:
the git repository holding the spec, or else the spec's own folder. A path given on the
command line (`--set ...`, `--runs-dir`, `--data`, `--input`) is the user's own choice and
is not limited. No TensorFlow here.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from specc.errors import Problem
from specc.backbones import KEY as BACKBONE
from specc.layer_items import layer_key
from specc.project import has_control, inside, project_root, resolve_path, storage_file
from specc.registries import DATA_SOURCES
from specc.spec_data import mapping
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.load import Document

PATH_ARGS = ("vocabulary",)  # layer arguments that may name a file (string_lookup, text_vectorization)
BACKBONE_PATHS = ("from", "weights", "preset")  # a backbone's run (a name resolves inside) or file, its weights


def check_paths(doc: Document) -> list[Problem]:
    """Every path in the spec resolves inside the project."""
    if not doc.files:
        return []
    spec_dir = Path(doc.files[-1]).resolve().parent
    root = project_root(str(spec_dir))
    out = []
    for path, value in spec_paths(doc.data):
        if not isinstance(value, str):
            continue
        if has_control(value):  # the OS refuses a NUL in a path, from the command line too
            out.append(_p(doc, path, "a path cannot hold control characters (a NUL byte, a newline, ...)",
                          "check the quoted path for escapes such as \\0", code="path"))
            continue
        if _from_command_line(doc, path):
            continue
        if not inside(resolve_path(value, spec_dir), root):
            project = "the spec's folder" if root == spec_dir else "the git repository holding the spec"
            out.append(_p(doc, path, f"{value} is outside the spec's project ({project})",
                          "keep the paths of a spec inside its project; give a path outside it on the "
                          "command line (--runs-dir, --set, ...)", code="path"))
    return out


def _from_command_line(doc: Document, path: tuple) -> bool:
    where = doc.position_of(path)
    return where is not None and where.file.startswith("<--set")


def spec_paths(data: dict) -> Iterable[tuple[tuple, Any]]:
    """(spec path, value) of every path a spec names."""
    data_section = mapping(data.get("data"))
    yield from _source_paths(mapping(data_section.get("source")), ("data", "source"))
    split = mapping(data_section.get("split"))
    for name in ("validation", "test"):
        explicit = mapping(split.get(name))
        yield from _source_paths(mapping(explicit.get("source")), ("data", "split", name, "source"))
    train = mapping(data.get("train"))
    if "runs_dir" in train:
        yield ("train", "runs_dir"), train["runs_dir"]
    export = mapping(data.get("export"))
    if "dir" in export:
        yield ("export", "dir"), export["dir"]
    storage = mapping(data.get("sweep")).get("storage")
    if isinstance(storage, str) and storage_file(storage) is not None:
        yield ("sweep", "storage"), storage_file(storage)
    yield from _layer_file_args(data)


def _source_paths(source: dict, base: tuple) -> Iterable[tuple[tuple, Any]]:
    """The paths of a source mapping: the path keys its registry line declares (a key's value
    is a path, or a mapping name -> path), of whichever registered form it is."""
    for form, spec in source.items():
        info = DATA_SOURCES.find(form)
        spec = mapping(spec)
        for key in info.paths if info is not None else ():
            value = spec.get(key)
            if isinstance(value, dict):
                yield from ((base + (form, key, name), v) for name, v in value.items())
            elif value is not None:
                yield base + (form, key), value


def _layer_file_args(data: dict) -> Iterable[tuple[tuple, Any]]:
    from specc.layer_items import layer_items

    for path, item in layer_items(data):
        key = layer_key(item) if isinstance(item, dict) else None
        args = mapping(item.get(key)) if key else {}
        for name in PATH_ARGS + (BACKBONE_PATHS if key == BACKBONE else ()):
            if isinstance(args.get(name), str) and args[name] != "none":
                yield path + (key, name), args[name]
