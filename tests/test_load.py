"""Tests for specc.load: YAML/JSON reading, positions, bad files, extends, --set overrides."""
import math
import os
import subprocess
import sys
import time

import pytest

from specc.errors import Position, SpecLoadError, UsageError
from specc.load import Document, apply_overrides, load_spec, parse_text

SPEC = """\
specc: 1
name: demo
model:
  layers:
    - dense: {units: 64, activation: relu}
    - dropout: 0.5
    - dense:
        units: 10
optimizer:
  adam:
    learning_rate: 1e-3
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path, *overrides):
    with pytest.raises(SpecLoadError) as info:
        load_spec(path, overrides)
    return info.value


def parse_error(text, name="x.yaml"):
    with pytest.raises(SpecLoadError) as info:
        parse_text(text, name)
    return info.value


def at(name, line, column):
    return Position(name, line, column)


# ---------------------------------------------------------------- positions


def test_positions_of_nested_values_and_keys():
    data, pos, keys = parse_text(SPEC, "s.yaml")
    assert data["model"]["layers"][2] == {"dense": {"units": 10}}
    assert pos[("model", "layers", 2, "dense", "units")] == at("s.yaml", 8, 16)
    assert keys[("model", "layers", 2, "dense", "units")] == at("s.yaml", 8, 9)
    assert pos[("optimizer", "adam", "learning_rate")] == at("s.yaml", 11, 20)
    assert keys[("optimizer",)] == at("s.yaml", 9, 1)
    assert pos[("name",)] == at("s.yaml", 2, 7)


def test_positions_of_list_items_and_flow_mappings():
    _, pos, keys = parse_text(SPEC, "s.yaml")
    assert pos[("model", "layers", 0)] == at("s.yaml", 5, 7)
    assert pos[("model", "layers", 1, "dropout")] == at("s.yaml", 6, 16)
    assert pos[("model", "layers", 0, "dense", "activation")] == at("s.yaml", 5, 38)
    assert keys[("model", "layers", 0, "dense", "units")] == at("s.yaml", 5, 15)
    assert ("model", "layers", 0) not in keys


def test_document_position_of_walks_up(tmp_path):
    path = write(tmp_path, "s.yaml", SPEC)
    doc = load_spec(path)
    shown = str(path)
    assert doc.position_of(("model", "layers", 2, "dense", "units")) == at(shown, 8, 16)
    assert doc.position_of(["model", "layers", 2, "dense", "nope", "deeper"]) == at(shown, 8, 9)
    assert doc.position_of(("missing",)) == doc.positions[()]
    assert doc.key_position_of(("model", "layers", 2)) == at(shown, 7, 7)
    assert doc.key_position_of(("model",)) == at(shown, 3, 1)
    assert doc.files == [shown]


def test_relative_path_stays_relative(tmp_path, monkeypatch):
    write(tmp_path, "specs/x.yaml", "specc: 1\nname: [\n")
    monkeypatch.chdir(tmp_path)
    err = load_error("specs/x.yaml")
    assert str(err.position).startswith("specs/x.yaml:")


def test_json_file_has_positions(tmp_path):
    text = '{\n\t"specc": 1,\n  "model": {"layers": [{"dense": {"units": 3}}]}\n}\n'
    path = write(tmp_path, "s.json", text)
    doc = load_spec(path)
    assert doc.data["model"]["layers"][0]["dense"]["units"] == 3
    assert doc.positions[("model", "layers", 0, "dense", "units")] == at(str(path), 3, 44)
    assert doc.key_positions[("specc",)] == at(str(path), 2, 2)


def test_json_syntax_error_is_worded_for_json(tmp_path):
    path = write(tmp_path, "s.json", '{"specc": 1,\n "name": }\n')
    err = load_error(path)
    assert "JSON syntax" in err.message
    assert (err.position.line, err.position.column) == (2, 10)


def test_json_surrogate_pairs_are_joined():
    data, _, _ = parse_text('{"name": "\\ud83d\\ude00"}', "s.json")
    assert data["name"] == "\U0001F600"


# ---------------------------------------------------------------- scalars


def test_yaml_1_2_scalars():
    text = (
        "a: 1e-3\nb: 1E5\nc: -2.5e-4\nd: on\ne: yes\nf: n\ng: TRUE\nh: False\ni: ~\nj:\n"
        "k: null\nl: 0x1F\nm: 0o17\nn: .inf\no: -.inf\np: .nan\nq: '5'\nr: 1_000\ns: 2024-01-01\n"
        "t: 12\nu: 3.\n"
    )
    data, _, _ = parse_text(text, "x.yaml")
    assert data["a"] == 0.001 and isinstance(data["a"], float)
    assert data["b"] == 1e5 and isinstance(data["b"], float)
    assert data["c"] == -2.5e-4
    assert (data["d"], data["e"], data["f"]) == ("on", "yes", "n")
    assert data["g"] is True and data["h"] is False
    assert data["i"] is None and data["j"] is None and data["k"] is None
    assert (data["l"], data["m"]) == (31, 15)
    assert data["n"] == math.inf and data["o"] == -math.inf and math.isnan(data["p"])
    assert (data["q"], data["r"], data["s"]) == ("5", "1_000", "2024-01-01")
    assert data["t"] == 12 and type(data["t"]) is int
    assert data["u"] == 3.0 and isinstance(data["u"], float)


def test_standard_tags_are_accepted():
    data, _, _ = parse_text("a: !!str 5\nb: !!float 3\nc: !!int '7'\n", "x.yaml")
    assert data == {"a": "5", "b": 3.0, "c": 7}


def test_python_tag_refused():
    err = parse_error("a: !!python/object/apply:os.system ['echo hi']\n")
    assert "!!python/object/apply:os.system" in err.message
    assert (err.position.line, err.position.column) == (1, 4)


def test_custom_tag_refused():
    err = parse_error("a:\n  b: !secret x\n")
    assert "!secret" in err.message
    assert (err.position.line, err.position.column) == (2, 6)


# ---------------------------------------------------------------- keys


def test_duplicate_key_names_both_lines():
    err = parse_error("model:\n  layers: []\n  x: 1\n  units: 3\n  units: 4\n")
    assert err.message == "duplicate key 'units' (first at line 4)"
    assert err.position == at("x.yaml", 5, 3)


def test_non_string_keys_refused():
    err = parse_error("a:\n  1: x\n")
    assert "key must be a string" in err.message and err.position == at("x.yaml", 2, 3)
    err = parse_error("? {a: 1}\n: x\n")
    assert "found a mapping" in err.message


def test_quoted_number_key_is_fine():
    data, _, _ = parse_text('"1": x\n', "x.yaml")
    assert data == {"1": "x"}


def test_merge_key_refused():
    err = parse_error("base: &b {a: 1}\nother:\n  <<: *b\n")
    assert "merge keys" in err.message and err.position == at("x.yaml", 3, 3)


# ---------------------------------------------------------------- aliases


def test_aliases_are_expanded():
    data, pos, _ = parse_text("act: &act relu\nx: {activation: *act}\nl: &l [1, 2]\nm: *l\n", "x.yaml")
    assert data["x"]["activation"] == "relu" and data["m"] == [1, 2]
    data["m"].append(3)
    assert data["l"] == [1, 2]  # expanded copies, not shared objects
    assert pos[("m", 0)] == at("x.yaml", 3, 8)


def test_alias_bomb_refused_fast():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
        prev = name
    start = time.perf_counter()
    err = parse_error("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 1.0
    assert "too many nodes after expanding aliases (limit 100000); a YAML alias bomb?" == err.message


def test_duplicate_anchor_refused():
    err = parse_error("a: &x 1\nb: &x 2\n")
    assert "duplicate anchor 'x' (first at line 1)" in err.message and err.position == at("x.yaml", 2, 4)


def test_recursive_alias_refused():
    err = parse_error("a: &x [1, *x]\n")
    assert "recursive alias" in err.message


@pytest.mark.parametrize("text", ["a: " + "[" * 300 + "]" * 300, "a: " + "[\n " * 5000 + "]" * 5000])
def test_deep_nesting_refused(text):
    err = parse_error(text)
    assert "nested too deeply" in err.message


def test_huge_integer_refused():
    err = parse_error("a: " + "9" * 5000 + "\n")
    assert "too long" in err.message and err.position == at("x.yaml", 1, 4)


def test_bad_standard_tag_value():
    assert "!!int cannot read 'x'" in parse_error("a: !!int x\n").message


# ---------------------------------------------------------------- bad files


def test_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as info:
        load_spec("x.yaml")
    assert info.value.message == "no such file: x.yaml"


def test_directory(tmp_path):
    with pytest.raises(UsageError) as info:
        load_spec(tmp_path)
    assert "is a directory" in info.value.message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(tmp_path):
    path = write(tmp_path, "s.yaml", SPEC)
    path.chmod(0)
    with pytest.raises(UsageError) as info:
        load_spec(path)
    assert "permission denied" in info.value.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n  # and another\n", "---\n", "null\n"])
def test_empty_spec(tmp_path, text):
    err = load_error(write(tmp_path, "s.yaml", text))
    assert err.message == "the spec is empty"


def test_large_file_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (6 * 1024 * 1024) + b"\nspecc: 1\n")
    start = time.perf_counter()
    err = load_error(path)
    assert time.perf_counter() - start < 1.0
    assert "too large" in err.message and "5 MiB" in err.message


def test_binary_file_refused(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert load_error(path).message == "looks like a binary file, not YAML or JSON"


def test_utf16_file_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes("specc: 1\n".encode("utf-16"))
    assert "UTF-16" in load_error(path).message


def test_non_utf8_names_offset_and_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"specc: 1\nname: caf\xe9\n")
    err = load_error(path)
    assert "byte 0xe9 at offset 18 (line 2)" in err.message
    assert (err.position.line, err.position.column) == (2, 10)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbfspecc: 1\n")
    doc = load_spec(path)
    assert doc.data == {"specc": 1} and doc.key_positions[("specc",)] == at(str(path), 1, 1)


def test_yaml_syntax_error_position(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "specs/x.yaml", "specc: 1\nmodel:\n  a: b: c\n")
    err = load_error("specs/x.yaml")
    assert err.format() == "specs/x.yaml:3:7: error: YAML syntax: mapping values are not allowed here"


def test_tab_indentation_gets_a_hint():
    err = parse_error("model:\n\tlayers: []\n")
    assert err.position == at("x.yaml", 2, 1) and "tabs" in err.hint


def test_two_documents_refused():
    err = parse_error("specc: 1\n---\nname: x\n")
    assert "more than one YAML document" in err.message and err.position.line == 2


@pytest.mark.parametrize("text, found", [("- a\n- b\n", "a list"), ("hello\n", "a string"), ("42\n", "a number")])
def test_top_level_must_be_a_mapping(text, found):
    err = parse_error(text)
    assert err.message == f"the spec must be a mapping of sections (specc:, name:, model:, ...), found {found}"


def test_control_character_refused():
    err = parse_error("a: 1\nb: x\x07y\n")
    assert "U+0007" in err.message and err.position == at("x.yaml", 2, 5)


# ---------------------------------------------------------------- extends


def test_extends_single(tmp_path):
    write(tmp_path, "base.yaml", "specc: 1\ntrain:\n  epochs: 10\n  batch_size: 32\nmetrics: [accuracy]\n")
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\nname: x\ntrain:\n  epochs: 3\nmetrics: [auc]\n")
    doc = load_spec(spec)
    assert doc.data == {
        "specc": 1, "train": {"epochs": 3, "batch_size": 32}, "metrics": ["auc"], "name": "x",
    }
    assert "extends" not in doc.data and doc.extends == ["base.yaml"]
    assert doc.files == [str(tmp_path / "base.yaml"), str(spec)]


def test_extends_positions_follow_values(tmp_path):
    base = write(tmp_path, "base.yaml", "specc: 1\ntrain:\n  epochs: 10\n  batch_size: 32\nmetrics: [accuracy, auc]\n")
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\ntrain:\n  epochs: 3\nmetrics: [mse]\n")
    doc = load_spec(spec)
    assert doc.positions[("train", "batch_size")] == at(str(base), 4, 15)
    assert doc.key_positions[("specc",)] == at(str(base), 1, 1)
    assert doc.positions[("train", "epochs")] == at(str(spec), 3, 11)
    assert doc.positions[("metrics", 0)] == at(str(spec), 4, 11)
    assert ("metrics", 1) not in doc.positions  # the base list was replaced, not merged


def test_extends_list_later_wins(tmp_path):
    write(tmp_path, "a.yaml", "specc: 1\ntrain: {epochs: 1, batch_size: 8}\n")
    write(tmp_path, "b.yaml", "train: {epochs: 2}\nname: b\n")
    spec = write(tmp_path, "s.yaml", "extends: [a.yaml, b.yaml]\nname: s\n")
    doc = load_spec(spec)
    assert doc.data == {"specc": 1, "train": {"epochs": 2, "batch_size": 8}, "name": "s"}
    assert doc.extends == ["a.yaml", "b.yaml"]
    assert [os.path.basename(f) for f in doc.files] == ["a.yaml", "b.yaml", "s.yaml"]


def test_extends_nested_and_relative_to_the_naming_file(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # the project: specs/ and common/
    write(tmp_path, "common/root.yaml", "specc: 1\ntrain: {epochs: 1, shuffle: true}\n")
    write(tmp_path, "common/mid.yaml", "extends: root.yaml\ntrain: {epochs: 2}\n")
    write(tmp_path, "specs/s.yaml", "extends: ../common/mid.yaml\nname: s\n")
    monkeypatch.chdir(tmp_path)
    doc = load_spec("specs/s.yaml")
    assert doc.data == {"specc": 1, "train": {"epochs": 2, "shuffle": True}, "name": "s"}
    assert doc.files == ["common/root.yaml", "common/mid.yaml", "specs/s.yaml"]
    assert doc.positions[("train", "shuffle")] == at("common/root.yaml", 2, 29)


def test_extends_may_not_leave_the_project(tmp_path, monkeypatch):
    """Without a git repository the project is the spec's folder: a base above it is refused."""
    write(tmp_path, "common/root.yaml", "specc: 1\n")
    write(tmp_path, "specs/s.yaml", "extends: ../common/root.yaml\nname: s\n")
    monkeypatch.chdir(tmp_path)
    err = load_error("specs/s.yaml")
    assert err.message.startswith("extends: ../common/root.yaml is outside the project")
    assert err.position == at("specs/s.yaml", 1, 10)


