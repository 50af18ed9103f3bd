"""`specc validate`: the golden cases in tests/cases/invalid, the example specs, the contract.

Each golden case is `tests/cases/invalid/NAME.yaml` beside `NAME.expected`, which holds
`exit: N` and exactly what `specc validate tests/cases/invalid/NAME.yaml` prints on stderr
when run from the repo root. Regenerate with `python tools/update_goldens.py` and review
every changed file by eye: the expected text is a promise to users.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main
from specc.errors import Problem
from specc.load import load_spec
from specc.registries import EXPORT_FORMATS
from specc.validate import validate

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases" / "invalid"
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
CASE_FILES = sorted(p for p in CASES.glob("*.yaml") if not p.name.startswith("_"))
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning): ")


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Golden files name paths relative to the repo root."""
    monkeypatch.chdir(ROOT)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def run(*args: str):
    """Invoke the CLI in-process; stderr and stdout are kept apart."""
    return CliRunner().invoke(main, list(args))


def golden(path: Path) -> str:
    return path.with_suffix(".expected").read_text(encoding="utf-8")


# --- the golden cases ------------------------------------------------------------------------

def test_enough_cases():
    assert len(CASE_FILES) >= 45


def test_every_case_has_a_golden_file_and_every_golden_file_a_case():
    cases = {p.stem for p in CASE_FILES}
    goldens = {p.stem for p in CASES.glob("*.expected")}
    assert cases - goldens == set(), "run python tools/update_goldens.py"
    assert goldens - cases == set(), "golden files without a case"


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: p.stem)
def test_golden_case(case):
    result = run("validate", rel(case))
    assert f"exit: {result.exit_code}\n{result.stderr}" == golden(case)
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: p.stem)
def test_case_problems_are_positioned_and_ordered(case):
    """Every problem line starts with file:line:column; errors come first, in file order."""
    lines = [m for m in map(PROBLEM_LINE.match, golden(case).splitlines()) if m]
    assert lines, f"{case.name}: no positioned problem"
    keys = [(m["severity"] != "error", m["file"], int(m["line"]), int(m["column"])) for m in lines]
    assert keys == sorted(keys)


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: p.stem)
def test_invalid_cases_fail_and_warnings_alone_pass(case):
    text = golden(case)
    exit_code = int(text.splitlines()[0].split(": ")[1])
    errors = [line for line in text.splitlines() if ": error: " in line]
    assert exit_code == (1 if errors else 0)
    assert errors or ": warning: " in text, f"{case.name} reports nothing"


@pytest.mark.parametrize("case", ["yaml_syntax_error", "yaml_duplicate_key", "yaml_top_level_list",
                                  "yaml_empty", "extends_cycle"])
def test_unreadable_specs_report_one_problem(case):
    text = golden(CASES / f"{case}.yaml")
    assert text.startswith("exit: 1\n")
    assert sum(1 for line in text.splitlines() if PROBLEM_LINE.match(line)) == 1


def test_three_typos_are_all_reported():
    """The Ludwig comparison: three misspellings, three positioned problems, one run."""
    problems = validate(load_spec(CASES / "three_typos.yaml"))
    assert [(p.position.line, p.path[-1]) for p in problems] == [(6, "tset"), (12, "dropuot"), (14, "trian")]
    assert [p.hint for p in problems] == ["did you mean 'test'?", "did you mean 'dropout'?",
                                          "did you mean 'train'?"]


def test_a_case_reports_all_its_problems():
    problems = validate(load_spec(CASES / "graph_unknown_from.yaml"))
    assert [p.path for p in problems] == [("model", "nodes", "hidden", "from"),
                                          ("model", "nodes", "out", "from", 0)]


def test_unused_block_param_is_a_warning_and_exits_0():
    result = run("validate", rel(CASES / "block_unused_param.yaml"))
    assert result.exit_code == 0
    assert ": warning: " in result.stderr
    assert result.stdout.strip() == "tests/cases/invalid/block_unused_param.yaml: ok (1 warning(s))"


