"""Describe a warehouse for the harness, in a process of its own.

    python -m bench.describe WAREHOUSE

Prints JSON: the ``meta.build_info`` row (JSON columns decoded) and the
reports' default as-of date for it. The harness asks a child instead of
opening the file itself so that it never imports DuckDB or pandas: a child's
peak RSS (wait4) starts from its parent's at fork, and the parent must stay small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def describe(path: Path) -> dict:
    """The build metadata of the warehouse at ``path`` and its default as-of."""
    import duckdb

    from helpers.dates import default_as_of

    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute("select * from meta.build_info")
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    if not rows:
        raise ValueError(f"{path} has no build metadata")
    record = dict(zip(names, rows[0]))
    for column in ("row_counts", "table_hashes", "inputs"):
        if isinstance(record.get(column), str):
            record[column] = json.loads(record[column])
    record["default_as_of"] = default_as_of(record["data_end"])
    return record


def main(argv: list[str] | None = None) -> int:
    """Print the description of the warehouse named on the command line; 2 when it cannot be read."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.describe WAREHOUSE", file=sys.stderr)
        return 2
    try:
        print(json.dumps(describe(Path(args[0])), default=str))
    except Exception as error:  # any failure means "not reusable"; the harness shows the message
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
