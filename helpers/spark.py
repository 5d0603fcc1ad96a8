"""Run the suite's SQL on Apache Spark: one source of truth, translated, never rewritten.

The queries are the DuckDB SQL of ``helpers/sql``, built by the same code as
for DuckDB (``helpers.queries.load_sql`` and the modules' query builders),
then translated by SQLGlot's DuckDB-to-Spark transpiler. Bound parameters
stay bound: DuckDB's ``$name`` becomes Spark's named parameter ``:name``
(Spark >= 3.4), a list ``array(:name__0, :name__1, ...)``, and the values
travel as typed literals through ``spark.sql(text, args=...)``, never
formatted into the text.

The warehouse tables are read under the names the SQL uses (``raw.customers``
... ``meta.build_info``): ``register_warehouse`` creates them over a folder
written by ``python -m helpers export --parquet DIR`` or over your own lake
tables with the same columns.

pyspark and sqlglot are optional dependencies (``pip install -e .[spark]``);
this module imports them only when a Spark function runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from helpers.export import EXPORTED_TABLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Settings of a session this module creates (an existing session is used as it is).
SESSION_DEFAULTS: dict[str, str] = {
    # The warehouse's timestamps carry no time zone (DuckDB TIMESTAMP) and are
    # read as TIMESTAMP_NTZ; UTC keeps any other conversion out of the way.
    "spark.sql.session.timeZone": "UTC",
    # Dates must travel to pandas as dates and decimals as decimals.
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

# The description of the tables register_warehouse creates: only those it replaces.
REGISTERED_BY_SUITE = "registered by churn-cohort-suite (helpers.spark.register_warehouse)"

_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SparkEngineError(RuntimeError):
    """Spark cannot run a query of the suite (missing dependency, table or translation)."""


def _require(module: str, extra_hint: str = "pip install -e '.[spark]'") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise SparkEngineError(
            f"the Spark engine needs the Python package {module.split('.')[0]!r}; install it with `{extra_hint}`"
        ) from error


# ---------------------------------------------------------------------------
# Translation


def _depth(node: Any) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth


def _flatten_ctes(tree: Any) -> Any:
    """Move every nested WITH to the top level under names that cannot clash, each body once.

    The suite composes queries by nesting whole files: a file's CTE chain,
    with its own ``final``, becomes one CTE of another file, and the month
    spine or the customer months appear several times in one query. SQLGlot's
    Spark writer moves nested WITH clauses to the top level without renaming
    what then clashes (its ``move_ctes_to_top_level`` says so), and Spark
    before 4.0 rejects an inner CTE named like an outer one by default
    (``spark.sql.legacy.ctePrecedencePolicy``). So, innermost first (shadowing
    resolves as written), each nested CTE is renamed ``<name>__<hash of its
    body>`` and its references in scope follow; a body that reads only tables
    and CTEs renamed this way means the same wherever it appears, so equal
    bodies share one definition after hoisting. A body reading an outer name
    gets a name of its own.
    """
    sqlglot = _require("sqlglot")
    import sqlglot.transforms

    exp = sqlglot.exp
    nested = [with_ for with_ in tree.find_all(exp.With) if with_.parent is not tree]
    nested.sort(key=_depth, reverse=True)
    renamed: set[str] = set()
    for number, with_ in enumerate(nested):
        scope = with_.parent
        for cte in with_.expressions:
            old_name = cte.alias
            if cte.args["alias"].columns:
                raise SparkEngineError(f"CTE {old_name} names its columns in its alias; name them in its select")
            reads = [table for table in cte.this.find_all(exp.Table) if not table.args.get("db")]
            if all(table.name in renamed for table in reads):
                digest = hashlib.sha1(cte.this.sql(dialect="duckdb", comments=False).encode()).hexdigest()
                new_name = f"{old_name}__{digest[:10]}"
            else:
                new_name = f"{old_name}__n{number}"
            for table in list(scope.find_all(exp.Table)):
                if table.name != old_name or table.args.get("db"):
                    continue
                if not table.alias:
                    # Keep the old name as the alias: columns are qualified with it.
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(old_name)))
                table.set("this", exp.to_identifier(new_name))
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(new_name)))
            renamed.add(new_name)
    tree = sqlglot.transforms.move_ctes_to_top_level(tree)
    top = next((with_ for with_ in tree.find_all(exp.With) if with_.parent is tree), None)
    if top is None:
        return tree
    kept, position = [], {}
    for cte in top.expressions:
        if cte.alias not in position:
            position[cte.alias] = len(kept)
            kept.append(cte)
    top.set("expressions", kept)
    for index, cte in enumerate(kept):
        for table in cte.this.find_all(exp.Table):
            if not table.args.get("db") and position.get(table.name, -1) >= index:
                raise SparkEngineError(f"CTE {cte.alias} reads {table.name} before it is defined after flattening")
    return tree


@lru_cache(maxsize=256)
def to_spark_sql(duckdb_sql: str, list_lengths: tuple[tuple[str, int], ...] = ()) -> str:
    """Translate one DuckDB query of the suite into Spark SQL (cached).

    Args:
        duckdb_sql: the query as ``helpers.queries.load_sql`` builds it for DuckDB.
        list_lengths: ``(name, length)`` of each list parameter: ``$name`` becomes
            ``array(:name__0, ..., :name__<length - 1>)``, one bound element each
            (Spark before 4.0 binds no array value).

    Returns:
        Spark SQL text; ``$name`` parameters become ``:name``.
    """
    sqlglot = _require("sqlglot")
    try:
        statements = [statement for statement in sqlglot.parse(duckdb_sql, read="duckdb") if statement is not None]
        if len(statements) != 1:
            raise SparkEngineError(f"expected one SQL statement to translate, got {len(statements)}")
        tree = _flatten_ctes(statements[0])
        lengths = dict(list_lengths)
        for placeholder in list(tree.find_all(sqlglot.exp.Placeholder)):
            name = placeholder.name
            if name in lengths:
                placeholder.replace(sqlglot.exp.Array(expressions=[
                    sqlglot.exp.Placeholder(this=_element_name(name, index)) for index in range(lengths[name])
                ]))
        # The same as sqlglot.transpile(sql, read="duckdb", write="spark"), on
        # the tree whose nested CTEs were flattened. What SQLGlot knows it
        # cannot write raises; it does not catch every difference of meaning
        # (an ordered list() loses its order), which is why the suite's SQL
        # keeps to portable forms and tests/test_spark.py compares results.
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE, comments=False)
    except sqlglot.errors.SqlglotError as error:
        first_line = next((line for line in duckdb_sql.splitlines() if line.strip()), "")
        raise SparkEngineError(f"SQLGlot cannot translate the query starting {first_line!r} for Spark: {error}") from error


def _element_name(name: str, index: int) -> str:
    return f"{name}__{index}"


def spark_arguments(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Typed Spark literals for a query's bound parameters (``spark.sql(text, args=...)``).

    Dates become DATE literals, numbers numeric literals, text string literals
    (escaped by Spark, never by us) and None NULL. A list is bound element by
    element, as ``name__0``, ``name__1``... (see ``to_spark_sql``).

    Raises:
        TypeError: a value of a type the suite never binds (datetime, dict, ...).
    """
    functions = _require("pyspark.sql.functions")
    arguments: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        if not _PARAMETER_NAME.fullmatch(name):
            raise ValueError(f"parameter name {name!r} is not an identifier")
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"parameter {name!r} is an empty list; Spark cannot type an empty array")
            elements = {_element_name(name, index): item for index, item in enumerate(value)}
        else:
            elements = {name: value}
        for element, item in elements.items():
            if element in arguments or (element != name and element in parameters):
                raise ValueError(f"parameter {element!r} is given twice (a list's elements are bound as name__i)")
            arguments[element] = _literal(functions, element, item)
    return arguments


