"""The Python version is stated once in spirit: requires-python, ruff's target and mypy's agree."""

import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


def minimum_python(pyproject: dict) -> tuple[int, int]:
    spec = pyproject["project"]["requires-python"]
    match = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\s*", spec)
    assert match, f"requires-python should be a plain lower bound '>=X.Y', not {spec!r}"
    return int(match[1]), int(match[2])


def test_ruff_targets_the_minimum_python(pyproject):
    major, minor = minimum_python(pyproject)
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{major}{minor}"


def test_mypy_checks_against_the_minimum_python(pyproject):
    major, minor = minimum_python(pyproject)
    assert str(pyproject["tool"]["mypy"]["python_version"]) == f"{major}.{minor}"


def test_running_interpreter_satisfies_requires_python(pyproject):
    assert sys.version_info[:2] >= minimum_python(pyproject)


def test_every_test_the_readme_names_exists():
    """The README's "What happens when" table names a test per fault: each must be there
    (`file.py::test`, or `::test` for one more in the file named before it)."""
    root = Path(__file__).resolve().parent
    text = (root.parent / "README.md").read_text(encoding="utf-8")
    current, checked, missing = None, 0, []
    for path, test in re.findall(r"`((?:\w+/)?test_\w+\.py)?(?:::(test_\w+))?`", text):
        current = path or current
        if test and current:
            checked += 1
            if f"def {test}(" not in (root / current).read_text(encoding="utf-8"):
                missing.append(f"{current}::{test}")
    assert checked > 30 and not missing
