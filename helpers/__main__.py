"""``python -m helpers``: the suite's command line (see helpers/cli.py)."""

import sys

# jsonschema (nbformat imports it for the report runner) loads rfc3987_syntax when that is
# installed (JupyterLab's jupyter-events asks for it), and rfc3987_syntax builds an IRI grammar
# as it is imported: 3 s of every `report` command's start on 2 cores (5.0 s against 2.1 s to
# import helpers.reports). No schema this process validates has an IRI format, so the command
# line leaves the module out; jsonschema then simply registers no IRI format checker.
sys.modules.setdefault("rfc3987_syntax", None)

from helpers.cli import main  # noqa: E402

raise SystemExit(main())
