"""Mutation fuzzing of the bundled specs: what `specc validate` lets through must compile.

    python tools/fuzz_specs.py --mutants 1500 --out /tmp/fuzz          # validate + compile
    python tools/fuzz_specs.py --mutants 10000 --no-compile --out /tmp/v  # validate only
    python tools/fuzz_specs.py --show 123                               # print mutant #123

Each mutant is a bundled spec (specs/*.yaml, examples/custom_layer/*.yaml) with one to three
edits of the kinds a user makes: a key deleted or misspelled, a value of the wrong type, a
number out of range, another real Keras name (layer, activation, optimizer, ...), a list
item duplicated, dropped or moved, a string misspelled, a catalog argument added. Mutant
#i depends only on --seed and i, so a report line can be reproduced with --show.

Every mutant is written as a YAML file (so problems have positions) and validated in this
process, like `specc validate` (never raises, every error positioned). The mutants
validation accepts are compiled like `specc compile` (load, check, resolve, compile_spec,
summarize) in worker processes that import TensorFlow once; a worker is killed and replaced
when a compile exceeds --timeout (a hang) or the worker dies, and replaced every --recycle
compiles or when it grows past --max-rss-mb (TensorFlow leaks). The goal this measures:
of the accepted mutants, fewer than 1% rejected only by compile (each positioned), no
crash, no hang.

Writes DIR/report.json (counts, groups of like failures with a minimal example, every non-ok
case) and DIR/examples/ (a few mutant files per failure group; the outcome is appended as
comments at the end so line numbers stay right), and prints a summary table.

The mutation and classification functions are also used by tests/test_fuzz.py, so there is
one implementation of each.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import time
import traceback
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.errors import EXIT_INTERNAL, SpecInvalid, SpecLoadError, SpeccError  # noqa: E402
from specc.load import load_spec, parse_text  # noqa: E402
from specc.load.yaml_tree import _resolve_plain  # noqa: E402  (the reader's own scalar rules)

SOURCE_GLOBS = ("specs/*.yaml", "examples/custom_layer/*.yaml")
CATALOG = json.loads((ROOT / "specc" / "catalog" / "keras_layers.json").read_text(encoding="utf-8"))
NAME_KINDS = ("layers", "activations", "initializers", "regularizers", "constraints", "losses", "metrics",
              "optimizers", "schedules")

# Outcomes of one mutant. Validation: rejected / accepted (then a compile outcome) or a
# validation defect. Compile: ok, or one of the others.
OK = "ok"
POSITIONED = "rejected_positioned"
UNPOSITIONED = "rejected_unpositioned"
CRASH = "crash"
HANG = "hang"
DEATH = "worker_death"
VALIDATE_CRASH = "validate_crash"
VALIDATE_HANG = "validate_hang"
VALIDATE_UNPOSITIONED = "validate_unpositioned"


# --- sources ---------------------------------------------------------------------------------

@dataclass
class Source:
    """A bundled spec the mutants start from."""

    path: Path
    data: dict

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def spec_dir(self) -> str:
        # Plugins (examples/custom_layer) are imported from the original spec's folder, not
        # from wherever the mutant file is written.
        return str(self.path.resolve().parent)


def load_sources(root: Path = ROOT, globs: tuple = SOURCE_GLOBS) -> list[Source]:
    """The bundled specs, read with specc's own reader (YAML 1.2 numbers, as specc sees them)."""
    paths = [path for pattern in globs for path in sorted(root.glob(pattern))]
    return [Source(path, load_spec(path).data) for path in paths]


# --- paths in a spec tree --------------------------------------------------------------------

