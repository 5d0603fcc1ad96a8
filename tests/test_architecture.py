"""The package's structure: the layering contract of pyproject.toml holds, no module outgrows one concern."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import config

PACKAGE = config.PACKAGE_DIR
MAX_MODULE_LINES = 520  # "about 500": one concern per module


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_layering_contract_is_kept() -> None:
    """lint-imports reads the contracts in pyproject.toml; a broken one fails with the offending import."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(config.PROJECT_ROOT / "pyproject.toml")],
        cwd=config.PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", ""), result.stdout


def test_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The check can fail: a copy of the package with one upward import breaks the contract."""
    copy = tmp_path / "project"
    shutil.copytree(PACKAGE, copy / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    dates = copy / "helpers" / "dates.py"
    dates.write_text(dates.read_text() + "\nfrom helpers.models import training  # noqa: E402\n")
    (copy / "pyproject.toml").write_text((config.PROJECT_ROOT / "pyproject.toml").read_text())
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(copy / "pyproject.toml"), "--no-cache"],
        cwd=copy, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(copy), "PATH": ""},
    )
    assert result.returncode != 0
    assert "helpers.dates" in result.stdout and "helpers.models" in result.stdout


def test_modules_are_small_and_say_their_concern() -> None:
    too_long, undocumented = [], []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        if not ast.get_docstring(ast.parse(text)):
            undocumented.append(str(path.relative_to(PACKAGE)))
    assert not too_long, too_long
    assert not undocumented, undocumented


# The command line starts a process per pipeline step: scikit-learn (training) and papermill/nbformat
# (reports) cost about 5 s of imports, so only the commands that use them import them. import-linter
# reads these imports too, so the layering contract still covers them.
LAZY_IMPORTS_ALLOWED = {"cli.py": {"helpers.models", "helpers"}}


def test_no_function_level_imports_of_the_suite() -> None:
    """Imports of helpers modules sit at the top of a module; only optional engines load lazily."""
    lazy = []
    for path in _modules():
        allowed = LAZY_IMPORTS_ALLOWED.get(str(path.relative_to(PACKAGE)), set())
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("helpers") \
                            and inner.module not in allowed:
                        lazy.append(f"{path.relative_to(PACKAGE)}:{inner.lineno}")
    assert not lazy, lazy
