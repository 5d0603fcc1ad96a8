"""The Spark engine: the suite's SQL translated for Spark, sessions and table registration.

pyspark and sqlglot are optional (``pip install -e .[spark]``) and imported
only when a Spark function runs, so importing this package costs nothing.
"""

from helpers.warehouse.spark.session import (
    REGISTERED_BY_SUITE,
    SESSION_DEFAULTS,
    create_session,
    missing_tables,
    register_warehouse,
    running_session,
    stop_session,
)
from helpers.warehouse.spark.translate import (
    SparkEngineError,
    arrow_table,
    query,
    spark_arguments,
    to_spark_sql,
)

__all__ = [
    "REGISTERED_BY_SUITE",
    "SESSION_DEFAULTS",
    "SparkEngineError",
    "arrow_table",
    "create_session",
    "missing_tables",
    "query",
    "register_warehouse",
    "running_session",
    "spark_arguments",
    "stop_session",
    "to_spark_sql",
]
