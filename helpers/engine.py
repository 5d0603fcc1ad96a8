"""The engine seam: every analytics function runs on DuckDB (default) or Spark.

``revenue``, ``cohorts``, ``survival`` and ``features`` take a connection
argument that is either a DuckDB connection or a SparkSession; the query is
the same SQL file either way (``helpers.spark`` translates it for Spark).
A notebook switches engines with one parameter (each engine reads its own
settings and ignores the other's)::

    engine: str = "duckdb"  # or "spark"

    with connect(engine, warehouse_path=None, parquet_dir="data/parquet") as con:
        movements = revenue.mrr_movements(con)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Union

import duckdb

from helpers import config

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
        f"(helpers.engine.connect('spark', ...)); got {type(con).__name__}"
    )


@contextlib.contextmanager
def connect(
    engine: str = "duckdb",
    warehouse_path: str | os.PathLike | None = None,
    parquet_dir: str | os.PathLike | None = None,
    master: str | None = None,
) -> Iterator[Connection]:
    """A connection for the analytics functions on the chosen engine; closed (or released) on exit.

    Each engine reads its own settings and ignores the other's, so a notebook
    can pass both and switch with ``engine`` alone.

    Args:
        engine: ``"duckdb"`` (the embedded warehouse file) or ``"spark"``.
        warehouse_path: DuckDB only: the warehouse file (default ``config.warehouse_path()``).
        parquet_dir: Spark only: a folder written by ``python -m helpers export --parquet DIR``
            (or its copy on s3a://, abfss://, gs://, hdfs://), registered as ``raw.*`` /
            ``meta.build_info``. Default ``$WAREHOUSE_PARQUET_DIR``; when neither is set the
            session must already resolve those tables (your metastore, or
            ``helpers.spark.register_warehouse``).
        master: Spark only: master URL; default ``$SPARK_REMOTE`` (Spark Connect),
            ``$SPARK_MASTER`` or ``local[*]`` (see ``helpers.spark.create_session``).

    Yields:
        A read-only DuckDB connection, or a SparkSession. A session that was
        already running (a cluster notebook's ``spark``) is used and left running;
        one created here is stopped on exit.
    """
    engine = check_engine(engine)
    if engine == "duckdb":
        from helpers import warehouse

        with warehouse.get_connection(read_only=True, path=warehouse_path) as con:
            yield con
        return

    from helpers import spark as spark_engine

    parquet_dir = config.parquet_dir(parquet_dir)
    active = spark_engine.running_session()
    session = active or spark_engine.create_session(master=master)
    try:
        if parquet_dir is not None:
            spark_engine.register_warehouse(session, parquet_dir)
        missing = spark_engine.missing_tables(session)
        if missing:
            raise spark_engine.SparkEngineError(
                f"the Spark session does not resolve {', '.join(missing)}: pass parquet_dir or set "
                "$WAREHOUSE_PARQUET_DIR (a folder written by `python -m helpers export --parquet DIR`), "
                "or register your tables with "
                "helpers.spark.register_warehouse(spark, paths={...})"
            )
        yield session
    finally:
        if active is None:
            spark_engine.stop_session(session)
