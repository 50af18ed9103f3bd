"""The wheel ships every sub-package and the data files (a missing one only shows up when
specc is installed from a clean clone, not in an editable install)."""
from __future__ import annotations

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(_config()["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "specc").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_schemas_and_catalog_are_package_data():
    config = _config()
    assert config["package-dir"]["specc.schemas"] == "schemas"
    assert "*.json" in config["package-data"]["specc.schemas"]
    assert "*.json" in config["package-data"]["specc.catalog"]