def walk(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every path in the tree, the root () included, parents before children."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))


def get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def dotted(path: tuple) -> str:
    """('model', 'layers', 2, 'dense') -> model.layers[2].dense"""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def show(value: Any) -> str:
    """A value as it reads in a one-line diff (JSON, so a string "32" differs from 32)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def rename_key(mapping: dict, old: str, new: str) -> dict:
    """A copy of mapping with one key renamed in place (key order kept: positions stay alike)."""
    return {(new if key == old else key): value for key, value in mapping.items()}


# --- where Keras names are ---------------------------------------------------------------------

def is_layer_item(path: tuple) -> bool:
    """Is the value at path one layer item: a list entry of layers:/preprocessing:, a node, or
    the layer a wrapper (bidirectional, time_distributed) wraps?"""
    if len(path) < 2:
        return False
    parent, last = path[-2], path[-1]
    if isinstance(last, int):
        return parent in ("layers", "preprocessing")
    return parent == "nodes" or (last == "layer" and parent in CATALOG["layers"])


SECTION_KINDS = {"loss": "losses", "metrics": "metrics", "optimizer": "optimizers", "schedule": "schedules"}


def argument_kind(key: str) -> Optional[str]:
    """The kind of name a layer argument holds (kernel_initializer -> initializers)."""
    if key == "activation" or key.endswith("_activation"):
        return "activations"
    for suffix, kind in (("initializer", "initializers"), ("regularizer", "regularizers"),
                         ("constraint", "constraints")):
        if key.endswith(suffix):
            return kind
    return None


def name_kind(data: dict, path: tuple, is_key: bool) -> Optional[str]:
    """The catalog kind of the Keras name at path (a mapping key if is_key, else a string value)."""
    name = path[-1] if is_key else get(data, path)
    if not isinstance(name, str):
        return None
    holder = path[:-1]
    kind: Optional[str]
    if is_key and is_layer_item(holder) or not is_key and is_layer_item(path):
        kind = "layers"
    elif path[0] in SECTION_KINDS and sum(isinstance(p, str) for p in holder) <= 2:
        kind = SECTION_KINDS[path[0]]
    else:
        context = holder if is_key else path
        if context and isinstance(context[-1], int):
            context = context[:-1]
        kind = argument_kind(context[-1]) if context and isinstance(context[-1], str) else None
    return kind if kind and name in CATALOG[kind] else None


def name_sites(data: dict) -> list[tuple[tuple, bool, str]]:
    """(path, is_key, kind) of every Keras name in the spec."""
    sites = []
    for path in walk(data):
        if not path:
            continue
        if isinstance(path[-1], str):
            kind = name_kind(data, path, is_key=True)
            if kind:
                sites.append((path, True, kind))
        kind = name_kind(data, path, is_key=False)
        if kind:
            sites.append((path, False, kind))
    return sites


def catalog_args(kind: str, name: str) -> list[dict]:
    entry = CATALOG[kind].get(name)
    return entry.get("args", []) if isinstance(entry, dict) else []


# --- typos -----------------------------------------------------------------------------------

def _drop(word: str, rng: Any) -> str:
    i = rng.randrange(len(word))
    return word[:i] + word[i + 1:]


def _swap(word: str, rng: Any) -> str:
    if len(word) < 2:
        return word
    i = rng.randrange(len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _double(word: str, rng: Any) -> str:
    i = rng.randrange(len(word))
    return word[:i] + word[i] + word[i:]


def _replace(word: str, rng: Any) -> str:
    i = rng.randrange(len(word))
    return word[:i] + rng.choice("aeioustnrlm") + word[i + 1:]


def _separator(word: str, rng: Any) -> str:
    if "_" in word:
        return word.replace("_", rng.choice(["", "-", " "]), 1)
    i = rng.randrange(1, len(word)) if len(word) > 1 else 1
    return word[:i] + "_" + word[i:]


def _case(word: str, rng: Any) -> str:
    return rng.choice([word.capitalize(), word.upper()])


def _plural(word: str, rng: Any) -> str:
    return word[:-1] if word.endswith("s") else word + "s"


TYPOS = (_drop, _swap, _double, _replace, _separator, _case, _plural)


def typo(word: str, rng: Any) -> str:
    """A plausible misspelling of word (never word itself, never empty)."""
    for _ in range(10):
        new = rng.choice(TYPOS)(word, rng) if word else "x"
        if new and new != word:
            return new
    return word + "x"


# --- mutations -------------------------------------------------------------------------------
# Each takes the spec data (changed in place) and a random.Random-like rng, and returns a
# one-line description, or None when the spec has no place for it. The rng may be a
# hypothesis-driven Random (tests/test_fuzz.py), so every choice goes through it.

def mutate_delete(data: dict, rng: Any) -> Optional[str]:
    paths = [p for p in walk(data) if p and isinstance(p[-1], str)]
    path = rng.choice(paths)
    old = get(data, path[:-1]).pop(path[-1])
    return f"delete {dotted(path)} (was {show(old)})"


def mutate_rename(data: dict, rng: Any) -> Optional[str]:
    paths = [p for p in walk(data) if p and isinstance(p[-1], str)]
    path = rng.choice(paths)
    parent_path, old = path[:-1], path[-1]
    parent = get(data, parent_path)
    new = typo(old, rng)
    if new in parent:
        return None
    replace(data, parent_path, rename_key(parent, old, new))
    return f"rename key {dotted(path)} -> {new}"


def replace(data: dict, path: tuple, value: Any) -> None:
    """Put value at path (the root itself is updated in place)."""
    if not path:
        data.clear()
        data.update(value)
    else:
        get(data, path[:-1])[path[-1]] = value


def retype_candidates(old: Any) -> list:
    """Values of other types that a user might write where old is."""
    out: list = ["auto", "none", "x", "relu", "", True, False, None, 0, 1, 32, 0.5, -1, [], {}, [old], {"x": old}]
    if isinstance(old, str):
        out += [{old: {}}, {old: None}, [old, old]]
    if is_number(old) or isinstance(old, bool):
        out += [str(old), [old, old]]
    if isinstance(old, list) and old:
        out += [old[0]]
    if isinstance(old, dict) and old:
        first = next(iter(old))
        out += [first, list(old.values())]
    return [v for v in out if kind_of(v) != kind_of(old)]


def mutate_retype(data: dict, rng: Any) -> Optional[str]:
    path = rng.choice([p for p in walk(data) if p])
    old = get(data, path)
    new = copy.deepcopy(rng.choice(retype_candidates(old)))
    replace(data, path, new)
    return f"{dotted(path)}: {show(old)} -> {show(new)}"


def number_candidates(old: Any) -> list:
    """Out-of-range numbers for a place that holds old."""
    out: list = [-old if old else -1, -1, 0, 1e9, 10**9, 10**20, 2**63, 1e-12, old * 1000,
                 math.inf, -math.inf, math.nan]
    if isinstance(old, int):
        out += [float(old), old + 0.5]
    else:
        out += [int(old) if math.isfinite(old) else 1, old + 1, old * 10]
    return [v for v in out if not (v == old and type(v) is type(old))]


def mutate_number(data: dict, rng: Any) -> Optional[str]:
    paths = [p for p in walk(data) if p and is_number(get(data, p))]
    if not paths:
        return None
    path = rng.choice(paths)
    old = get(data, path)
    new = rng.choice(number_candidates(old))
    replace(data, path, new)
    return f"{dotted(path)}: {show(old)} -> {show(new)}"


def mutate_swap_name(data: dict, rng: Any) -> Optional[str]:
    """Another real name of the same kind from the catalog (a layer, an activation, ...)."""
    sites = name_sites(data)
    if not sites:
        return None
    path, is_key, kind = rng.choice(sites)
    old = path[-1] if is_key else get(data, path)
    new = rng.choice([name for name in sorted(CATALOG[kind]) if name != old])
    if not is_key:
        replace(data, path, new)
        return f"{kind[:-1]} {dotted(path)}: {old} -> {new}"
    parent = get(data, path[:-1])
    if new in parent:
        return None
    args, note = parent[old], "arguments kept"
    if isinstance(args, dict) and rng.random() < 0.5:
        # The arguments the new name takes, so the mutant gets past the argument checks.
        accepted = {a["name"] for a in catalog_args(kind, new)}
        parent[old] = {k: v for k, v in args.items() if k in accepted}
        note = "only its arguments kept"
    replace(data, path[:-1], rename_key(parent, old, new))
    return f"{kind[:-1]} {dotted(path)} -> {new} ({note})"


def mutate_list(data: dict, rng: Any) -> Optional[str]:
    """Duplicate, remove or reorder list items."""
    paths = [p for p in walk(data) if isinstance(get(data, p), list) and get(data, p)]
    if not paths:
        return None
    path = rng.choice(paths)
    items = get(data, path)
    ops = ["duplicate", "remove"] + (["swap", "reverse", "rotate"] if len(items) > 1 else [])
    op = rng.choice(ops)
    i = rng.randrange(len(items))
    if op == "duplicate":
        items.insert(i + 1, copy.deepcopy(items[i]))
        return f"{dotted(path)}: duplicate item [{i}] ({show(items[i])})"
    if op == "remove":
        old = items.pop(i)
        return f"{dotted(path)}: remove item [{i}] ({show(old)})"
    if op == "swap":
        j = rng.choice([k for k in range(len(items)) if k != i])
        items[i], items[j] = items[j], items[i]
        return f"{dotted(path)}: swap items [{min(i, j)}] and [{max(i, j)}]"
    if op == "reverse":
        items.reverse()
        return f"{dotted(path)}: reverse the {len(items)} items"
    items.append(items.pop(0))
    return f"{dotted(path)}: move item [0] ({show(items[-1])}) to the end"


def mutate_typo_value(data: dict, rng: Any) -> Optional[str]:
    paths = [p for p in walk(data) if p and isinstance(get(data, p), str)]
    if not paths:
        return None
    path = rng.choice(paths)
    old = get(data, path)
    new = typo(old, rng)
    replace(data, path, new)
    return f"{dotted(path)}: {show(old)} -> {show(new)}"


ARG_VALUES: dict[Optional[str], list] = {
    "integer": [0, 1, 2, 3, 8, 64, -1],
    "number": [0.0, 0.1, 0.5, 1.0, 2.0, -1.0, 1e-3],
    "boolean": [True, False],
    "string": ["same", "valid", "causal", "relu", "channels_first", "channels_last", "float16", "bfloat16",
               "int32", "zeros", "x"],
    "array": [[1], [2, 2], [], [1, 2, 3]],
    None: [1, 0.5, True, "x", [1, 2], None, {}],
}


def mutate_add_arg(data: dict, rng: Any) -> Optional[str]:
    """A catalog argument the call does not set yet, with a value of its type."""
    sites = [(p, kind) for p, is_key, kind in name_sites(data)
             if is_key and isinstance(get(data, p), dict)]
    if not sites:
        return None
    path, kind = rng.choice(sites)
    args = get(data, path)
    free = [a for a in catalog_args(kind, path[-1]) if a["name"] not in args]
    if not free:
        return None
    arg = rng.choice(free)
    values = list(ARG_VALUES.get(arg.get("type"), ARG_VALUES[None]))
    if arg.get("default") is not None:
        values.append(arg["default"])
    # The catalog's choices for it, when it has them (padding: same/valid, ...).
    values += (arg.get("constraint") or {}).get("enum") or []
    value = copy.deepcopy(rng.choice(values))
    args[arg["name"]] = value
    return f"add {dotted(path + (arg['name'],))}: {show(value)}"


# --- bad input that used to end in exit 70 (issue 19) ------------------------------------------

def mutate_nul(data: dict, rng: Any) -> Optional[str]:
    """A NUL byte (or another control character) in a string, or in an extends: file name."""
    char = rng.choice(["\x00", "\x00", "\x07", "\n", "\x7f"])
    if rng.random() < 0.3:
        data["extends"] = rng.choice(["base", "../base", ""]) + char + ".yaml"
        return f"extends: {show(data['extends'])}"
    paths = [p for p in walk(data) if p and isinstance(get(data, p), str)]
    if not paths:
        return None
    path = rng.choice(paths)
    old = get(data, path)
    at = rng.randrange(len(old) + 1)
    replace(data, path, old[:at] + char + old[at:])
    return f"{dotted(path)}: {show(old)} -> {show(get(data, path))}"


GROWING = ({"conv2d_transpose": {"filters": 1, "kernel_size": 3, "strides": 2, "padding": "same"}},
           {"up_sampling2d": {"size": 2}}, {"up_sampling1d": {"size": 2}}, {"dense": {"units": 4096}})


def mutate_huge_repeat(data: dict, rng: Any) -> Optional[str]:
    """`repeat:` in the hundreds or thousands on a layer item, often one that grows its input."""
    paths = [p for p in walk(data) if is_layer_item(p) and isinstance(get(data, p), dict)
             and isinstance(p[-1], int) and p[-2] == "layers"]
    if not paths:
        return None
    path = rng.choice(paths)
    count = rng.choice([300, 600, 1000, 1000, 5000])
    if rng.random() < 0.6:
        item = {**copy.deepcopy(rng.choice(GROWING)), "repeat": count}
        get(data, path[:-1]).insert(path[-1], item)
        return f"insert at {dotted(path)}: {show(item)}"
    get(data, path)["repeat"] = count
    return f"{dotted(path)}.repeat: {count}"


MONITORS = ("val_acuracy", "val_accuracy", "accuracy", "loss", "val_f1", "välidation_loss", "val_lösś",
            "\U0001f4a5", "val_loss\u200b", "VAL_LOSS", "", "val_auc", "val_mean_absolute_error")


def mutate_monitor(data: dict, rng: Any) -> Optional[str]:
    """A monitor the run may not log (unicode, a typo, another task's metric)."""
    section = rng.choice(["early_stopping", "checkpoints"])
    train = data.setdefault("train", {})
    if not isinstance(train, dict):
        return None
    value = train.get(section)
    value = dict(value) if isinstance(value, dict) else {}
    value["monitor"] = rng.choice(MONITORS)
    train[section] = value
    return f"train.{section}.monitor: {show(value['monitor'])}"


BAD_ARRAYS = ("fuzz-object-array.npz", "fuzz-truncated.npz")


def mutate_npz(data: dict, rng: Any) -> Optional[str]:
    """The data from an .npz archive that numpy cannot read safely (write_mutant writes them)."""
    section = data.get("data")
    if not isinstance(section, dict):
        return None
    section["source"] = {"npz": {"path": rng.choice(BAD_ARRAYS)}}
    return f"data.source: {show(section['source'])}"


def write_bad_arrays(folder: Path) -> None:
    """The .npz files of mutate_npz: an object array (needs a pickle), and an archive cut short."""
    import io

    import numpy as np

    if (folder / BAD_ARRAYS[1]).exists():
        return
    labels = np.arange(60) % 3
    np.savez(folder / BAD_ARRAYS[0], x=np.array([[1.0, "a", None, 2.0]] * 60, dtype=object), y=labels)
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((60, 4), "float32"), y=labels)
    (folder / BAD_ARRAYS[1]).write_bytes(buffer.getvalue()[:len(buffer.getvalue()) * 2 // 3])


MUTATIONS: dict[str, Callable[[dict, Any], Optional[str]]] = {
    "delete": mutate_delete,
    "rename": mutate_rename,
    "retype": mutate_retype,
    "number": mutate_number,
    "swap_name": mutate_swap_name,
    "list": mutate_list,
    "typo_value": mutate_typo_value,
    "add_arg": mutate_add_arg,
    "nul": mutate_nul,
    "huge_repeat": mutate_huge_repeat,
    "monitor": mutate_monitor,
    "npz": mutate_npz,
}


@dataclass
class Mutant:
    """One mutated spec: where it came from, what was done to it, and the data."""

    index: int
    source: Source
    data: dict
    mutations: list[str]

    @property
    def description(self) -> str:
        return "; ".join(self.mutations)

    @property
    def filename(self) -> str:
        return f"{self.source.name}-m{self.index}.yaml"


def mutate(data: dict, rng: Any, count: int) -> list[str]:
    """Apply count mutations to data (in place); their descriptions, in order."""
    done: list[str] = []
    attempts = 0
    while len(done) < count and attempts < 50:
        attempts += 1
        operation = MUTATIONS[rng.choice(sorted(MUTATIONS))]
        before = copy.deepcopy(data)
        text = operation(data, rng)
        if text and canonical(data) != canonical(before):
            done.append(text)
        else:  # not applicable, or no change (swapping equal items): the description must be the whole diff
            data.clear()
            data.update(before)
    return done


def make_mutant(source: Source, rng: Any, index: int = 0) -> Mutant:
    """1-3 mutations (one most often: single edits give the clearest examples)."""
    data = copy.deepcopy(source.data)
    count = rng.choice([1, 1, 1, 2, 2, 3])
    return Mutant(index, source, data, mutate(data, rng, count))


def mutant_number(sources: list[Source], seed: int, index: int) -> Mutant:
    """Mutant #index of a run: depends on seed and index only (sources taken in turn)."""
    rng = random.Random(f"{seed}:{index}")
    return make_mutant(sources[index % len(sources)], rng, index)


def canonical(data: Any) -> str:
    """A comparable text of the data (NaN equals NaN here, unlike ==)."""
    return json.dumps(data, sort_keys=False, ensure_ascii=False)


# --- writing a mutant as YAML ----------------------------------------------------------------

class SpecDumper(yaml.SafeDumper):
    """Writes strings so that specc reads them back as strings.

    PyYAML quotes what YAML 1.1 reads as non-strings; specc reads YAML 1.2 (`1e-3` is a
    number there), so a string such as "1e-3" needs quotes PyYAML would not add.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    try:
        plain_is_text = isinstance(_resolve_plain(value), str)
    except ValueError:  # a number too long to read: quoted, it is text
        plain_is_text = False
    style = None if plain_is_text else "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


SpecDumper.add_representer(str, _represent_str)


def yaml_text(data: dict) -> str:
    """The data as YAML text that specc reads back as the same data (checked)."""
    text = yaml.dump(data, Dumper=SpecDumper, sort_keys=False, allow_unicode=True, width=120)
    try:
        back = parse_text(text, "mutant.yaml")[0] if data else {}
    except SpecLoadError:
        back = None  # e.g. an empty top level: the file says what specc will complain about
    if back is not None and canonical(back) != canonical(data):
        raise ValueError(f"the YAML text does not read back as the mutant:\n{text}")
    return text


def write_mutant(mutant: Mutant, folder: Path) -> Path:
    """The mutant as a YAML file, with the plugin modules of its source beside it (validation
    looks for them there, as it would beside the source)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / mutant.filename
    path.write_text(yaml_text(mutant.data), encoding="utf-8")
    copy_plugins(mutant.source, folder)
    write_bad_arrays(folder)
    return path


# --- validation ------------------------------------------------------------------------------

@dataclass
class Verdict:
    """What validation said about one file."""

    outcome: str  # "accepted", "rejected", or one of the VALIDATE_* defects
    errors: int = 0
    message: str = ""  # the first error, or the exception
    error_type: str = ""
    where: str = ""
    unpositioned: list = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"


class ValidationTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: Optional[float]) -> Iterator[None]:
    """Raise ValidationTimeout after seconds (main thread only; None: no limit)."""
    if not seconds:
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise ValidationTimeout(f"validation took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_validation(path: Path, timeout: Optional[float] = 10.0) -> Verdict:
    """Validate a file the way `specc validate` does (specc.api.problems_of)."""
    from specc.api import problems_of

    try:
        with time_limit(timeout):
            problems, code = problems_of(str(path))
    except ValidationTimeout as exc:
        return Verdict(VALIDATE_HANG, message=str(exc))
    except Exception as exc:  # validation must never raise: this is the finding
        return Verdict(VALIDATE_CRASH, message=first_line(exc), error_type=type(exc).__name__,
                       where=frames(exc))
    errors = [p for p in problems if p.severity == "error"]
    if code == 0:
        return Verdict("accepted")
    unpositioned = [p.format() for p in errors if p.position is None]
    if unpositioned:
        return Verdict(VALIDATE_UNPOSITIONED, len(errors), unpositioned[0], unpositioned=unpositioned)
    return Verdict("rejected", len(errors), errors[0].format() if errors else f"exit code {code}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def frames(exc: BaseException) -> str:
    """Where it was raised: the innermost specc frame, and the innermost frame if elsewhere."""
    stack = traceback.extract_tb(exc.__traceback__)
    if not stack:
        return ""
    def place(frame: traceback.FrameSummary) -> str:
        name = frame.filename
        for marker in ("/specc/", "/keras/", "/tensorflow/", "/site-packages/"):
            if marker in name:
                name = name[name.index(marker) + 1:]
                break
        return f"{name}:{frame.lineno} in {frame.name}"
    own = [f for f in stack if "/specc/" in f.filename and "/tools/" not in f.filename]
    parts = [place(own[-1])] if own else []
    if not own or own[-1] is not stack[-1]:
        parts.append(place(stack[-1]))
    return " -> ".join(parts)


# --- compiling -------------------------------------------------------------------------------

@dataclass
class CompileResult:
    """What compiling one accepted file gave."""

    outcome: str  # OK, POSITIONED, UNPOSITIONED, CRASH, HANG, DEATH
    error_type: str = ""
    message: str = ""
    where: str = ""
    problems: list = field(default_factory=list)
    oom_like: bool = False
    seconds: float = 0.0

    def describe(self) -> str:
        if self.outcome == OK:
            return OK
        text = f"{self.outcome}: {self.error_type}: {self.message}"
        if self.where:
            text += f" [at {self.where}]"
        return text + "".join(f"\n    {p}" for p in self.problems[:3])


OOM_WORDS = ("OOM when allocating", "Resource exhausted", "bad_alloc", "MemoryError", "Cannot allocate memory",
             "out of memory")


def compile_file(path: Path, spec_dir: Optional[str] = None) -> CompileResult:
    """Compile a spec file the way `specc compile` does; classify how it ended."""
    from specc.api import load_and_check, resolved_spec
    from specc.paradigms import compile_spec, summarize

    start = time.monotonic()
    try:
        doc, _ = load_and_check(str(path))
        resolved = resolved_spec(doc)
        model = compile_spec(resolved, where=doc.position_of, spec_dir=spec_dir)
        summarize(model, resolved, where=doc.position_of)
        result = CompileResult(OK)
    except SpecInvalid as exc:
        result = rejection(exc)
    except SpeccError as exc:
        result = other_specc_error(exc)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit from a plugin included: `specc compile` says exit 70
        result = CompileResult(CRASH, type(exc).__name__, first_line(exc), frames(exc),
                               oom_like=looks_like_oom(exc))
    finally:
        forget_models()
    result.seconds = round(time.monotonic() - start, 3)
    return result


def rejection(exc: SpecInvalid) -> CompileResult:
    problems = [p for p in exc.problems if p.severity == "error"] or exc.problems
    texts = [p.format() for p in problems]
    positioned = all(p.position is not None for p in exc.problems)
    first = problems[0] if problems else None
    kind = f"SpecInvalid[{first.code}]" if first else "SpecInvalid"
    message = first.message if first else "(no problems)"
    return CompileResult(POSITIONED if positioned else UNPOSITIONED, kind, message, frames(exc), texts)


def other_specc_error(exc: SpeccError) -> CompileResult:
    """A SpeccError other than SpecInvalid: exit 70 is an internal error; others are rejections
    that `specc compile` prints without file:line:col unless they carry a position."""
    if exc.exit_code == EXIT_INTERNAL:
        return CompileResult(CRASH, type(exc).__name__, first_line(exc), frames(exc))
    positioned = getattr(exc, "position", None) is not None
    outcome = POSITIONED if positioned else UNPOSITIONED
    return CompileResult(outcome, f"{type(exc).__name__} (exit {exc.exit_code})", first_line(exc),
                         frames(exc), [exc.format()])


def looks_like_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return isinstance(exc, MemoryError) or "ResourceExhausted" in text or any(w in text for w in OOM_WORDS)


def forget_models() -> None:
    """Free what Keras keeps between builds (a worker compiles hundreds of specs)."""
    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()


# --- compile workers -------------------------------------------------------------------------

def rss_mb() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") >> 20


def worker_main(conn: Any, log_path: str, memory_limit_mb: int) -> None:
    """A compile worker: import TensorFlow once, then compile what the parent sends."""
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # One thread per worker: --workers processes share the cores (a 2-core machine).
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[name] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if memory_limit_mb:
        # A bounded address space turns a 1e9-unit layer into an allocation error instead of
        # the kernel's OOM killer choosing some process on the machine.
        limit = memory_limit_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras  # noqa: F401

    conn.send(("ready", os.getpid()))
    while True:
        job = conn.recv()
        if job is None:
            return
        key, path, spec_dir = job
        result = compile_file(Path(path), spec_dir)
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(("result", key, asdict(result), rss_mb()))


@dataclass
class Job:
    key: str
    path: str
    spec_dir: str


# TensorFlow's start-up lines, which say nothing about why a worker died.
LOG_NOISE = ("oneDNN", "absl::InitializeLog", "cudart_stub", "cuInit", "cuda_", "TF_ENABLE_ONEDNN_OPTS",
             "rebuild TensorFlow", "computation_placer", "This TensorFlow binary")


class Slot:
    """One worker process and the job it is on."""

    def __init__(self, number: int, context: Any, log_dir: Path, memory_limit_mb: int):
        self.number, self.context = number, context
        self.log_path = log_dir / f"worker-{number}.log"
        self.memory_limit_mb = memory_limit_mb
        self.process: Any = None
        self.conn: Any = None
        self.ready = False
        self.job: Optional[Job] = None
        self.since = 0.0
        self.done = 0
        self.starts = 0

    def start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=worker_main, args=(child, str(self.log_path),
                                                                      self.memory_limit_mb), daemon=True)
        self.process.start()
        child.close()
        self.conn, self.ready, self.job, self.done = parent, False, None, 0
        self.since = time.monotonic()
        self.starts += 1

    def stop(self, kill: bool) -> None:
        if self.process is None:
            return
        if not kill and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)
        self.conn.close()
        self.process = None

    def send(self, job: Job) -> None:
        self.job, self.since = job, time.monotonic()
        self.conn.send((job.key, job.path, job.spec_dir))

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        interesting = [line for line in text.splitlines() if line.strip() and not any(n in line for n in LOG_NOISE)]
        return " | ".join(interesting[-lines:])[-600:]


class CompilePool:
    """Worker processes that compile jobs, bounded in time and memory.

    A job that runs past timeout is a hang: its worker is killed and replaced. A worker that
    dies (a segfault, an abort, the OOM killer) gives a DEATH result for its job. Workers are
    replaced every `recycle` jobs or past max_rss_mb, since TensorFlow does not give memory back.
    """

    def __init__(self, workers: int, timeout: float, log_dir: Path, recycle: int = 300,
                 max_rss_mb: int = 3000, memory_limit_mb: int = 4096, startup_timeout: float = 300.0):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        log_dir.mkdir(parents=True, exist_ok=True)
        self.slots = [Slot(i, context, log_dir, memory_limit_mb) for i in range(workers)]
        self.timeout, self.recycle, self.max_rss_mb = timeout, recycle, max_rss_mb
        self.startup_timeout = startup_timeout
        self.restarts: Counter[str] = Counter()
        self.failed_starts = 0
        self.largest_rss_mb = 0

    def run(self, jobs: list[Job], on_result: Callable[[Job, CompileResult], None]) -> None:
        pending = deque(jobs)
        for slot in self.slots:
            slot.start()
        try:
            while pending or any(slot.job for slot in self.slots):
                for slot in self.slots:
                    if slot.ready and slot.job is None and pending:
                        slot.send(pending.popleft())
                self._wait_and_collect(on_result)
        finally:
            for slot in self.slots:
                slot.stop(kill=False)

    def _wait_and_collect(self, on_result: Callable[[Job, CompileResult], None]) -> None:
        from multiprocessing.connection import wait

        waitables = {}
        for slot in self.slots:
            waitables[slot.conn] = slot
            waitables[slot.process.sentinel] = slot
        ready = wait(list(waitables), timeout=1.0)
        for slot in {waitables[w] for w in ready}:
            self._receive(slot, on_result)
        now = time.monotonic()
        for slot in self.slots:
            if slot.job and now - slot.since > self.timeout:
                job = slot.job
                self._restart(slot, "hang")
                on_result(job, CompileResult(HANG, "timeout", f"compile ran past {self.timeout:g} s",
                                             seconds=self.timeout))
            elif not slot.ready and now - slot.since > self.startup_timeout:
                self._failed_start(slot, f"not ready after {self.startup_timeout:g} s")

    def _receive(self, slot: Slot, on_result: Callable[[Job, CompileResult], None]) -> None:
        try:
            message = slot.conn.recv() if slot.conn.poll() else None
        except (EOFError, OSError):
            message = None
        if message is None:
            if slot.process.is_alive():
                return
            self._died(slot, on_result)
            return
        if message[0] == "ready":
            slot.ready, self.failed_starts = True, 0
            return
        _, _, result, rss = message
        self.largest_rss_mb = max(self.largest_rss_mb, rss)
        job, slot.job = slot.job, None
        slot.done += 1
        if job is not None:
            on_result(job, CompileResult(**result))
        if slot.done >= self.recycle:
            self._restart(slot, "recycle")
        elif rss > self.max_rss_mb:
            self._restart(slot, "memory")

    def _died(self, slot: Slot, on_result: Callable[[Job, CompileResult], None]) -> None:
        code = slot.process.exitcode
        tail = slot.log_tail()
        job = slot.job
        if job is None:
            self._failed_start(slot, f"exit code {code}: {tail}")
            return
        self._restart(slot, "death")
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        oom = (code == -signal.SIGKILL) or any(w in tail for w in OOM_WORDS)
        if slot.memory_limit_mb and code in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS):
            # TensorFlow does not always survive a failed allocation under the address-space
            # limit: it crashes instead of raising. `specc compile` itself has no such limit.
            oom = True
            how += f" under the {slot.memory_limit_mb} MB address-space limit (likely a failed allocation)"
        on_result(job, CompileResult(DEATH, how, tail or "(nothing in the worker log)", oom_like=oom))

    def _restart(self, slot: Slot, reason: str) -> None:
        self.restarts[reason] += 1
        slot.stop(kill=reason in ("hang", "death"))
        slot.start()

    def _failed_start(self, slot: Slot, why: str) -> None:
        self.failed_starts += 1
        if self.failed_starts > 3:
            raise RuntimeError(f"compile workers cannot start ({why}); see {slot.log_path}")
        self._restart(slot, "failed start")


# --- a whole run -----------------------------------------------------------------------------

@dataclass
class Case:
    """One mutant and what happened to it."""

    index: int
    source: str
    file: str
    mutations: list
    stage: str  # "validate" or "compile"
    outcome: str
    error_type: str = ""
    message: str = ""
    where: str = ""
    problems: list = field(default_factory=list)
    oom_like: bool = False
    duplicate_of: Optional[int] = None


def normalized(text: str) -> str:
    """A message with its particulars blanked, so like failures group together."""
    text = re.sub(r"'[^']*'", "'_'", text)
    text = re.sub(r'"[^"]*"', '"_"', text)
    text = re.sub(r"\([^()]*\)", "(_)", text)
    text = re.sub(r"\[[^\[\]]*\]", "[_]", text)
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", text)
    text = re.sub(r"\S*mutants/\S+", "FILE", text)
    # "dense: <Keras message>" and "conv2d: <the same>" are one finding
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9_]*(?: \(_\))?(?=:| expects | cannot take | needs | would )", "LAYER", text)
    return re.sub(r"\s+", " ", text).strip()[:200]


