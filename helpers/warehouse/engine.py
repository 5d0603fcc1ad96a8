"""What the analytics functions accept as a connection: a DuckDB connection or a SparkSession.

``revenue``, ``cohorts``, ``survival`` and ``features`` take either; the query
is the same SQL file (``helpers.warehouse.spark`` translates it for Spark).
``helpers.warehouse.connect`` opens one for a chosen engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import duckdb

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINES = ("duckdb", "spark")

# What the analytics functions accept as ``con``.
Connection = Union[duckdb.DuckDBPyConnection, "SparkSession"]


def is_spark(con: object) -> bool:
    """True when ``con`` is a pyspark SparkSession (classic or Spark Connect); pyspark is not imported."""
    kind = type(con)
    return kind.__name__ == "SparkSession" and kind.__module__.startswith("pyspark.")


def check_engine(engine: str) -> str:
    """The engine name, normalised (``" Spark"`` -> ``"spark"``); ValueError naming the choices otherwise."""
    name = str(engine).strip().lower()
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}; got {engine!r}")
    return name


def check_connection(con: object) -> None:
    """Refuse anything but a DuckDB connection or a SparkSession, naming both ways to get one."""
    if isinstance(con, duckdb.DuckDBPyConnection) or is_spark(con):
        return
    raise TypeError(
        f"con must be a DuckDB connection (helpers.warehouse.get_connection()) or a SparkSession "
        f"(helpers.warehouse.connect('spark', ...)); got {type(con).__name__}"
    )