def test_extends_replaces_mapping_with_scalar(tmp_path):
    write(tmp_path, "base.yaml", "optimizer: {adam: {learning_rate: 0.1}}\n")
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\noptimizer: sgd\n")
    doc = load_spec(spec)
    assert doc.data == {"optimizer": "sgd"}
    assert ("optimizer", "adam") not in doc.positions


# A base spec that names one form of each choice, and ordinary mappings around them.
FORMS_BASE = """\
specc: 1
name: base
data:
  source: {builtin: digits}
  split: {validation: 0.1, test: 0.2}
optimizer: {adam: {learning_rate: 0.001, beta_1: 0.8}}
schedule: {cosine_decay: {alpha: 0.1}}
loss: {huber: {delta: 2.0}}
model:
  nodes:
    hidden: {dense: {units: 8}, from: x, name: h}
train: {epochs: 10, early_stopping: {monitor: val_loss, patience: 3}}
"""


def test_extends_switches_a_choice_of_forms(tmp_path):
    """Naming another form replaces the base's: one source, optimizer, schedule, loss, layer."""
    write(tmp_path, "base.yaml", FORMS_BASE)
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\n"
                 "data:\n  source: {csv: {path: data/x.csv, label: y}}\n"
                 "optimizer: {sgd: {momentum: 0.9}}\n"
                 "schedule: {exponential_decay: {decay_rate: 0.5}}\n"
                 "loss: {mean_squared_error: {}}\n"
                 "model:\n  nodes:\n    hidden: {conv1d: {filters: 4, kernel_size: 3}}\n")
    doc = load_spec(spec)
    assert doc.data["data"] == {"source": {"csv": {"path": "data/x.csv", "label": "y"}},
                                "split": {"validation": 0.1, "test": 0.2}}
    assert doc.data["optimizer"] == {"sgd": {"momentum": 0.9}}
    assert doc.data["schedule"] == {"exponential_decay": {"decay_rate": 0.5}}
    assert doc.data["loss"] == {"mean_squared_error": {}}
    # a graph node's other keys are not forms: `from` and `name` stay
    assert doc.data["model"]["nodes"]["hidden"] == {"conv1d": {"filters": 4, "kernel_size": 3},
                                                    "from": "x", "name": "h"}
    assert ("data", "source", "builtin") not in doc.positions
    assert ("optimizer", "adam", "beta_1") not in doc.positions


