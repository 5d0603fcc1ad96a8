"""Spark sessions for the suite, and the warehouse tables registered under the names the SQL reads.

The warehouse tables are read under the names the SQL uses (``raw.customers``
... ``meta.build_info``): ``register_warehouse`` creates them over a folder
written by ``python -m helpers export --parquet DIR`` or over your own lake
tables with the same columns. pyspark is imported only when a function runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.warehouse.catalog import EXPORTED_TABLES
from helpers.warehouse.spark.translate import SparkEngineError, _require

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Settings of a session this module creates (an existing session is used as it is).
SESSION_DEFAULTS: dict[str, str] = {
    # The warehouse's timestamps carry no time zone (DuckDB TIMESTAMP) and are
    # read as TIMESTAMP_NTZ; UTC keeps any other conversion out of the way.
    "spark.sql.session.timeZone": "UTC",
    # Dates must travel to pandas as dates and decimals as decimals.
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

# The description of the tables register_warehouse creates: only those it replaces.
REGISTERED_BY_SUITE = "registered by churn-cohort-suite (helpers.warehouse.spark.register_warehouse)"

def create_session(
    master: str | None = None, app_name: str = "churn-cohort-suite", config: Mapping[str, str] | None = None
) -> SparkSession:
    """Create a Spark session for the suite, or return the running one unchanged.

    Args:
        master: cluster master URL (``spark://host:7077``, ``yarn``, ``k8s://...``,
            ``local[4]``). None: Spark Connect when ``$SPARK_REMOTE`` is set
            (``sc://host:15002``), else ``$SPARK_MASTER`` if set, else ``local[*]``.
        app_name: the application name shown by the cluster.
        config: extra Spark settings (they override SESSION_DEFAULTS).

    Returns:
        The session. A session already running in this process (a cluster
        notebook's ``spark``) is returned as it is: its settings are its owner's.
    """
    sql_module = _require("pyspark.sql")
    running = running_session()
    if running is not None:
        return running
    settings = dict(SESSION_DEFAULTS)
    builder = sql_module.SparkSession.builder.appName(app_name)
    if master is None and os.environ.get("SPARK_REMOTE"):
        pass  # pyspark connects to $SPARK_REMOTE by itself
    else:
        master = master or os.environ.get("SPARK_MASTER") or "local[*]"
        builder = builder.master(master)
        if master.startswith("local"):
            # CREATE DATABASE makes a folder in the warehouse dir, ./spark-warehouse
            # by default: keep notebooks/ and the project root clean.
            settings["spark.sql.warehouse.dir"] = str(Path(tempfile.gettempdir()) / "churn-cohort-suite-spark-warehouse")
    for key, value in {**settings, **(config or {})}.items():
        builder = builder.config(key, value)
    log_file = Path(tempfile.gettempdir()) / f"churn-cohort-suite-spark-{os.getpid()}.log"
    try:
        with _jvm_output_to(log_file):
            return builder.getOrCreate()
    except Exception as error:
        raise SparkEngineError(
            f"Spark did not start ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            f"Its own account is in {log_file}. Spark needs a Java 17 runtime "
            "(apt-get install openjdk-17-jre-headless, or set JAVA_HOME); check the master URL "
            f"({master or os.environ.get('SPARK_REMOTE')})."
        ) from error


def running_session() -> SparkSession | None:
    """The Spark session already running in this process, from any thread (None without one or pyspark)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    # getActiveSession sees only the calling thread's session; the default
    # session covers one made in another thread (a notebook's `spark`).
    return SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)


@contextlib.contextmanager
def _jvm_output_to(log_file: Path) -> Iterator[None]:
    """Send the output of a JVM started in this block to ``log_file`` instead of our stderr.

    pyspark's JVM inherits the process's stderr: in a Jupyter kernel, whose
    file descriptors are captured, its log lines and stage progress bars would
    land in the notebook and the published report. Failures still reach
    Python as exceptions; the log keeps Spark's own account of them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log_file, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def stop_session(spark: SparkSession, timeout_seconds: float = 60) -> None:
    """Stop a session this suite created, and the local JVM behind it (classic pyspark).

    Stopping the session leaves pyspark's JVM running until Python exits. In
    a Jupyter kernel that is when the kernel terminates its children, which
    interrupts Spark's own clean-up (a Java stack trace in the report run's
    log, stale /tmp/spark-* folders). Closing the JVM's stdin lets it exit
    cleanly now; pyspark starts a new one for the next session. A Spark
    Connect session has no local JVM: it is only stopped.
    """
    spark.stop()
    try:
        from pyspark import SparkContext
    except ImportError:
        return
    gateway = getattr(SparkContext, "_gateway", None)
    process = getattr(gateway, "proc", None)
    if process is None or process.stdin is None:
        return
    try:
        gateway.shutdown()
        process.stdin.close()  # the JVM exits on end of input
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    finally:
        # Whatever happened, the next session must start a new JVM, not reuse this one.
        SparkContext._gateway = None
        SparkContext._jvm = None


def register_warehouse(
    spark: SparkSession,
    parquet_dir: str | os.PathLike | None = None,
    paths: Mapping[str, str | os.PathLike] | None = None,
    file_format: str = "parquet",
) -> dict[str, str]:
    """Make ``raw.*`` and ``meta.build_info`` resolve in a Spark session.

    Creates the databases ``raw`` and ``meta`` if missing and one external
    (unmanaged) table per warehouse table over its files, in the session's
    catalog (on a cluster, its metastore); dropping such a table never
    deletes the files. A table of the same name is replaced only when an
    earlier call registered it; any other is refused.

    Args:
        spark: the session.
        parquet_dir: a folder written by ``python -m helpers export --parquet DIR``, local
            (local mode) or copied to storage every executor reads (``s3a://bucket/suite/``).
        paths: qualified table name -> location, for your own lake tables with the
            warehouse's columns (e.g. ``{"raw.usage_events": "s3://lake/events/"}``);
            overrides the files of ``parquet_dir``.
        file_format: the format of ``paths`` (``parquet``, ``delta``, ``orc``...).

    Returns:
        Qualified table name -> the location registered.
    """
    locations: dict[str, tuple[str, str]] = {}
    if parquet_dir is not None and "://" in str(parquet_dir):
        # Object storage or HDFS (s3a://, abfss://, gs://, hdfs://): the cluster reads it, Spark checks it.
        base = str(parquet_dir).rstrip("/")
        for table, name in EXPORTED_TABLES.items():
            locations[table] = (f"{base}/{name}", "parquet")
    elif parquet_dir is not None:
        folder = Path(parquet_dir)
        missing = [name for name in EXPORTED_TABLES.values() if not (folder / name).exists()]
        if missing:
            raise FileNotFoundError(
                f"{folder} lacks {', '.join(missing)}: write the folder with "
                f"`python -m helpers export --parquet {folder}`"
            )
        for table, name in EXPORTED_TABLES.items():
            locations[table] = (str((folder / name).resolve()), "parquet")
    for table, location in (paths or {}).items():
        if table not in EXPORTED_TABLES:
            raise ValueError(f"unknown table {table!r} in paths; expected one of {', '.join(EXPORTED_TABLES)}")
        locations[table] = (str(location), file_format)
    if not locations:
        raise ValueError("give parquet_dir (a folder written by `python -m helpers export`) or paths")
    for database in sorted({table.split(".")[0] for table in locations}):
        # Fixed identifiers (raw, meta) from EXPORTED_TABLES.
        spark.sql(f"create database if not exists {database}")
    # DuckDB writes TIMESTAMP (no time zone) as Parquet timestamps not adjusted
    # to UTC; read as TIMESTAMP_NTZ they keep their wall-clock value whatever
    # the session time zone. The schema is fixed when the table is created.
    ntz_setting = "spark.sql.parquet.inferTimestampNTZ.enabled"
    previous_ntz = spark.conf.get(ntz_setting, None)
    spark.conf.set(ntz_setting, "true")
    try:
        for table, (location, source) in locations.items():
            if spark.catalog.tableExists(table):
                existing = spark.catalog.getTable(table)
                if existing.description != REGISTERED_BY_SUITE:
                    raise SparkEngineError(
                        f"{table} already exists in the session's catalog ({existing.tableType.lower()}) and was "
                        "not registered by this suite; refusing to replace it. Use it as it is (connect without "
                        "parquet_dir), or drop it yourself first."
                    )
                # Ours, from an earlier registration: an external table, so dropping keeps its files.
                spark.sql(f"drop table {table}")
            # The catalog API takes the location as a value, not as SQL text.
            spark.catalog.createTable(table, path=location, source=source, description=REGISTERED_BY_SUITE)
    finally:
        if previous_ntz is None:
            spark.conf.unset(ntz_setting)
        else:
            spark.conf.set(ntz_setting, previous_ntz)
    return {table: location for table, (location, _) in locations.items()}


def missing_tables(spark: SparkSession) -> list[str]:
    """The warehouse tables that do not resolve in the session (empty when all do)."""
    return [table for table in EXPORTED_TABLES if not spark.catalog.tableExists(table)]
