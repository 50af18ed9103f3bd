"""Write docs/error-catalogue.md from the golden cases: `python tools/gen_error_catalogue.py [--check]`.

Every message `specc validate` gives is promised by a golden case (tests/cases/invalid/NAME.yaml
beside NAME.expected, which tools/update_goldens.py writes and the tests compare). The
catalogue lists them by the part of the spec they are about, each with its hint and its case,
so a user can look a message up and a reviewer can see them all in one place. `--check`
writes nothing and exits 1 when the page is out of date (the tests run it); run the script
after adding or changing a golden case.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases" / "invalid"
PAGE = ROOT / "docs" / "error-catalogue.md"
PROBLEM = re.compile(r"^\S+?:(?:\d+:\d+: )?(?P<severity>error|warning): (?:(?P<path>\$\S*): )?(?P<message>.*)$")

HEADER = """# Error catalogue

Generated from the golden cases (`tests/cases/invalid/NAME.yaml` beside `NAME.expected`) by
`tools/gen_error_catalogue.py`; do not edit by hand. Each row is a message `specc validate`
gives (exit code 1 for an error; a warning alone exits 0), its hint, and the case that
promises it: `specc validate tests/cases/invalid/NAME.yaml` prints it, with the file, line and
column before it. [Exit codes and errors](errors.md) explains the codes and the format.
"""


@dataclass
class Entry:
    """One problem a golden case promises."""

    case: str
    severity: str
    section: str
    message: str
    hint: str


def entries() -> list[Entry]:
    """Every problem of every golden case, in case order; a problem of a key the format does
    not have (`optimzer:`) is filed under the file itself."""
    from specc.schema import load_schema

    sections = set(load_schema()["properties"])
    found = []
    for expected in sorted(CASES.glob("*.expected")):
        lines = expected.read_text(encoding="utf-8").splitlines()[1:]  # after `exit: N`
        for index, line in enumerate(lines):
            problem = PROBLEM.match(line)
            if not problem:
                continue
            follows = lines[index + 1] if index + 1 < len(lines) else ""
            hint = follows.strip()[len("hint: "):] if follows.strip().startswith("hint: ") else ""
            path = problem["path"] or ""
            section = path[2:].split(".")[0].split("[")[0] if path.startswith("$.") else ""
            found.append(Entry(expected.stem, problem["severity"], section if section in sections else "the file",
                               (f"{path}: " if path else "") + problem["message"], hint))
    return found


def cell(text: str) -> str:
    """Text shown as printed: HTML and Markdown's own characters escaped, pipes kept in the cell."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", escaped)


def render() -> str:
    """The whole page."""
    by_section: dict[str, list[Entry]] = {}
    for entry in entries():
        by_section.setdefault(entry.section, []).append(entry)
    parts = [HEADER]
    for section in sorted(by_section, key=lambda s: (s == "the file", s)):
        title = "The file itself (loading, `extends:`, versions, unknown sections)" if section == "the file" else f"`{section}`"
        parts.append(f"\n## {title}\n\n| message | hint | case |\n|---|---|---|\n")
        for entry in by_section[section]:
            kind = "" if entry.severity == "error" else "(warning) "
            parts.append(f"| {kind}{cell(entry.message)} | {cell(entry.hint)} | `{entry.case}` |\n")
    return "".join(parts)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    text = render()
    current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if args.check:
        if text != current:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python tools/gen_error_catalogue.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(entries())} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