def test_extends_still_merges_ordinary_mappings_and_the_same_form(tmp_path):
    write(tmp_path, "base.yaml", FORMS_BASE)
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\n"
                 "data:\n  split: {test: 0.3}\n"
                 "optimizer: {adam: {learning_rate: 0.01}}\n"
                 "model:\n  nodes:\n    hidden: {dense: {activation: relu}}\n"
                 "train: {early_stopping: {patience: 5}}\n")
    doc = load_spec(spec)
    assert doc.data["data"] == {"source": {"builtin": "digits"}, "split": {"validation": 0.1, "test": 0.3}}
    assert doc.data["optimizer"] == {"adam": {"learning_rate": 0.01, "beta_1": 0.8}}
    assert doc.data["model"]["nodes"]["hidden"] == {"dense": {"units": 8, "activation": "relu"},
                                                    "from": "x", "name": "h"}
    assert doc.data["train"] == {"epochs": 10, "early_stopping": {"monitor": "val_loss", "patience": 5}}
    assert doc.data["schedule"] == {"cosine_decay": {"alpha": 0.1}}


def test_extends_switches_forms_of_gan_optimizers_and_data_select(tmp_path):
    """A GAN's optimizer pair merges by part, each part switching its own optimizer; a
    per-output loss mapping merges by output; data.select is a choice of classes or exclude."""
    write(tmp_path, "base.yaml", "optimizer:\n  generator: {adam: {learning_rate: 0.001}}\n"
                                 "  discriminator: {adam: {learning_rate: 0.002}}\n"
                                 "loss: {a: mse, b: {huber: {delta: 1.0}}}\n"
                                 "data:\n  source: {builtin: digits}\n  select: {classes: [1, 2]}\n")
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\noptimizer:\n  generator: {sgd: {}}\n"
                                     "loss: {b: {huber: {delta: 3.0}}}\n"
                                     "data:\n  select: {exclude: [0]}\n")
    doc = load_spec(spec)
    assert doc.data["optimizer"] == {"generator": {"sgd": {}}, "discriminator": {"adam": {"learning_rate": 0.002}}}
    assert doc.data["loss"] == {"a": "mse", "b": {"huber": {"delta": 3.0}}}
    assert doc.data["data"] == {"source": {"builtin": "digits"}, "select": {"exclude": [0]}}