def test_set_values_go_through_the_training_checks():
    """A value given with --set is checked like one in the file (`specc train --set` too)."""
    result = run("validate", "specs/lenet-digits.yaml", "--set", "optimizer.adam.learning_rate=0")
    assert result.exit_code == 1
    assert "$.optimizer.adam.learning_rate: learning_rate 0 cannot train" in result.stderr
    warned = run("validate", "specs/lenet-digits.yaml", "--set", "optimizer.adam.clipnorm=0")
    assert warned.exit_code == 0 and "clipnorm 0: Keras ignores a clip of 0 or less" in warned.stderr


def test_metrics_are_checked_against_each_label_form():
    """Class ids take the sparse metrics; one label per sample or a row per sample do not (the
    per-output metrics of several outputs are checked per output); the auto metrics fit."""
    from specc.tasks import supervised

    def refused(*overrides: str) -> list:
        result = run("validate", "specs/multi-io-wine.yaml", *[f"--set={o}" for o in overrides])
        return re.findall(r"\$\.(metrics\S*): metric '(\w+)' does not fit", result.stderr)

    assert refused("metrics.cultivar=[sparse_top_k_categorical_accuracy]") == []
    assert refused("metrics.cultivar=[categorical_accuracy]", "metrics.alcohol=[mae, bce]") == [
        ("metrics.cultivar[0]", "categorical_accuracy"), ("metrics.alcohol[1]", "bce")]
    assert refused("task.outputs.cultivar.encoding=one_hot", "loss=categorical_crossentropy",
                   "metrics.cultivar=[sparse_categorical_accuracy, f1_score]") == [
        ("metrics.cultivar[0]", "sparse_categorical_accuracy")]
    for declared in supervised.TYPES:
        task = {"type": declared.name, "classes": 3, "labels": 2}
        assert all(supervised.metric_fits(task, m) for m in declared.auto_metrics(task)), declared.name


def test_update_goldens_check_passes():
    """tools/update_goldens.py --check agrees with the files on disk (in a fresh process)."""
    proc = subprocess.run([sys.executable, "tools/update_goldens.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_golden_case_through_the_installed_command():
    """The same text through a real `specc` process (not only click's test runner)."""
    case = CASES / "three_typos.yaml"
    proc = subprocess.run([sys.executable, "-c", "from specc.cli import main; main()", "validate", rel(case)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert f"exit: {proc.returncode}\n{proc.stderr}" == golden(case)


# --- the example specs -----------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_example_spec_is_valid(spec):
    assert validate(load_spec(spec)) == []
    result = run("validate", rel(spec))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == f"{rel(spec)}: ok\n"


def test_all_examples_at_once():
    result = run("validate", *[rel(s) for s in SPECS])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == len(SPECS)


# --- the library -----------------------------------------------------------------------------

def test_problems_carry_path_message_and_position():
    for case in CASE_FILES:
        try:
            doc = load_spec(case)
        except Exception:  # unreadable cases are covered by the golden files
            continue
        for problem in validate(doc):
            assert isinstance(problem, Problem)
            assert isinstance(problem.path, tuple) and problem.message
            assert problem.position is not None, (case.name, problem)
            assert problem.severity in ("error", "warning")


# --- did you mean ----------------------------------------------------------------------------

def test_suggestions_are_few_and_close():
    from specc import catalog
    from specc.suggest import suggest

    layers = catalog.layer_names()
    assert suggest("Conv2D", layers) == ["conv2d"]          # case and _ only: that one alone
    assert suggest("dropuot", layers) == ["dropout"]        # not 'dot', not 'alpha_dropout'
    assert suggest("dens", layers) == ["dense"]
    assert suggest("depth", ["width"]) == []                # too far apart to help
    assert suggest("tflite", EXPORT_FORMATS.names()) == ["litert"]
    assert suggest("cosine", catalog.names("schedules")) == ["cosine_decay"]
    assert suggest("lr", ["learning_rate", "clipnorm"]) == ["learning_rate"]
    assert suggest(3, layers) == [] and suggest("", layers) == []
