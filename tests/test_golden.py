"""Golden notebooks stay in step with notebooks/ (nbval re-executes them; see pyproject addopts)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from helpers import config

GOLDEN = Path(__file__).parent / "golden"
NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [
        cell.source for cell in notebook.cells
        if cell.cell_type == "code" and "injected-parameters" not in cell.metadata.get("tags", [])
    ]


def test_every_notebook_has_a_golden_copy():
    assert NOTEBOOKS, "no notebooks found"
    assert [p.name for p in NOTEBOOKS] == sorted(p.name for p in GOLDEN.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_golden_code_matches_its_notebook(notebook):
    assert code_cells(GOLDEN / notebook.name) == code_cells(notebook), (
        f"{notebook.name} changed since its golden copy: run `make golden` and review the diff"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_golden_copies_hold_checked_figures(notebook):
    golden = nbformat.read(GOLDEN / notebook.name, as_version=4)
    checked = [c for c in golden.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert checked, f"{notebook.name}: tag at least one cell with key figures 'nbval-check-output'"
    assert all(cell.outputs for cell in checked), "checked cells must hold their golden output"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_keep_the_python3_kernel_and_no_outputs(notebook):
    source = nbformat.read(notebook, as_version=4)
    assert source.metadata["kernelspec"]["name"] == "python3"
    assert all(not cell.get("outputs") for cell in source.cells if cell.cell_type == "code")
    assert source.cells[0].cell_type == "markdown", "the first cell states the question"
    assert "parameters" in source.cells[1].metadata.get("tags", []), "the second cell holds the parameters"
