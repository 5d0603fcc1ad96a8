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

from helpers import config, files
from helpers.warehouse import spark as spark_engine
from helpers.warehouse.engine import Connection, check_engine, is_spark
from helpers.warehouse.queries import fetch_frame, fetch_row


class WarehouseError(Exception):
    """Base class of warehouse errors."""


class WarehouseBusyError(WarehouseError):
    """The warehouse is open read-write elsewhere, or being rebuilt; nothing was changed."""


def check_warehouse_file(target: Path) -> None:
    """Refuse a warehouse path that is a folder (DuckDB's own message would not say so)."""
    if target.is_dir():
        raise WarehouseError(
            f"{target} is a folder, not a warehouse file: pass the .duckdb file itself "
            f"(e.g. --warehouse {target / 'warehouse.duckdb'})"
        )


@contextlib.contextmanager
def write_lock(target: Path, purpose: str) -> Iterator[None]:
    """Hold the warehouse's write lock (``<warehouse>.lock``) for the block.

    Read-write connections and rebuilds take it, readers do not: a rebuild
    replaces the file, so a process still writing to the old one would report
    success for rows that are gone.

    Raises:
        WarehouseBusyError: someone else holds it (the message names the process).
        WarehouseError: the warehouse's folder is not writable.
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(files.exclusive_lock(target, purpose))
        except files.BusyError as error:
            raise WarehouseBusyError(
                f"{target} is in use by {error.holder}, so {purpose} is refused: a rebuild replaces the file, "
                "and rows written meanwhile to the old one would be lost. Wait for it to finish (or close that "
                "connection) and run again; nothing was changed."
            ) from None
        except PermissionError as error:
            raise WarehouseError(
                f"cannot write the warehouse {target}: its folder {target.parent} is not writable "
                f"({error.strerror}). Fix the folder's permissions or choose another --warehouse; "
                "nothing was changed."
            ) from None
        yield


@contextlib.contextmanager
def get_connection(
    read_only: bool = True, path: str | os.PathLike | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; closed on exit. Read-only by default so many readers can share it.

    A read-write connection holds the warehouse's write lock (see ``write_lock``)
    while it is open, so no rebuild can replace the file under its writes.

    Args:
        read_only: open without write access (several processes may read at once).
        path: the warehouse file; defaults to ``config.warehouse_path()``.

    Yields:
        A DuckDB connection.

    Raises:
        FileNotFoundError: no file there (read-only).
        WarehouseError: the path is a folder or not a DuckDB file.
        WarehouseBusyError: read-write while a rebuild or another writer holds the lock.
    """
    target = Path(path) if path is not None else config.warehouse_path()
    check_warehouse_file(target)
    if read_only and not target.exists():
        raise FileNotFoundError(
            f"no warehouse at {target}: build it with `make reports`, "
            "`python -m helpers generate` or `python -m helpers ingest` (or fetch it with `dvc pull`)"
        )
    with contextlib.ExitStack() as stack:
        if not read_only:
            stack.enter_context(write_lock(target, "a read-write connection"))
        con = _open(target, read_only)
        try:
            yield con
        finally:
            con.close()


def _open(target: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(target), read_only=read_only)
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise WarehouseBusyError(
                f"{target} is open read-write by another process ({_first_line(error)}); "
                "wait for it to finish, then run again"
            ) from None
        raise WarehouseError(
            f"{target} cannot be opened as a DuckDB warehouse ({_first_line(error)}). "
            "Check the path; rebuild it with `python -m helpers generate` or `ingest`, or fetch it with `dvc pull`"
        ) from None
    except duckdb.Error as error:
        raise WarehouseError(
            f"{target} cannot be opened as a DuckDB warehouse ({_first_line(error)}). "
            "Check the path; rebuild it with `python -m helpers generate` or `ingest`, or fetch it with `dvc pull`"
        ) from None


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


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


def release_buffers(con: Connection) -> None:
    """Hand back the memory DuckDB keeps cached after a large query: best effort, nothing on Spark.

    An open connection keeps the buffers of its last queries: about 1 GB after the
    stacked snapshots of 100,000 customers, while training goes on to fit models.
    Lowering the memory limit for an instant evicts them, then the default limit is
    restored. The limit is the database's: call this when no other query of this
    process runs on the same file. A connection with a limit of its own is left
    alone (DuckDB reports a limit rounded, 2.7 GiB, so it could not be put back
    exactly), and so is one whose buffers cannot be evicted.
    """
    if is_spark(con):
        return
    limit = "select current_setting('memory_limit')"
    with duckdb.connect() as fresh:
        default = fetch_row(fresh, limit)[0]
    if fetch_row(con, limit)[0] != default:
        return
    try:
        con.execute("set memory_limit = '1MB'")
    except duckdb.Error:
        pass  # pinned buffers: nothing to hand back now
    finally:
        con.execute("reset memory_limit")


def read_metadata(con: Connection) -> dict[str, Any]:
    """The build metadata of an open warehouse (DuckDB, or a SparkSession over its export), JSON decoded."""
    try:
        frame = fetch_frame(con, "select * from meta.build_info", {})
    except duckdb.CatalogException:
        raise _not_a_warehouse(con) from None
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
    try:
        return fetch_row(con, "select data_end from meta.build_info")[0]
    except duckdb.CatalogException:
        raise _not_a_warehouse(con) from None


def data_range(con: Connection) -> tuple[dt.date, dt.date]:
    """The first and last day covered by the warehouse's data, from its build metadata."""
    try:
        row = fetch_row(con, "select data_start, data_end from meta.build_info")
    except duckdb.CatalogException:
        raise _not_a_warehouse(con) from None
    if row is None:
        raise WarehouseError("the warehouse has no build metadata; rebuild it (or export it again for Spark)")
    return pd.Timestamp(row[0]).date(), pd.Timestamp(row[1]).date()


def _not_a_warehouse(con: duckdb.DuckDBPyConnection) -> WarehouseError:
    """The error for a DuckDB file without the suite's tables, naming the file."""
    row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    where = row[0] if row and row[0] else "the database"
    return WarehouseError(
        f"{where} is a DuckDB file but not a warehouse of this suite (it has no meta.build_info table). "
        "Pass the warehouse file with --warehouse, or build one with `python -m helpers generate` or `ingest`"
    )