def group_key(case: Case) -> str:
    """Cases with the same key are one finding."""
    if case.outcome in (HANG, DEATH):
        return f"{case.outcome}: {case.error_type}"
    where = case.where.split(" -> ")[0] if case.outcome in (CRASH, VALIDATE_CRASH) else ""
    key = f"{case.outcome}: {case.error_type}: {normalized(case.message)}"
    return f"{key} @ {where}" if where else key


def groups_of(cases: list[Case]) -> list[dict]:
    """Finding groups, largest first, each with its smallest example."""
    by_key: dict[str, list[Case]] = {}
    for case in cases:
        by_key.setdefault(group_key(case), []).append(case)
    out = []
    for key, members in by_key.items():
        best = min(members, key=lambda c: (len(c.mutations), len("; ".join(c.mutations)), c.index))
        out.append({"key": key, "outcome": members[0].outcome, "count": len(members),
                    "sources": dict(Counter(c.source for c in members).most_common()),
                    "example": asdict(best), "indices": [c.index for c in members]})
    return sorted(out, key=lambda g: (ORDER.index(g["outcome"]), -g["count"], g["key"]))


ORDER = [VALIDATE_CRASH, VALIDATE_HANG, VALIDATE_UNPOSITIONED, CRASH, DEATH, HANG, UNPOSITIONED, POSITIONED]


