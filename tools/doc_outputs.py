"""Write the command outputs the docs show from real runs: `python tools/doc_outputs.py [--check]`.

A block of output in README.md or a docs page is either generated here or marked as
illustrative (`<!-- illustrative: why -->`; tests/test_docs.py holds every block to one of
the two). A generated block is marked with the name of its command in OUTPUTS:

    <!-- generated: validate-typo -->
    ```console
    $ specc validate typo.yaml
    ...what the command printed...
    ```

This script runs each command (from its folder, with this Python's specc) and rewrites the
block below each marker; `--check` rewrites nothing and exits 1 when a block is out of date
(the tests run it). Only commands that answer in a second or two belong here: validation,
help, render; outputs of training are illustrative, recorded with the date. Every command's
`--help` is here (help, help-train, help-runs-list, ...), for docs/commands.md.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (the folder it runs in, relative to the repository; the arguments after `specc`)
OUTPUTS: dict[str, tuple[str, list[str]]] = {
    "validate-typo": ("docs/examples", ["validate", "typo.yaml"]),
}


def _help_outputs() -> dict[str, tuple[str, list[str]]]:
    """`specc --help` and every visible command's help (docs/commands.md): help-runs-list, ..."""
    sys.path.insert(0, str(ROOT))
    from specc.cli import main
    from specc.cli.doc_pages import command_paths

    return {"help" + "".join(f"-{word}" for word in path.split()): (".", [*path.split(), "--help"])
            for path, command in command_paths(main).items() if not command.hidden}


OUTPUTS.update(_help_outputs())

MARKED = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n```console\n)(?P<body>.*?)(```)", re.S)


def pages() -> list[Path]:
    """README.md and every page of the docs site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def run(name: str) -> str:
    """The block's text: the command line, then what it printed (stdout and stderr, in order)."""
    folder, args = OUTPUTS[name]
    command = "import sys; from specc.cli import main; main(sys.argv[1:], prog_name='specc')"
    done = subprocess.run([sys.executable, "-c", command, *args], cwd=ROOT / folder,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "COLUMNS": "100"})  # help wraps to the terminal's width
    printed = done.stdout if done.stdout.endswith("\n") else done.stdout + "\n"
    return f"$ specc {' '.join(args)}\n{printed}"


def refresh(text: str) -> tuple[str, list[str]]:
    """`text` with every generated block rewritten, and the names of the blocks that changed.

    Raises KeyError for a marker whose name OUTPUTS does not know."""
    changed: list[str] = []

    def rewrite(match: re.Match) -> str:
        body = run(match["name"])
        if body != match["body"]:
            changed.append(match["name"])
        return match.group(1) + body + match.group(4)

    return MARKED.sub(rewrite, text), changed


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is out of date")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        new, changed = refresh(text)
        stale += [f"{page.relative_to(ROOT)}: {name}" for name in changed]
        if changed and not args.check:
            page.write_text(new, encoding="utf-8")
    for line in stale:
        print(("out of date: " if args.check else "rewrote: ") + line)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
