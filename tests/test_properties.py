"""Property tests: validation never crashes, whatever the spec holds.

Valid example specs are mutated (a key deleted, renamed or inserted, a value replaced by one
of another type, a value wrapped in a list) and `validate` must return a list of problems,
each with a path and a message, and never raise. Random bytes given to `problems_of` must
come back as problems with exit code 1 or 2. Deterministic: hypothesis is derandomized.
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.api import problems_of
from specc.errors import Position, Problem, SpecLoadError
from specc.load import Document, load_spec, parse_text
from specc.validate import validate

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted((ROOT / "specs").glob("*.yaml"))
SPECS = [load_spec(path).data for path in SPEC_FILES]
TEXTS = [path.read_text(encoding="utf-8") for path in SPEC_FILES]

SETTINGS = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- random JSON-like values -----------------------------------------------------------------

# Words the spec format uses, so that random data reaches past the first unknown key.
NAMES = st.sampled_from([
    "auto", "none", "dense", "units", "x", "from", "$filters", "$x", "layers", "nodes", "inputs",
    "outputs", "blocks", "params", "head", "layer", "bidirectional", "time_distributed", "lstm",
    "residual", "activation", "kernel_regularizer", "l2", "type", "multiclass", "binary", "regression",
    "gan", "autoencoder", "classes", "encoding", "outliers", "softmax", "sigmoid", "output", "",
    "split", "validation", "stratify", "early_stopping", "monitor", "val_loss", "strategy", "size",
    "full_batch", "stochastic", "formats", "litert", "quantize", "int8", "devices", "precision",
    "mirrored", "mixed_float16", "cpu", "target", "loss", "metrics", "optimizer", "adam", "schedule",
    "encoder", "generator", "source", "builtin", "iris", "preprocessing", "loss_weights",
])
KEYS = st.one_of(NAMES, st.text(min_size=0, max_size=12))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True), NAMES, st.text(max_size=20),
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4)),
                    max_leaves=12)


def kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# --- mutations -------------------------------------------------------------------------------

def paths(node, path=()):
    """Every path in a tree (the root included)."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, path + (index,))


def get(node, path):
    for part in path:
        node = node[part]
    return node


def copy_tree(node):
    if isinstance(node, dict):
        return {k: copy_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [copy_tree(v) for v in node]
    return node


@st.composite
def mutated_spec(draw):
    """A valid example spec with one to three random edits."""
    data = copy_tree(draw(st.sampled_from(SPECS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        mutate(draw, data)
    return data


def mutate(draw, data: dict) -> None:
    all_paths = list(paths(data))
    inner = [p for p in all_paths if p]
    mappings = [p for p in all_paths if isinstance(get(data, p), dict)]
    operation = draw(st.sampled_from(["delete", "rename", "replace", "insert", "wrap"]))
    if operation == "insert" or not inner:
        target = get(data, draw(st.sampled_from(mappings)))
        target[draw(KEYS)] = draw(JSON)
        return
    path = draw(st.sampled_from(inner))
    parent, last = get(data, path[:-1]), path[-1]
    if operation == "delete":
        del parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        value = parent.pop(last)
        parent[draw(KEYS)] = value
    elif operation == "replace":
        old = parent[last]
        parent[last] = draw(JSON.filter(lambda v: kind(v) != kind(old)))
    else:  # wrap (also a rename of a list index)
        parent[last] = [parent[last]]


def as_document(data: dict, name: str = "mutated.yaml"):
    """The data as a Document with positions, via YAML text; None if it does not survive YAML."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    try:
        parsed, positions, key_positions = parse_text(text, name)
    except SpecLoadError:
        return None
    return Document(parsed, positions, key_positions, [name])


def assert_problems(problems, positioned: bool) -> None:
    assert isinstance(problems, list)
    for problem in problems:
        assert isinstance(problem, Problem)
        assert isinstance(problem.path, tuple)
        assert isinstance(problem.message, str) and problem.message
        assert problem.severity in ("error", "warning")
        assert problem.hint is None or isinstance(problem.hint, str)
        if positioned:
            assert isinstance(problem.position, Position)
        problem.format()
        problem.to_json()


# --- properties ------------------------------------------------------------------------------

@SETTINGS
@given(mutated_spec())
def test_validate_never_raises_on_mutated_specs(data):
    doc = as_document(data)
    if doc is not None:
        assert_problems(validate(doc), positioned=True)


@SETTINGS
@given(mutated_spec())
def test_validate_never_raises_without_positions(data):
    """A Document built by hand (no positions at all) works too."""
    assert_problems(validate(Document(data, {}, {}, ["built.yaml"])), positioned=False)


@SETTINGS
@given(st.sampled_from(SPECS), st.sampled_from(["data", "task", "model", "loss", "metrics", "optimizer",
                                               "schedule", "batch", "train", "device", "export"]), JSON)
def test_any_value_for_a_whole_section(spec, section, value):
    data = copy_tree(spec)
    data[section] = value
    assert_problems(validate(Document(data, {}, {}, ["built.yaml"])), positioned=False)


@SETTINGS
@given(st.sampled_from(SPECS), st.sampled_from(["data", "task", "model"]))
def test_a_missing_section_is_one_error(spec, section):
    data = copy_tree(spec)
    del data[section]
    problems = validate(Document(data, {}, {}, ["built.yaml"]))
    assert [p.message for p in problems if p.severity == "error"] == [f"missing required key '{section}'"]


def test_the_examples_start_valid():
    """Sanity: the examples are valid, so the properties above start from known-good data."""
    for data in SPECS:
        assert validate(Document(data, {}, {}, ["x"])) == []


@SETTINGS
@given(st.binary(max_size=400))
def test_problems_of_random_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("bytes") / "spec.yaml"
    path.write_bytes(raw)
    problems, code = problems_of(str(path))
    assert code in (1, 2)
    assert problems and any(p.severity == "error" for p in problems)
    assert_problems(problems, positioned=False)


@st.composite
def damaged_text(draw):
    """An example spec's text with a slice cut out and random text put in."""
    text = draw(st.sampled_from(TEXTS))
    start = draw(st.integers(min_value=0, max_value=len(text)))
    end = draw(st.integers(min_value=start, max_value=min(len(text), start + 40)))
    insert = draw(st.one_of(st.text(max_size=20), st.sampled_from([":", "- ", "{", "]", "\t", "  ", "\n", "&a", "*a",
                                                                 "!!python/object", "<<: ", ".nan", "---\n"])))
    return text[:start] + insert + text[end:]


@SETTINGS
@given(damaged_text())
def test_problems_of_damaged_spec_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("text") / "spec.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if _encodable(text) else path.write_bytes(b"")
    problems, code = problems_of(str(path))
    assert code in (0, 1, 2)
    assert (code == 0) == (not any(p.severity == "error" for p in problems))
    assert_problems(problems, positioned=False)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_nan_in_a_setting_is_reported_not_raised():
    data = copy_tree(SPECS[0])
    data["train"] = {"epochs": math.nan}
    problems = validate(Document(data, {}, {}, ["x"]))
    assert any(p.code == "not-finite" for p in problems)