class Run:
    """Generate, validate and compile the mutants; collect cases and counts."""

    def __init__(self, args: argparse.Namespace, sources: list[Source]):
        self.args, self.sources = args, sources
        self.out = Path(args.out)
        self.folder = self.out / "mutants"
        self.mutants: dict[int, Mutant] = {}
        self.paths: dict[int, Path] = {}
        self.cases: list[Case] = []
        self.counts: Counter = Counter()
        self.per_source: dict[str, Counter] = {s.name: Counter() for s in sources}
        self.timing: dict[str, float] = {}
        self.restarts: dict = {}
        self.interrupted = False
        self.train_codes: dict = {}

    # validation

    def validate_all(self) -> list[int]:
        """Generate and validate every mutant; the indices validation accepted."""
        start = time.monotonic()
        accepted = []
        for index in range(self.args.mutants):
            mutant = mutant_number(self.sources, self.args.seed, index)
            self.mutants[index] = mutant
            path = write_mutant(mutant, self.folder)
            self.paths[index] = path
            verdict = check_validation(path, self.args.validate_timeout)
            self.count(mutant, verdict.outcome)
            if verdict.accepted:
                accepted.append(index)
            elif verdict.outcome != "rejected":
                self.cases.append(Case(index, mutant.source.name, str(path), mutant.mutations, "validate",
                                       verdict.outcome, verdict.error_type, verdict.message, verdict.where,
                                       verdict.unpositioned[:5]))
            progress(index + 1, self.args.mutants, "validated", start)
        self.timing["validate_s"] = round(time.monotonic() - start, 1)
        self.timing["validate_ms_per_mutant"] = round(1000 * self.timing["validate_s"] / max(1, self.args.mutants), 2)
        return accepted

    def count(self, mutant: Mutant, outcome: str) -> None:
        self.counts[outcome] += 1
        self.per_source[mutant.source.name][outcome] += 1

    # compiling

    def compile_all(self, accepted: list[int]) -> None:
        start = time.monotonic()
        first_of: dict[str, int] = {}
        jobs, duplicates = [], []
        for index in accepted:
            digest = hashlib.sha1(self.paths[index].read_bytes()).hexdigest()
            if digest in first_of:
                duplicates.append((index, first_of[digest]))  # the same text compiles the same way
                continue
            first_of[digest] = index
            jobs.append(Job(str(index), str(self.paths[index]), self.mutants[index].source.spec_dir))
        results: dict[int, CompileResult] = {}
        done = [0]

        def on_result(job: Job, result: CompileResult) -> None:
            results[int(job.key)] = result
            self.record(int(job.key), result)
            done[0] += 1
            progress(done[0], len(jobs), "compiled", start, self.counts)

        pool = CompilePool(self.args.workers, self.args.timeout, self.out / "workers", self.args.recycle,
                           self.args.max_rss_mb, self.args.memory_limit_mb)
        try:
            pool.run(jobs, on_result)
        except KeyboardInterrupt:
            self.interrupted = True
            print("\ninterrupted: reporting what was compiled", file=sys.stderr)
        for index, original in duplicates:
            if original in results:
                self.record(index, renamed(results[original], self.paths[original], self.paths[index]),
                            duplicate_of=original)
        self.restarts = {**pool.restarts, "largest_worker_rss_mb": pool.largest_rss_mb}
        self.timing["compile_s"] = round(time.monotonic() - start, 1)
        self.timing["compiled_unique"] = len(results)
        self.timing["compile_duplicates"] = len(duplicates)

    def record(self, index: int, result: CompileResult, duplicate_of: Optional[int] = None) -> None:
        mutant = self.mutants[index]
        self.count(mutant, result.outcome)
        if result.outcome != OK:
            self.cases.append(Case(index, mutant.source.name, str(self.paths[index]), mutant.mutations,
                                   "compile", result.outcome, result.error_type, result.message, result.where,
                                   result.problems[:5], result.oom_like, duplicate_of))

    # training a sample

    def train_sample(self, accepted: list[int]) -> None:
        """Train --train-sample of the accepted (and compiled) mutants for one epoch, each in a
        `specc train` process; an exit 70 or a death by signal is a finding."""
        ok = [i for i in accepted if not any(c.index == i for c in self.cases)]
        chosen = sorted(random.Random(f"{self.args.seed}:train").sample(ok, min(self.args.train_sample, len(ok))))
        start, codes = time.monotonic(), Counter()
        for done, index in enumerate(chosen, 1):
            code, tail = train_one(self.paths[index], self.out / "train-runs", self.args.train_timeout)
            codes[code] += 1
            if code in (EXIT_INTERNAL, "timeout") or (isinstance(code, int) and code < 0):
                mutant = self.mutants[index]
                outcome = HANG if code == "timeout" else (DEATH if isinstance(code, int) and code < 0 else CRASH)
                self.cases.append(Case(index, mutant.source.name, str(self.paths[index]), mutant.mutations,
                                       "train", outcome, f"exit {code}", tail))
            progress(done, len(chosen), "trained", start)
        self.timing["train_s"] = round(time.monotonic() - start, 1)
        self.train_codes = {str(k): v for k, v in sorted(codes.items(), key=str)}

    # output

    def save_examples(self, groups: list[dict], per_group: int = 3) -> None:
        folder = self.out / "examples"
        shutil.rmtree(folder, ignore_errors=True)
        for number, group in enumerate(groups, 1):
            members = sorted((c for c in self.cases if group_key(c) == group["key"]),
                             key=lambda c: (len(c.mutations), c.index))
            for case in members[:per_group]:
                target = folder / group["outcome"] / f"g{number:02d}-{Path(case.file).name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                # Comments at the end, so the positions in the message still match the file.
                notes = [f"fuzz: mutant #{case.index} of {self.mutants[case.index].source.path.relative_to(ROOT)}"]
                notes += [f"fuzz: mutation: {m}" for m in case.mutations]
                notes += [f"fuzz: {case.outcome}: {case.error_type}: {case.message}"]
                notes += [f"fuzz: at {case.where}"] if case.where else []
                text = Path(case.file).read_text(encoding="utf-8")
                target.write_text(text + "".join(f"# {line}\n" for note in notes for line in note.splitlines()),
                                  encoding="utf-8")
                copy_plugins(self.mutants[case.index].source, target.parent)

    def report(self, total_s: float) -> dict:
        groups = groups_of(self.cases)
        self.save_examples(groups)  # before the mutant files are removed
        return {
            "settings": {k: v for k, v in vars(self.args).items() if k != "show"},
            "sources": [str(s.path.relative_to(ROOT)) for s in self.sources],
            "interrupted": self.interrupted,
            "counts": summary_counts(self.counts, len(self.mutants), self.args.no_compile),
            "by_outcome": dict(self.counts),
            "per_source": {name: dict(c) for name, c in self.per_source.items()},
            "timing": {**self.timing, "total_s": round(total_s, 1)},
            "worker_restarts": self.restarts,
            "train_exit_codes": self.train_codes,
            "groups": groups,
            "cases": [asdict(c) for c in sorted(self.cases, key=lambda c: c.index)],
        }


