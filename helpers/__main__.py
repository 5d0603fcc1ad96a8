"""``python -m helpers``: the suite's command line (see helpers/cli.py)."""

from helpers.cli import main

raise SystemExit(main())