def _literal(functions: Any, name: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # A datetime would become a TIMESTAMP in the session time zone; the
        # suite binds dates only (as_of is the start of a day).
        raise TypeError(f"parameter {name!r} is a datetime ({value!r}); bind a date")
    if value is None or isinstance(value, (bool, str, int, float, decimal.Decimal, dt.date)):
        # An int becomes INT when it fits, else BIGINT; a date a DATE.
        return functions.lit(value)
    raise TypeError(f"parameter {name!r} has type {type(value).__name__}, which the Spark engine does not bind")


def query(spark: SparkSession, duckdb_sql: str, parameters: Mapping[str, Any] | None = None) -> DataFrame:
    """The Spark DataFrame of a suite query (lazy: nothing runs until it is collected)."""
    parameters = dict(parameters or {})
    list_lengths = tuple(
        sorted((name, len(value)) for name, value in parameters.items() if isinstance(value, (list, tuple)))
    )
    return spark.sql(to_spark_sql(duckdb_sql, list_lengths), args=spark_arguments(parameters))


def arrow_table(spark: SparkSession, duckdb_sql: str, parameters: Mapping[str, Any] | None = None) -> pa.Table:
    """Run a suite query on Spark and collect the (aggregated) result as an Arrow table.

    Decimals stay decimals and dates stay dates, as from DuckDB.
    """
    frame = query(spark, duckdb_sql, parameters)
    to_arrow = getattr(frame, "toArrow", None)  # pyspark >= 4.0
    if to_arrow is not None:
        return to_arrow()
    collect_as_arrow = getattr(frame, "_collect_as_arrow", None)
    if collect_as_arrow is None:
        # pyspark 3.5 over Spark Connect: pandas through Arrow keeps Decimal objects.
        return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)
    # pyspark 3.5 (classic): the Arrow batches behind toPandas, typed by the
    # query's schema even when no row comes back.
    from pyspark.sql.pandas.types import to_arrow_schema

    return pa.Table.from_batches(collect_as_arrow(), schema=to_arrow_schema(frame.schema))


# ---------------------------------------------------------------------------
# Sessions and tables


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
