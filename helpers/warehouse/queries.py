"""Load the SQL files shipped in ``helpers/sql`` and run them on DuckDB or Spark.

Values always travel as bound parameters (``$name`` in the SQL). The only
text substituted into SQL is identifiers (schema, table, column names),
vocabulary literals and fixed fragments (a shared CTE, an optional aggregate)
that come from this package's own code, never from user input. The queries are written for DuckDB; on a SparkSession the
same text is translated by ``helpers.warehouse.spark`` (one source of truth per query).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd
import pyarrow as pa

from helpers.config import SQL_DIR
from helpers.warehouse.engine import Connection, check_connection, is_spark
from helpers.warehouse.spark import translate as spark_sql


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


def fetch_frame(con: Connection, sql: str, parameters: dict[str, Any]) -> pd.DataFrame:
    """Run a query with bound parameters and return a DataFrame with exact decimals.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        sql: the query text (DuckDB SQL, as ``load_sql`` returns it).
        parameters: values for its ``$name`` parameters.

    Returns:
        The rows; DECIMAL columns hold ``Decimal`` objects and date columns Timestamps,
        whichever the engine.
    """
    check_connection(con)
    if is_spark(con):
        return arrow_to_frame(spark_sql.arrow_table(con, sql, parameters))
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
    return arrow_to_frame(table)


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow rows to pandas the same way for every engine: Decimal money, Timestamp dates."""
    frame = table.to_pandas()
    for field in table.schema:
        # Arrow hands DATE columns over as Python dates; Timestamps sort, plot and merge better.
        if pa.types.is_date(field.type):
            frame[field.name] = pd.to_datetime(frame[field.name])
    return frame


def fetch_rows(con: Connection, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
    """Every row of a (small) query as tuples, on DuckDB or Spark; Python dates, ints and Decimals."""
    check_connection(con)
    if is_spark(con):
        return [tuple(row) for row in spark_sql.query(con, sql, parameters).collect()]
    return con.execute(sql, parameters or {}).fetchall()


def fetch_row(con: Connection, sql: str, parameters: dict[str, Any] | None = None) -> tuple | None:
    """The first row of a query (None when it has none), with the result fully drained.

    DuckDB 2 keeps a connection busy while an execute() result is only partly
    fetched (fetchone), which breaks the caller's next ``con.sql``; fetchall does not.
    """
    rows = fetch_rows(con, sql, parameters)
    return rows[0] if rows else None
