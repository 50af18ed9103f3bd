"""specc is type-checked: mypy (configured in pyproject.toml) finds nothing, and every public
function says what it takes and returns, so a change that breaks a caller shows up here."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors():
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"mypy failed:\n{done.stdout}{done.stderr}"


def _incompletely_annotated(path: Path) -> list[str]:
    """`file:line name` of each public function (or method) in `path` that leaves a parameter
    (self and cls aside) or its return type unannotated."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        args = node.args.args + node.args.kwonlyargs + [a for a in (node.args.vararg, node.args.kwarg) if a]
        params = [a for a in args if a.arg not in ("self", "cls")]
        if node.returns is None or any(a.annotation is None for a in params):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    return found


def test_public_functions_are_fully_annotated():
    missing = [entry for path in sorted((ROOT / "specc").rglob("*.py"))
               for entry in _incompletely_annotated(path)]
    assert missing == [], "annotate every parameter and the return type of:\n" + "\n".join(missing)
