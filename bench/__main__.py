"""``python -m bench``: run the benchmark (see bench/cli.py)."""

from bench.cli import main

raise SystemExit(main())
