"""The `specc validate` command line contract: JSON output, exit codes, several files, --set,
and no TensorFlow import for validate / render / schema / --help."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

# The same paths, case list and in-process CLI runner as the golden-case tests.
from test_validate import CASE_FILES, CASES, ROOT, SPECS, at_repo_root, rel, run  # noqa: F401


# --- --format json ---------------------------------------------------------------------------

JSON_KEYS = {"file", "line", "column", "path", "severity", "code", "message", "hint"}


def test_json_output_has_every_field():
    cases = [CASES / "three_typos.yaml", CASES / "block_unused_param.yaml", SPECS[0]]
    result = run("validate", "--format", "json", *[rel(c) for c in cases])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [r["file"] for r in report] == [rel(c) for c in cases]
    assert [r["exit_code"] for r in report] == [1, 0, 0]
    assert [r["valid"] for r in report] == [False, True, True]
    typos = report[0]["problems"]
    assert len(typos) == 3
    for problem in typos:
        assert set(problem) == JSON_KEYS
        assert problem["file"] == rel(cases[0])
        assert isinstance(problem["line"], int) and isinstance(problem["column"], int)
        assert problem["path"].startswith("$") and problem["message"] and problem["hint"]
    assert [p["path"] for p in typos] == ["$.data.split.tset", "$.model.layers[1].dropuot", "$.trian"]
    assert report[1]["problems"][0]["severity"] == "warning"
    assert report[2]["problems"] == []


def test_json_output_for_an_unreadable_file():
    result = run("validate", "--format", "json", rel(CASES / "yaml_syntax_error.yaml"))
    assert result.exit_code == 1
    [entry] = json.loads(result.stdout)
    [problem] = entry["problems"]
    assert (problem["line"], problem["column"]) == (6, 5)
    assert problem["message"].startswith("YAML syntax")


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: p.stem)
def test_json_problems_come_in_position_order(case):
    result = run("validate", "--format", "json", rel(case))
    problems = json.loads(result.stdout)[0]["problems"]
    keys = [(p["severity"] != "error", p["file"], p["line"], p["column"]) for p in problems]
    assert keys == sorted(keys)
    assert all(set(p) == JSON_KEYS for p in problems)


# --- files, exit codes -----------------------------------------------------------------------

def test_help_lists_every_exit_code():
    """Every EXIT_* code of specc.errors is in `specc --help` (6, worker lost, was missing)."""
    from specc import errors

    result = run("--help")
    listed = re.search(r"Exit codes: (.*?)\.\n\n", result.stdout, re.S).group(1)
    codes = [int(item.split()[0]) for item in " ".join(listed.split()).split(", ")]
    assert codes == sorted(v for k, v in vars(errors).items() if k.startswith("EXIT_"))


def test_missing_file_exits_2():
    result = run("validate", "no/such/spec.yaml")
    assert result.exit_code == 2
    assert "no such file: no/such/spec.yaml" in result.stderr


def test_several_files_exit_with_the_worst_code():
    ok, invalid = rel(SPECS[0]), rel(CASES / "three_typos.yaml")
    assert run("validate", ok, invalid).exit_code == 1
    assert run("validate", ok, "missing.yaml", invalid).exit_code == 2
    assert run("validate", invalid, ok).exit_code == 1
    assert run("validate", ok, ok).exit_code == 0


def test_several_files_report_each_file():
    result = run("validate", rel(SPECS[0]), rel(CASES / "unknown_key_top.yaml"))
    assert f"{rel(SPECS[0])}: ok" in result.stdout
    assert "tests/cases/invalid/unknown_key_top.yaml: 1 problem(s)" in result.stderr


# --- --set -----------------------------------------------------------------------------------

def test_set_changes_what_render_prints():
    result = run("render", "specs/lenet-digits.yaml", "--set", "train.epochs=5")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^  epochs: 5$", result.stdout, re.M)


def test_set_with_a_misspelled_key_is_a_usage_error():
    result = run("validate", "specs/lenet-digits.yaml", "--set", "train.epoch=5")
    assert result.exit_code == 2
    assert "did you mean 'epochs'" in result.stderr


def test_set_value_is_validated():
    result = run("validate", "specs/lenet-digits.yaml", "--set", "train.epochs=0")
    assert result.exit_code == 1
    assert "<--set #1>:1:14: error: $.train.epochs: found 0 (an integer), expected at least 1" in result.stderr


def test_set_can_fix_a_problem():
    result = run("validate", rel(CASES / "enum_batch_strategy.yaml"), "--set", "batch.strategy=mini_batch")
    assert result.exit_code == 0, result.stderr


# --- no TensorFlow ---------------------------------------------------------------------------

HEAVY_CHECK = """
import sys
from click.testing import CliRunner
from specc.cli import main
runner = CliRunner()
for args in {commands!r}:
    result = runner.invoke(main, args)
    assert result.exit_code in (0, 1), (args, result.exit_code, result.stderr)
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'xgboost'))
print(' '.join(heavy))
"""


def _heavy_modules(commands: list) -> str:
    code = HEAVY_CHECK.format(commands=commands)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_validate_render_schema_and_help_never_import_tensorflow():
    specs = [rel(s) for s in SPECS]
    commands = [["--help"], ["validate", *specs], ["validate", "--format", "json", *specs],
                ["validate", *[rel(c) for c in CASE_FILES]], ["schema"], ["schema", "--section", "model"]]
    commands += [["render", spec] for spec in specs]
    assert _heavy_modules(commands) == ""


def test_the_library_never_imports_tensorflow():
    code = ("import sys\nfrom specc import api, load, validate, render, schema, cli\n"
            "from specc.load import load_spec\n"
            f"for f in {[str(s) for s in SPECS]!r}:\n"
            "    doc = load_spec(f); assert validate.validate(doc) == []; render.render(doc.data)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'xgboost')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"




def test_set_reaches_free_form_arguments():
    """Optimizer and schedule arguments and block-call params are free-form: --set may add them."""
    result = run("render", "specs/lenet-digits.yaml", "--set", "optimizer.adam.learning_rate=3e-4",
                 "--set", "schedule.cosine_decay.alpha=0.1")
    assert result.exit_code == 0, result.stderr
    assert "adam: {learning_rate: 0.0003, clipnorm: 1.0}" in result.stdout
    assert "cosine_decay: {alpha: 0.1}" in result.stdout
    # the residual block adds its input (the stem's 32 channels) to its body's: both change together
    assert run("validate", "specs/resnet-digits.yaml", "--set", "model.nodes.res.residual.filters=8",
               "--set", "model.nodes.stem.separable_conv2d.filters=8").exit_code == 0
    narrower = run("validate", "specs/resnet-digits.yaml", "--set", "model.nodes.res.residual.filters=8")
    assert narrower.exit_code == 1 and "add needs inputs of the same shape" in narrower.stderr


def test_set_with_a_misspelled_layer_argument():
    result = run("validate", "specs/lenet-digits.yaml", "--set", "model.layers.1.conv2d.filter=3")
    assert result.exit_code == 2
    assert "no setting 'filter' under model.layers.1.conv2d; did you mean 'filters'?" in result.stderr


@pytest.mark.parametrize("setting, message", [
    ("optimizer.adam.lerning_rate=1e-3", "no setting 'lerning_rate' under optimizer.adam; did you mean 'learning_rate'?"),
    ("optimizer.adam.learning_rate=abc", "$.optimizer.adam.learning_rate: found 'abc' (a string), expected a number"),
    ("train.epochs=2.0", "$.train.epochs: found 2.0 (a number), expected an integer"),
    ("model.layers.1.conv2d.padding=sam", "$.model.layers[1].conv2d.padding: found 'sam' (a string), expected one of"),
    ("model.layers.7.dropout=-0.25", "$.model.layers[7].dropout: found -0.25 (a number), expected at least 0"),
    ("model.inputs.image=[8, 8, 3]", "model input 'image' takes 192 value(s) per sample, but builtin digits has 64"),
    ("model.layers.6.dense.units=1000000000", "specc refuses more than 1,000,000,000"),
])
def test_set_values_meet_the_same_checks_as_file_values(setting, message):
    """A value given with --set is checked as if it were in the file: types, choices, ranges,
    arguments of named objects, sizes and the data's shape."""
    result = run("validate", "specs/lenet-digits.yaml", "--set", setting)
    assert result.exit_code in (1, 2), result.output
    assert message in result.stderr


def test_a_reader_that_goes_away_is_not_an_error():
    """`specc runs list | head -1`: the pipe closes while specc still writes; that is not an
    internal error (exit 0, nothing on stderr, no crash log). A command of the same group
    that hits a closed pipe stands in for the race (whether a real pipe closes before the
    last write depends on the pipe's buffer)."""
    import click
    from click.testing import CliRunner

    from specc.cli.group import SpeccGroup

    group = SpeccGroup()

    @group.command()
    def write():
        click.echo("first line")
        raise BrokenPipeError(32, "Broken pipe")

    result = CliRunner().invoke(group, ["write"])
    assert result.exit_code == 0 and result.stderr == ""
    assert "internal error" not in result.output
