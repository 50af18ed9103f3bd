"""The documentation keeps its promises: every spec it shows validates (or fails as it says),
every output it shows is generated or marked illustrative, the site builds with
`mkdocs build --strict`, README stays a front door whose links lead somewhere, and every
command's help names a page that exists.

Markers are HTML comments on the line before a fenced block (invisible on GitHub and in the
site); docs/development.md describes them:

    <!-- invalid: MESSAGE -->           a YAML spec that must fail validation with MESSAGE
    <!-- fragment: PATH -->             a YAML part of a spec: checked as the spec PATH (a file
                                        of the repository) with the block's top-level
                                        sections in place of its own
    <!-- generated: NAME -->            output written by tools/doc_outputs.py (kept current)
    <!-- illustrative: WHY -->          output shown as recorded, not regenerated

Output is shown in `console` blocks (and only there), which need one of the last two.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, cli, tool

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\s*$")
MARKER = re.compile(r"^\s*<!-- (?P<kind>invalid|fragment|generated|illustrative): (?P<value>.*?) -->\s*$")
LANGUAGES = {"yaml", "json", "python", "bash", "console", "text"}
OUTPUT_LANGUAGES = {"console"}  # output; `text` is for diagrams and layouts


@dataclass
class Block:
    """One fenced code block of a page, with the marker on the line before it (if any)."""

    page: Path
    line: int
    lang: str
    text: str
    marker: tuple[str, str] | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """Every fenced block of a markdown file."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while not re.match(rf"^{opening['indent']}```\s*$", lines[end]):
            end += 1
        indent = len(opening["indent"])
        text = "\n".join(line[indent:] for line in lines[index + 1:end]) + "\n"
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        mark = MARKER.match(before)
        found.append(Block(page, index + 1, opening["lang"], text,
                           (mark["kind"], mark["value"]) if mark else None))
        index = end + 1
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]
YAML_BLOCKS = [b for b in BLOCKS if b.lang == "yaml"]


# --- the examples -------------------------------------------------------------------------

def test_the_docs_have_yaml_examples_to_check():
    # a parser that found nothing would pass every test below
    assert len(YAML_BLOCKS) >= 8 and any(b.marker and b.marker[0] == "invalid" for b in YAML_BLOCKS)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the specs and examples, so a block is validated beside the files it names."""
    root = tmp_path_factory.mktemp("docs-project")
    for folder in ("specs", "examples", "schemas"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def _spec_file(block: Block, project: Path) -> Path:
    """Write the block where it can be validated: a whole spec in the copy of specs/ (its
    relative paths are specs'); a fragment as its base spec with the fragment's top-level
    sections in place of the base's, beside the base."""
    from specc.load import load_spec

    folder = project / "specs"
    path = folder / f"doc-block-{block.page.stem}-{block.line}.yaml"
    path.write_text(block.text, encoding="utf-8")
    if block.marker and block.marker[0] == "fragment":
        base = project / block.marker[1]
        assert base.is_file(), f"{block.where}: the fragment's base {block.marker[1]} does not exist"
        empty = yaml.safe_load(block.text) is None  # only comments, e.g. the editor's $schema line
        sections = {} if empty else load_spec(str(path)).data  # specc's loader reads numbers as specs do
        merged = {**load_spec(str(base)).data, **sections}
        path.unlink()
        path = base.parent / path.name
        path.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: b.where)
def test_every_yaml_example_validates_or_fails_as_marked(block, project):
    from specc.api import problems_of

    problems, code = problems_of(str(_spec_file(block, project)))
    shown = "\n".join(p.format() for p in problems)
    if block.marker and block.marker[0] == "invalid":
        assert code != 0, f"{block.where} is marked invalid but validates"
        assert block.marker[1] in shown, f"{block.where}: expected {block.marker[1]!r} in:\n{shown}"
    else:
        assert code == 0, f"{block.where} does not validate (mark it <!-- invalid: ... --> if meant):\n{shown}"


def test_the_invalid_example_is_the_file_the_shown_output_comes_from():
    shown = next(b for b in YAML_BLOCKS if b.page.name == "errors.md" and b.marker and b.marker[0] == "invalid")
    assert shown.text == (ROOT / "docs" / "examples" / "typo.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "python"], ids=lambda b: b.where)
def test_every_python_example_compiles(block):
    compile(block.text, block.where, "exec")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "json"], ids=lambda b: b.where)
def test_every_json_example_parses(block):
    text = block.text.strip()
    json.loads(text if text.startswith(("{", "[")) else "{" + text + "}")  # a fragment: one key


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.where)
def test_every_block_says_what_it_is(block):
    assert block.lang in LANGUAGES, f"{block.where}: give the block a language, one of {sorted(LANGUAGES)}"
    kind = block.marker[0] if block.marker else None
    if block.lang in OUTPUT_LANGUAGES:
        assert kind in ("generated", "illustrative"), (
            f"{block.where} shows output: generate it (tools/doc_outputs.py, <!-- generated: NAME -->) "
            "or mark it <!-- illustrative: why -->")
    else:
        assert kind in (None, "invalid", "fragment"), f"{block.where}: {kind} marks an output block (console or text)"
    if block.lang == "bash":
        assert not re.search(r"^\$ ", block.text, re.M), f"{block.where}: commands with output are a console block"


def test_generated_outputs_are_current():
    outputs = tool("doc_outputs")
    marked = {b.marker[1] for b in BLOCKS if b.marker and b.marker[0] == "generated"}
    assert marked and marked <= set(outputs.OUTPUTS), "every generated block names a command of OUTPUTS"
    assert outputs.main(["--check"]) == 0, "run python tools/doc_outputs.py"


def test_the_error_catalogue_is_current():
    assert tool("gen_error_catalogue").main(["--check"]) == 0, "run python tools/gen_error_catalogue.py"


# --- the site -----------------------------------------------------------------------------

def test_the_site_builds_strictly(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail('MkDocs is not installed: pip install -e ".[docs]" (the dev extra includes it)')
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "guides" / "sweeps" / "index.html").is_file()
    assert "load_and_check" in (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")


def test_every_page_is_in_the_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(entries) -> set:
        found = set()
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            found |= pages(value) if isinstance(value, list) else {value}
        return found

    on_disk = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert pages(config["nav"]) == on_disk


def test_pictures_stay_small():
    pictures = sorted((ROOT / "docs" / "img").glob("*.png"))
    assert pictures
    for picture in pictures:
        assert picture.stat().st_size < 100_000, f"{picture.name}: downscale it (tools/doc_pictures.py)"


# --- README -------------------------------------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_a_front_door():
    assert len(README.splitlines()) <= 300
    assert 'pip install -e ".[dev]" && specc train specs/lenet-digits.yaml' in README
    assert "\npython -m pytest -q\n" in README
    assert 'pip install -e ".[docs]"' in README and "mkdocs serve" in README


def _anchors(page: Path) -> set:
    """The heading anchors of a markdown page, as GitHub and MkDocs spell them."""
    heads = re.findall(r"^#+ (.*)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-") for h in heads}


def test_readme_links_lead_to_pages_and_headings_that_exist():
    links = re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", README)
    assert len(links) >= 15
    for target, anchor in links:
        if target.startswith("http"):
            continue
        page = ROOT / target if target else ROOT / "README.md"
        assert page.exists(), f"README links {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(page), f"README links {target}#{anchor}: no such heading"


def test_readme_reaches_what_newcomers_look_for_in_one_click():
    # the page each of these lives on is linked from README (a heading on it is the second click)
    for page in ["docs/getting-started.md", "docs/guides/gans.md", "docs/guides/training.md",
                 "docs/guides/sweeps.md", "docs/guides/scale-out.md", "docs/guides/export.md"]:
        assert f"]({page}" in README, page


# --- help names its page ------------------------------------------------------------------

def test_every_command_names_a_docs_page_that_exists():
    from specc.cli import main
    from specc.cli.doc_pages import DOC_PAGES, command_paths

    commands = command_paths(main)
    assert set(commands) == set(DOC_PAGES), "add the command to DOC_PAGES in specc/cli/doc_pages.py"
    for path, page in DOC_PAGES.items():
        assert (ROOT / page).is_file(), f"{path or 'specc'}: {page} does not exist"
        if not commands[path].hidden:
            result = cli(*path.split(), "--help")
            assert result.exit_code == 0 and result.output.rstrip().endswith(f"see: {page}"), result.output
