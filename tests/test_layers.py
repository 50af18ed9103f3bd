"""The package's layers and the direction of their imports (in the manner of click's own
tests/test_imports.py): every `import` in specc, at the top of a module or inside a function,
may only reach its own layer or the layers below it.

    core       load, validate, checks, render, schema, registries, tasks, catalog, ... (no TensorFlow)
    compile    spec -> Keras networks           } peers: neither imports the other
    data       sources -> tables -> tf.data      }
    paradigms  the Keras side of each task type
    run        train / evaluate / predict, run records
    export     artifacts and their parity checks
    workflows  train, then export
    sweep      hyperparameter sweeps: Optuna studies, trial processes (each trial a run)  } peers
    serve      the prediction server (Starlette on uvicorn)                              }
    cli        the command line

docs/design.md states the same table; a change to one is a change to both.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "specc"

ORDER = ["core", "compile|data", "paradigms", "run", "export", "workflows", "sweep|serve", "cli"]
LAYER_OF_PACKAGE = {"compile": "compile", "data": "data", "paradigms": "paradigms", "run": "run",
                    "export": "export", "workflows": "workflows", "sweep": "sweep", "serve": "serve",
                    "cli": "cli"}
# The lazy public facade (`specc.__init__` names the public functions of every layer by string)
# and the `python -m specc` entry point stand above the layers.
FACADE = {"specc", "specc.__main__"}  # `python -m specc` is the command line


def layer(module: str) -> str:
    parts = module.split(".")
    return LAYER_OF_PACKAGE.get(parts[1], "core") if len(parts) > 1 else "core"


def rank(name: str) -> int:
    return next(i for i, level in enumerate(ORDER) if name in level.split("|"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, name: str) -> list[tuple[int, str]]:
    """(line, imported specc module) of every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                base = ".".join(anchor[:len(anchor) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base)
                      for alias in node.names]
    return [(line, target) for line, target in found if target == "specc" or target.startswith("specc.")]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    for path in MODULES:
        assert layer(module_name(path)) in {lvl for level in ORDER for lvl in level.split("|")}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path):
    name = module_name(path)
    if name in FACADE:
        return
    here = layer(name)
    wrong = []
    for line, target in imports(path, name):
        there = layer(target)
        if there != here and (rank(there) > rank(here) or rank(there) == rank(here)):
            wrong.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {target} ({there})")
    assert wrong == [], "imports against the layers' direction:\n" + "\n".join(wrong)


def test_no_import_cycle_between_packages():
    """Packages (specc.run, specc.run.records, specc.export.formats, ...) form no cycle."""
    def package_of(module: str) -> str:
        path = ROOT.joinpath(*module.split("."))
        return module if (path / "__init__.py").is_file() else module.rpartition(".")[0]

    edges: dict[str, set] = {}
    for path in MODULES:
        name = module_name(path)
        if name in FACADE:
            continue
        source = package_of(name)
        for _, target in imports(path, name):
            target_package = package_of(target)
            if target_package != source and not source.startswith(target_package + "."):
                edges.setdefault(source, set()).add(target_package)
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or [])


def _find_cycle(edges: dict) -> list | None:
    state: dict = {}
    stack: list = []

    def visit(node: str) -> list | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return None


def test_only_the_command_line_prints():
    """The library reports through specc.report; click and print() belong to specc.cli."""
    offenders = []
    for path in MODULES:
        name = module_name(path)
        if layer(name) == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if "click" in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports click")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls print()")
    assert offenders == []


def test_the_public_facade():
    """`specc.NAME` resolves every public name lazily, and no name hides a submodule."""
    import subprocess
    import sys

    import specc

    submodules = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir()
                                                           if (p / "__init__.py").exists()}
    assert not set(specc.__all__) & submodules
    code = "import sys, specc; specc.load_and_check; specc.TrainOptions; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
    for name in specc.__all__:
        assert getattr(specc, name) is not None


def test_each_crash_gets_its_own_log(tmp_path, monkeypatch):
    """An internal error writes its traceback to a new file named by time, process and run,
    and says where; two crashes never share (or overwrite) one file."""
    import click
    from click.testing import CliRunner

    from specc.cli.group import SpeccGroup

    monkeypatch.setenv("HOME", str(tmp_path))

    @click.group(cls=SpeccGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        error = RuntimeError("a bug")
        error.specc_run_id = "20261130-120000-abcd"  # type: ignore[attr-defined]
        raise error

    results = [CliRunner().invoke(group, ["boom"]) for _ in range(2)]
    logs = sorted((tmp_path / ".specc" / "crashes").iterdir())
    assert all(r.exit_code == 70 for r in results)
    assert all("internal error: RuntimeError: a bug" in r.stderr for r in results)
    assert len(logs) == 2 and all(log.name.endswith("-20261130-120000-abcd.log") for log in logs)
    assert "RuntimeError: a bug" in logs[0].read_text()