def test_extends_switching_the_source_validates(tmp_path):
    """The issue's case: a builtin-data base extended by a CSV spec is one valid spec."""
    from specc.validate import validate

    write(tmp_path, "data/x.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n")
    write(tmp_path, "base.yaml", "specc: 1\nname: base\ndata:\n  source: {builtin: iris}\n"
                                 "task: {type: binary}\nmodel:\n  inputs: {x: [2]}\n  layers:\n"
                                 "    - dense: {units: 4}\n")
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\ndata:\n  source: {csv: {path: data/x.csv, label: y}}\n")
    problems = [p for p in validate(load_spec(spec)) if p.severity == "error"]
    assert problems == []


def test_extends_cycle(tmp_path, monkeypatch):
    write(tmp_path, "a.yaml", "extends: b.yaml\nspecc: 1\n")
    write(tmp_path, "b.yaml", "extends: [a.yaml]\n")
    monkeypatch.chdir(tmp_path)
    err = load_error("a.yaml")
    assert err.message == "extends cycle: a.yaml -> b.yaml -> a.yaml"
    assert err.position == at("b.yaml", 1, 11)


def test_extends_self(tmp_path, monkeypatch):
    write(tmp_path, "a.yaml", "specc: 1\nextends: a.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert load_error("a.yaml").message == "extends cycle: a.yaml -> a.yaml"


def test_extends_diamond_is_not_a_cycle(tmp_path):
    write(tmp_path, "d.yaml", "specc: 1\n")
    write(tmp_path, "b.yaml", "extends: d.yaml\nb: 1\n")
    write(tmp_path, "c.yaml", "extends: d.yaml\nc: 1\n")
    doc = load_spec(write(tmp_path, "a.yaml", "extends: [b.yaml, c.yaml]\n"))
    assert doc.data == {"specc": 1, "b": 1, "c": 1}
    assert [os.path.basename(f) for f in doc.files] == ["d.yaml", "b.yaml", "c.yaml", "a.yaml"]


def test_extends_missing_base(tmp_path, monkeypatch):
    write(tmp_path, "s.yaml", "specc: 1\nextends:\n  - nope.yaml\n")
    monkeypatch.chdir(tmp_path)
    err = load_error("s.yaml")
    assert "no such file: nope.yaml" in err.message
    assert err.position == at("s.yaml", 3, 5)


def test_extends_errors_in_base_point_at_base(tmp_path, monkeypatch):
    write(tmp_path, "base.yaml", "train:\n  epochs: 1\n  epochs: 2\n")
    write(tmp_path, "s.yaml", "extends: base.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert load_error("s.yaml").position == at("base.yaml", 3, 3)


def test_extends_must_be_names(tmp_path):
    err = load_error(write(tmp_path, "s.yaml", "specc: 1\nextends: {a: 1}\n"))
    assert "extends: must be a file name" in err.message and err.position.line == 2


def test_extends_directory_is_a_load_error(tmp_path):
    (tmp_path / "sub").mkdir()
    err = load_error(write(tmp_path, "s.yaml", "extends: sub\n"))
    assert "is a directory" in err.message and err.position.line == 1


# ---------------------------------------------------------------- overrides


@pytest.fixture
def doc(tmp_path):
    return load_spec(write(tmp_path, "s.yaml", SPEC))


def test_override_int_and_position(doc):
    out = apply_overrides(doc, ["name=x", "train.epochs=5"])
    assert out.data["train"] == {"epochs": 5} and type(out.data["train"]["epochs"]) is int
    assert out.positions[("train", "epochs")] == Position("<--set #2>", 1, len("train.epochs") + 2)
    assert out.positions[("name",)] == Position("<--set #1>", 1, 6)
    assert "train" not in doc.data  # the input document is unchanged


def test_override_list_value(doc):
    out = apply_overrides(doc, ["metrics=[accuracy, auc]"])
    assert out.data["metrics"] == ["accuracy", "auc"]
    assert out.positions[("metrics", 1)] == Position("<--set #1>", 1, 20)


def test_override_yaml_scalars(doc):
    out = apply_overrides(doc, ["optimizer.adam.learning_rate=1e-4", "a=on", "b=true", "c=", "d='5'"])
    assert out.data["optimizer"]["adam"]["learning_rate"] == 1e-4
    assert (out.data["a"], out.data["b"], out.data["c"], out.data["d"]) == ("on", True, None, "5")


def test_override_creates_nested_mappings(doc):
    out = apply_overrides(doc, ["data.split.validation=0.2"])
    assert out.data["data"] == {"split": {"validation": 0.2}}
    assert out.position_of(("data", "split")) == Position("<--set #1>", 1, 1)


def test_override_list_index(doc):
    out = apply_overrides(doc, ["model.layers.2.dense.units=32", "model.layers.0.dense={units: 8}"])
    assert out.data["model"]["layers"][2] == {"dense": {"units": 32}}
    assert out.data["model"]["layers"][0] == {"dense": {"units": 8}}
    assert ("model", "layers", 0, "dense", "activation") not in out.positions
    assert out.positions[("model", "layers", 0, "dense", "units")] == Position("<--set #2>", 1, 30)


def test_override_replaces_subtree_positions(doc):
    out = apply_overrides(doc, ["optimizer=sgd"])
    assert out.data["optimizer"] == "sgd"
    assert not any(p[:1] == ("optimizer",) and len(p) > 1 for p in out.positions)


@pytest.mark.parametrize(
    "item, words",
    [
        ("train.epochs", "PATH=VALUE"),
        ("=5", "path"),
        ("train..epochs=5", "empty part"),
        ("model.layers.9.dense.units=3", "out of range"),
        ("model.layers.first=3", "use a number index"),
        ("name.first=3", "is a string, not a mapping"),
        ("metrics=[accuracy", "cannot read the value"),
    ],
)
def test_override_errors(doc, item, words):
    with pytest.raises(UsageError) as info:
        apply_overrides(doc, [item])
    assert words in info.value.message


def test_override_allowed_callback(doc):
    seen = []

    def allowed(path):
        seen.append(path)
        return None if path[0] != "trian" else "unknown section 'trian'; did you mean 'train'?"

    apply_overrides(doc, ["model.layers.1.dropout=0.1"], allowed)
    assert seen == [("model", "layers", 1, "dropout")]
    with pytest.raises(UsageError) as info:
        apply_overrides(doc, ["trian.epochs=3"], allowed)
    assert "did you mean 'train'" in info.value.message


def test_load_spec_applies_overrides_after_extends(tmp_path):
    write(tmp_path, "base.yaml", "specc: 1\ntrain: {epochs: 10, batch_size: 32}\n")
    spec = write(tmp_path, "s.yaml", "extends: base.yaml\ntrain: {epochs: 3}\n")
    doc = load_spec(spec, ["train.epochs=5"])
    assert doc.data["train"] == {"epochs": 5, "batch_size": 32}
    assert isinstance(doc, Document) and doc.extends == ["base.yaml"]


def test_import_does_not_pull_in_tensorflow():
    code = "import sys, specc.load; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_not_read_forever(tmp_path):
    """Reading a FIFO would block until a writer came: anything but a regular file is refused."""
    pipe = tmp_path / "spec.yaml"
    os.mkfifo(pipe)
    with pytest.raises(UsageError, match="not a regular file"):
        load_spec(str(pipe))
