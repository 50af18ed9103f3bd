"""Regenerate the golden files of the invalid-spec cases.

    python tools/update_goldens.py            # rewrite every tests/cases/invalid/*.expected
    python tools/update_goldens.py NAME ...   # only these cases
    python tools/update_goldens.py --check    # exit 1 if any .expected is out of date

A case is `tests/cases/invalid/NAME.yaml` (names starting with `_` are helper files that
cases extend, not cases). Its `NAME.expected` holds `exit: N` and then exactly what
`specc validate tests/cases/invalid/NAME.yaml` prints on stderr when run from the repo root.
Review every changed .expected by eye before committing: it is a promise to users.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases" / "invalid"


def case_files() -> list[Path]:
    """The case specs, sorted; helper files (`_name.yaml`) are not cases."""
    return sorted(p for p in CASES.glob("*.yaml") if not p.name.startswith("_"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def run_case(path: Path) -> str:
    """The golden text of one case: `exit: N` and the stderr of `specc validate`."""
    from click.testing import CliRunner

    from specc.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["validate", relative(path)])
    finally:
        os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return f"exit: {result.exit_code}\n{result.stderr}"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")]
    paths = [CASES / f"{n}.yaml" for n in names] if names else case_files()
    stale = []
    for path in paths:
        expected = path.with_suffix(".expected")
        text = run_case(path)
        if expected.exists() and expected.read_text(encoding="utf-8") == text:
            continue
        stale.append(relative(expected))
        if not check:
            expected.write_text(text, encoding="utf-8")
    if not names:
        known = {p.stem for p in paths}
        for orphan in sorted(CASES.glob("*.expected")):
            if orphan.stem not in known:
                stale.append(f"{relative(orphan)} (no case)")
    verb = "out of date" if check else "written"
    for name in stale:
        print(f"{verb}: {name}")
    print(f"{len(paths)} case(s), {len(stale)} {verb}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
