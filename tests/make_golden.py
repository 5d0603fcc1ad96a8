"""Refresh tests/golden/: execute every notebook on the fixture warehouse with papermill.

Run with ``make golden`` (every notebook) or ``python tests/make_golden.py 05 06`` (those whose
name starts with one of the prefixes given). Only cells tagged ``nbval-check-output`` keep their
outputs (nbval --nbval-lax compares just those); other outputs are dropped so
the golden copies stay small.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

import golden_fixture  # noqa: E402  (after the path tweak)

from helpers import config  # noqa: E402

CHECK_TAG = "nbval-check-output"


def main(prefixes: list[str]) -> int:
    notebooks = [notebook for notebook in sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
                 if not prefixes or notebook.name.startswith(tuple(prefixes))]
    if not notebooks:
        print(f"no notebook in {config.NOTEBOOKS_DIR} starts with {', '.join(prefixes)}", file=sys.stderr)
        return 2
    paths = golden_fixture.build(Path(tempfile.mkdtemp(prefix="golden-fixture-")))
    os.environ.update(golden_fixture.environment(paths))
    golden = TESTS / "golden"
    for notebook in notebooks:
        target = golden / notebook.name
        papermill.execute_notebook(str(notebook), str(target), kernel_name="python3", progress_bar=False,
                                   cwd=str(notebook.parent))
        executed = nbformat.read(target, as_version=4)
        for cell in executed.cells:
            if cell.cell_type == "code" and CHECK_TAG not in cell.metadata.get("tags", []):
                cell.outputs = []
        # Paths relative to the project: a golden copy must not carry this machine's folders.
        run = executed.metadata.get("papermill", {})
        for key in ("input_path", "output_path"):
            if key in run:
                run[key] = str(Path(run[key]).resolve().relative_to(TESTS.parent))
        nbformat.write(executed, target)
        print(f"refreshed {target.relative_to(TESTS.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