def train_one(path: Path, runs: Path, timeout: float) -> tuple[Any, str]:
    """`specc train PATH` for one epoch in its own process: (exit code or "timeout", the last
    line of its stderr)."""
    import subprocess

    command = [sys.executable, "-m", "specc", "train", path.name, "--runs-dir", str(runs.resolve()), "--quiet",
               "--set", "train.epochs=1"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(command, cwd=path.parent, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "timeout", f"training took more than {timeout} s"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, (lines[-1][:300] if lines else "")


def renamed(result: CompileResult, old: Path, new: Path) -> CompileResult:
    """A result of one file told of an identical file (its messages name the file)."""
    def swap(text: str) -> str:
        return text.replace(str(old), str(new))
    return CompileResult(result.outcome, result.error_type, swap(result.message), result.where,
                         [swap(p) for p in result.problems], result.oom_like, result.seconds)


def copy_plugins(source: Source, folder: Path) -> None:
    """The plugin modules beside a source spec, so `specc compile EXAMPLE` finds them too."""
    if source.data.get("plugins"):
        for module in source.path.parent.glob("*.py"):
            if not (folder / module.name).exists():
                shutil.copy(module, folder / module.name)


def progress(done: int, total: int, what: str, start: float, counts: Optional[Counter] = None) -> None:
    """A progress line on stderr, about every 10%."""
    step = max(1, total // 10)
    if done % step and done != total:
        return
    elapsed = time.monotonic() - start
    extra = ""
    if counts is not None:
        extra = " (" + ", ".join(f"{k} {counts[k]}" for k in (OK, POSITIONED, UNPOSITIONED, CRASH, HANG, DEATH)
                                 if counts[k]) + ")"
    print(f"{what} {done}/{total} in {elapsed:.0f}s{extra}", file=sys.stderr, flush=True)


def summary_counts(counts: Counter, mutants: int, no_compile: bool) -> dict:
    rejected = counts["rejected"] + counts[VALIDATE_UNPOSITIONED]
    out = {
        "mutants": mutants,
        "validate_rejected": rejected,
        "validate_accepted": counts["accepted"],
        "validate_crashes": counts[VALIDATE_CRASH],
        "validate_hangs": counts[VALIDATE_HANG],
        "validate_unpositioned_errors": counts[VALIDATE_UNPOSITIONED],
    }
    if not no_compile:
        compiled = sum(counts[k] for k in (OK, POSITIONED, UNPOSITIONED, CRASH, HANG, DEATH))
        out.update({"compiled": compiled, "compile_ok": counts[OK], "compile_positioned": counts[POSITIONED],
                    "compile_unpositioned": counts[UNPOSITIONED], "compile_crashes": counts[CRASH],
                    "compile_hangs": counts[HANG], "compile_worker_deaths": counts[DEATH]})
    return out


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


def summary_table(report: dict) -> str:
    """The table printed at the end of a run."""
    c, t = report["counts"], report["timing"]
    accepted = c["validate_accepted"]
    rows = [("mutants", c["mutants"], ""),
            ("validate-rejected", c["validate_rejected"], percent(c["validate_rejected"], c["mutants"])),
            ("validate-accepted", accepted, percent(accepted, c["mutants"]))]
    if "compiled" in c:
        only_compile = c["compiled"] - c["compile_ok"]
        rows += [("  compile ok", c["compile_ok"], percent(c["compile_ok"], accepted)),
                 ("  rejected by compile only (all)", only_compile, percent(only_compile, accepted) + " (goal < 1%)"),
                 ("    positioned rejections", c["compile_positioned"], percent(c["compile_positioned"], accepted)),
                 ("    unpositioned rejections", c["compile_unpositioned"],
                  percent(c["compile_unpositioned"], accepted) + " (goal 0)"),
                 ("    crashes (exit 70)", c["compile_crashes"], "(goal 0)")]
        crash_kinds = Counter(case["error_type"] for case in report["cases"] if case["outcome"] == CRASH)
        rows += [(f"      {kind}", n, "") for kind, n in crash_kinds.most_common()]
        oom = sum(1 for case in report["cases"] if case["outcome"] in (CRASH, DEATH) and case["oom_like"])
        rows += [("    hangs (> timeout)", c["compile_hangs"], "(goal 0)"),
                 ("    worker deaths", c["compile_worker_deaths"], ""),
                 ("    out-of-memory-like (crash or death)", oom, "")]
    rows += [("validate crashes", c["validate_crashes"], "(goal 0)"),
             ("validate hangs", c["validate_hangs"], "(goal 0)"),
             ("validate errors without position", c["validate_unpositioned_errors"], "(goal 0)")]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{label:<{width}}{value:>7}  {note}".rstrip() for label, value, note in rows]
    timing = f"total time {t['total_s']:.1f} s: validate {t['validate_s']:.1f} s ({t['validate_ms_per_mutant']} ms/mutant)"
    if "compile_s" in t:
        timing += (f", compile {t['compile_s']:.1f} s ({t['compiled_unique']} unique compiles, "
                   f"{t['compile_duplicates']} duplicates reused)")
    lines.append(timing)
    return "\n".join(lines)


def sources_table(report: dict) -> str:
    """Per bundled spec: how many mutants validation accepted and compile still refused."""
    failed = (POSITIONED, UNPOSITIONED, CRASH, HANG, DEATH)
    lines = [f"{'source':<24}{'mutants':>8}{'accepted':>9}{'compile-only':>13}"]
    for name, counts in report["per_source"].items():
        accepted = counts.get("accepted", 0)
        only = sum(counts.get(k, 0) for k in failed)
        total = sum(v for k, v in counts.items() if k not in (OK,) + failed)
        lines.append(f"{name:<24}{total:>8}{accepted:>9}{only:>7} {percent(only, accepted):>6}")
    return "\n".join(lines)


def groups_table(report: dict, limit: int = 40) -> str:
    """The findings, one line per group, with the smallest example."""
    lines = []
    for group in report["groups"][:limit]:
        example = group["example"]
        lines.append(f"{group['count']:>5}  {group['key']}")
        lines.append(f"       e.g. #{example['index']} {example['source']}: {'; '.join(example['mutations'])}")
    if len(report["groups"]) > limit:
        lines.append(f"  ... {len(report['groups']) - limit} more groups in report.json")
    return "\n".join(lines)


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutants", type=int, default=10000, help="how many mutants (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="mutant #i depends only on the seed and i")
    parser.add_argument("--workers", type=int, default=2, help="compile worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one compile may take (default 60)")
    parser.add_argument("--validate-timeout", type=float, default=10.0, help="seconds one validation may take")
    parser.add_argument("--out", default="fuzz-out", help="folder for report.json and examples/")
    parser.add_argument("--no-compile", action="store_true", help="validate only")
    parser.add_argument("--recycle", type=int, default=300, help="replace a worker after this many compiles")
    parser.add_argument("--max-rss-mb", type=int, default=3000, help="replace a worker grown past this")
    parser.add_argument("--memory-limit-mb", type=int, default=4096,
                        help="address-space limit of a worker (0: none); TensorFlow itself takes ~2000")
    parser.add_argument("--nice", type=int, default=10, help="lower this process's priority by this much")
    parser.add_argument("--keep-mutants", action="store_true", help="keep every mutant file in OUT/mutants")
    parser.add_argument("--train-sample", type=int, default=0, metavar="N",
                        help="train N of the accepted mutants for 1 epoch (`specc train`); exit 70 is a finding")
    parser.add_argument("--train-timeout", type=float, default=600.0, help="seconds one training may take")
    parser.add_argument("--show", type=int, metavar="INDEX", help="print mutant INDEX (its edits and YAML) and exit")
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    sources = load_sources()
    if args.show is not None:
        mutant = mutant_number(sources, args.seed, args.show)
        print(f"# mutant #{args.show} of {mutant.source.path.relative_to(ROOT)}")
        print("".join(f"# {m}\n" for m in mutant.mutations) + yaml_text(mutant.data), end="")
        return 0
    if args.nice:
        os.nice(args.nice)
    start = time.monotonic()
    run = Run(args, sources)
    shutil.rmtree(run.folder, ignore_errors=True)
    accepted = run.validate_all()
    if not args.no_compile and accepted:
        run.compile_all(accepted)
    if args.train_sample and accepted:
        run.train_sample(accepted)
    report = run.report(time.monotonic() - start)
    if not args.keep_mutants:
        shutil.rmtree(run.folder, ignore_errors=True)
    (run.out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(summary_table(report))
    if report["train_exit_codes"]:
        print(f"trained 1 epoch: exit codes {report['train_exit_codes']} in {report['timing']['train_s']} s")
    if not args.no_compile:
        print()
        print(sources_table(report))
    if report["groups"]:
        print("\nfindings (count, kind, smallest example):")
        print(groups_table(report))
    print(f"\nreport: {run.out / 'report.json'}; examples: {run.out / 'examples'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
