"""Spark SQL from the suite's DuckDB SQL: SQLGlot translation, bound parameters, Arrow results.

The queries are the DuckDB SQL of ``helpers/sql``, built by the same code as
for DuckDB (``helpers.warehouse.queries.load_sql`` and the modules' query builders),
then translated by SQLGlot's DuckDB-to-Spark transpiler. Bound parameters
stay bound: DuckDB's ``$name`` becomes Spark's named parameter ``:name``
(Spark >= 3.4), a list ``array(:name__0, :name__1, ...)``, and the values
travel as typed literals through ``spark.sql(text, args=...)``, never
formatted into the text.

pyspark and sqlglot are optional dependencies (``pip install -e .[spark]``);
this module imports them only when a Spark function runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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
        duckdb_sql: the query as ``helpers.warehouse.queries.load_sql`` builds it for DuckDB.
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
