"""Opening the warehouse: DuckDB connections, the engine seam, and the build metadata of the data.

A notebook switches engines with one parameter (each engine reads its own
settings and ignores the other's)::

    engine: str = "duckdb"  # or "spark"

    with connect(engine, warehouse_path=None, parquet_dir="data/parquet") as con:
        movements = revenue.mrr_movements(con)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers import config
from helpers.warehouse import spark as spark_engine
from helpers.warehouse.engine import Connection, check_engine
from helpers.warehouse.queries import fetch_frame, fetch_row


class WarehouseError(Exception):
    """Base class of warehouse errors."""


@contextlib.contextmanager
def get_connection(
    read_only: bool = True, path: str | os.PathLike | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; closed on exit. Read-only by default so many readers can share it.

    Args:
        read_only: open without write access (several processes may read at once).
        path: the warehouse file; defaults to ``config.warehouse_path()``.

    Yields:
        A DuckDB connection.
    """
    target = Path(path) if path is not None else config.warehouse_path()
    if read_only and not target.exists():
        raise FileNotFoundError(
            f"no warehouse at {target}: build it with `make reports`, "
            "`python -m helpers generate` or `python -m helpers ingest` (or fetch it with `dvc pull`)"
        )
    con = duckdb.connect(str(target), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


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
            ``helpers.warehouse.spark.register_warehouse``).
        master: Spark only: master URL; default ``$SPARK_REMOTE`` (Spark Connect),
            ``$SPARK_MASTER`` or ``local[*]`` (see ``helpers.warehouse.spark.create_session``).

    Yields:
        A read-only DuckDB connection, or a SparkSession. A session that was
        already running (a cluster notebook's ``spark``) is used and left running;
        one created here is stopped on exit.
    """
    engine = check_engine(engine)
    if engine == "duckdb":
        with get_connection(read_only=True, path=warehouse_path) as con:
            yield con
        return

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
                "helpers.warehouse.spark.register_warehouse(spark, paths={...})"
            )
        yield session
    finally:
        if active is None:
            spark_engine.stop_session(session)


def read_metadata(con: Connection) -> dict[str, Any]:
    """The build metadata of an open warehouse (DuckDB, or a SparkSession over its export), JSON decoded."""
    frame = fetch_frame(con, "select * from meta.build_info", {})
    if frame.empty:
        raise WarehouseError("the warehouse has no build metadata; rebuild it (or export it again for Spark)")
    record = frame.iloc[0].to_dict()
    for column in ("row_counts", "table_hashes", "inputs"):
        if isinstance(record.get(column), str):
            record[column] = json.loads(record[column])
    for column in ("data_start", "data_end"):
        record[column] = pd.Timestamp(record[column]).date()
    return record


def data_end(con: Connection) -> dt.date:
    """The last day covered by the warehouse's data (not the clock); DuckDB or Spark."""
    return fetch_row(con, "select data_end from meta.build_info")[0]


def data_range(con: Connection) -> tuple[dt.date, dt.date]:
    """The first and last day covered by the warehouse's data, from its build metadata."""
    row = fetch_row(con, "select data_start, data_end from meta.build_info")
    if row is None:
        raise WarehouseError("the warehouse has no build metadata; rebuild it (or export it again for Spark)")
    return pd.Timestamp(row[0]).date(), pd.Timestamp(row[1]).date()
