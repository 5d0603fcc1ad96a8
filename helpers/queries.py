"""Load the SQL files shipped in ``helpers/sql``.

Values always travel as bound parameters (``$name`` in the SQL). The only
text substituted into SQL is identifiers (schema, table, column names) and
vocabulary literals that come from this package's own declarations, never
from user input.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from helpers.config import SQL_DIR


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {name}.sql in {SQL_DIR}")
    return path.read_text(encoding="utf-8")


def load_sql(name: str, **identifiers: str) -> str:
    """Return the text of ``helpers/sql/<name>.sql`` with ``{identifier}`` placeholders filled.

    Args:
        name: path below ``helpers/sql`` without the ``.sql`` suffix, e.g. ``"tests/unique"``.
        identifiers: trusted identifiers for the file's ``{placeholders}``.

    Returns:
        The SQL text, ready to execute with bound parameters.
    """
    text = _read(name)
    return text.format(**identifiers) if identifiers else text


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any]) -> pd.DataFrame:
    """Run a query with bound parameters and return a DataFrame with exact decimals.

    Args:
        con: an open warehouse connection.
        sql: the query text.
        parameters: values for its ``$name`` parameters.

    Returns:
        The rows; DECIMAL columns hold ``Decimal`` objects and date columns Timestamps.
    """
    # A cursor (a child connection to the same database) keeps this query clear
    # of a result the caller left half-read on ``con``: DuckDB 2 refuses new
    # relational work on a connection with an unfinished execute() result.
    cursor = con.cursor()
    try:
        relation = cursor.sql(sql, params=parameters)
        # to_arrow_table is the DuckDB >= 1.4 name; fetch_arrow_table is older.
        to_arrow = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
        table = to_arrow()
    finally:
        cursor.close()
    frame = table.to_pandas()
    for field in table.schema:
        # Arrow hands DATE columns over as Python dates; Timestamps sort, plot and merge better.
        if pa.types.is_date(field.type):
            frame[field.name] = pd.to_datetime(frame[field.name])
    return frame


def fetch_row(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any] | None = None) -> tuple:
    """The first row of a query (None when it has none), with the result fully drained.

    DuckDB 2 keeps a connection busy while an execute() result is only partly
    fetched (fetchone), which breaks the caller's next ``con.sql``; fetchall does not.
    """
    rows = con.execute(sql, parameters or {}).fetchall()
    return rows[0] if rows else None
