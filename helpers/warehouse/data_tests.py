"""Declared data tests of the warehouse, and the runner that reports problems.

Each rule is declared once here (in the manner of dbt's unique / not_null /
accepted_values / relationships tests) and rendered from a SQL template in
``helpers/sql/tests``. The same rules check a finished warehouse
(``validate``), the staging tables of a build or an ingest, where each
failing row also carries its row number in the input file, and the same
tables read by Spark (``helpers.warehouse.spark.validate``).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from helpers.domain import (
    BillingInterval,
    EventType,
    Industry,
    PlanTier,
    TicketPriority,
)
from helpers.warehouse.catalog import CATALOG, TABLE_KEYS
from helpers.warehouse.engine import Connection, is_spark
from helpers.warehouse.queries import fetch_rows, load_sql

EXAMPLES_PER_PROBLEM = 5
SPARK_CONCURRENT_TESTS = 4  # data tests submitted at once on a SparkSession


@dataclass(frozen=True)
class DataTest:
    """One declared rule: a SQL template, what it fills in, and what to do on failure."""

    name: str
    table: str
    column: str
    template: str
    rule: str
    hint: str
    identifiers: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    needs_data_end: bool = False

    @property
    def allowed_values(self) -> list[str] | None:
        """The accepted values, for accepted-values tests."""
        return self.parameters.get("allowed")


@dataclass(frozen=True)
class Example:
    """One failing row: its key, its row number in the input file (if known) and the value."""

    key: str | None
    source_row: int | None
    value: str | None


@dataclass(frozen=True)
class Problem:
    """A failed data test with the number of failing rows and a few examples."""

    test: DataTest
    count: int
    examples: tuple[Example, ...]

    def describe(self, source_files: dict[str, str] | None = None) -> str:
        """A one-paragraph message: what, where (file, row, column), and what to do.

        Args:
            source_files: table -> input file name, for ingest errors.
        """
        test = self.test
        where = f"{test.table}.{test.column}"
        if source_files and test.table in source_files:
            where = f"{source_files[test.table]} (table {test.table}), column {test.column}"
        shown = []
        for example in self.examples:
            parts = []
            if example.source_row is not None:
                parts.append(f"row {example.source_row}")
            if example.key is not None:
                parts.append(f"{TABLE_KEYS[test.table]}={example.key}")
            parts.append(f"value {example.value!r}" if example.value is not None else "no value")
            shown.append(" ".join(parts))
        message = f"{test.name}: {self.count} row(s) in {where} break the rule '{test.rule}'"
        if shown:
            message += "; e.g. " + "; ".join(shown)
        if test.allowed_values:
            message += f". Allowed values: {', '.join(test.allowed_values)}"
        return message + f". {test.hint}"


def _unique(table: str, column: str) -> DataTest:
    return DataTest(
        name=f"unique_{table}_{column}",
        table=table,
        column=column,
        template="unique",
        rule=f"{column} is unique",
        hint="Remove or merge the duplicated rows so each key appears once.",
    )


def _not_null(table: str, column: str) -> DataTest:
    return DataTest(
        name=f"not_null_{table}_{column}",
        table=table,
        column=column,
        template="not_null",
        rule=f"{column} is present",
        hint=f"Fill in {column} for every row.",
    )


def _accepted(table: str, column: str, values: list[str]) -> DataTest:
    return DataTest(
        name=f"accepted_values_{table}_{column}",
        table=table,
        column=column,
        template="accepted_values",
        rule=f"{column} is one of the allowed values",
        hint=f"Map {column} onto the allowed values (they are case-sensitive).",
        parameters={"allowed": values},
    )


def _range(table: str, column: str, minimum: float | None, maximum: float | None) -> DataTest:
    bounds = f"[{'-inf' if minimum is None else minimum}, {'inf' if maximum is None else maximum}]"
    return DataTest(
        name=f"range_{table}_{column}",
        table=table,
        column=column,
        template="range",
        rule=f"{column} lies in {bounds}",
        hint=f"Correct {column} so it lies in {bounds}.",
        parameters={"minimum": minimum, "maximum": maximum},
    )


def _relationship(table: str, column: str, parent: str, parent_column: str) -> DataTest:
    return DataTest(
        name=f"relationship_{table}_{column}",
        table=table,
        column=column,
        template="relationship",
        rule=f"{column} refers to an existing {parent}.{parent_column}",
        hint=f"Add the missing {parent} or drop the orphan {table} rows.",
        identifiers={"parent": parent, "parent_column": parent_column},
    )


def _ordered(table: str, column: str, earlier: str, strict: bool) -> DataTest:
    comparison = ">" if strict else ">="
    return DataTest(
        name=f"ordered_{table}_{column}",
        table=table,
        column=column,
        template="ordered",
        rule=f"{column} {comparison} {earlier}",
        hint=f"Dates are out of order: {column} must come {'after' if strict else 'on or after'} {earlier}.",
        identifiers={"earlier_column": earlier, "comparison": comparison},
    )


def _not_before_signup(table: str, column: str) -> DataTest:
    return DataTest(
        name=f"not_before_signup_{table}_{column}",
        table=table,
        column=column,
        template="not_before_signup",
        rule=f"{column} is not before the customer's signup_date",
        hint="Check the customer's signup_date or the row's date.",
    )


def _not_after_data_end(table: str, column: str) -> DataTest:
    return DataTest(
        name=f"not_after_data_end_{table}_{column}",
        table=table,
        column=column,
        template="not_after_data_end",
        rule=f"{column} is not after the last day of the data",
        hint="Drop rows dated after the data end, or set a later data end (--data-end, data.data_end).",
        needs_data_end=True,
    )


def _consistency(column: str, value_expr: str, failure_condition: str, rule: str) -> DataTest:
    return DataTest(
        name=f"consistent_customers_{column}",
        table="customers",
        column=column,
        template="customer_consistency",
        rule=rule,
        hint=f"Derive customers.{column} from the subscriptions, or omit the column on ingest and it is derived.",
        identifiers={"value_expr": value_expr, "failure_condition": failure_condition},
        needs_data_end=True,
    )


def _declare_tests() -> tuple[DataTest, ...]:
    tests: list[DataTest] = []
    for entry in CATALOG:
        tests.append(_unique(entry.name, entry.key))
        tests.extend(_not_null(entry.name, column) for column in entry.not_null)
    tests += [
        _accepted("customers", "industry", Industry.values()),
        _accepted("customers", "plan_tier", PlanTier.values()),
        _accepted("subscriptions", "plan_tier", PlanTier.values()),
        _accepted("subscriptions", "billing_interval", BillingInterval.values()),
        _accepted("usage_events", "event_type", EventType.values()),
        _accepted("support_tickets", "priority", TicketPriority.values()),
        _range("customers", "mrr", 0, None),
        _range("subscriptions", "mrr", 0, None),
        _range("usage_events", "feature_adoption_score", 0, 1),
        _relationship("subscriptions", "customer_id", "customers", "customer_id"),
        _relationship("usage_events", "customer_id", "customers", "customer_id"),
        _relationship("support_tickets", "customer_id", "customers", "customer_id"),
        _ordered("customers", "churn_date", "signup_date", strict=False),
        _ordered("subscriptions", "end_date", "start_date", strict=True),
        _ordered("support_tickets", "resolved_at", "created_at", strict=False),
        _not_before_signup("subscriptions", "start_date"),
        _not_before_signup("usage_events", "timestamp"),
        _not_before_signup("support_tickets", "created_at"),
        _not_after_data_end("usage_events", "timestamp"),
        _not_after_data_end("support_tickets", "created_at"),
        _consistency(
            "churn_date",
            "coalesce(cast(churn_date as varchar), 'null') || ' (subscriptions say '"
            " || coalesce(cast(expected_churn_date as varchar), 'null') || ')'",
            "churn_date is distinct from expected_churn_date"
            " and not coalesce(expected_churn_date is null and churn_date = scheduled_churn_date, false)",
            "churn_date is null while a subscription is active at the data end (or the scheduled last end_date "
            "when every active subscription already has one), else its last end_date",
        ),
        _consistency(
            "mrr",
            "cast(mrr as varchar) || ' (subscriptions say ' || cast(expected_mrr as varchar) || ')'",
            "mrr <> expected_mrr",
            "mrr equals the sum of the subscriptions active at the data end",
        ),
    ]
    return tuple(tests)


DATA_TESTS: tuple[DataTest, ...] = _declare_tests()


def render_test(test: DataTest, schema: str, row_expr: str) -> str:
    """Render a test's SQL for a schema; identifiers come from declarations, never from input."""
    return load_sql(
        f"tests/{test.template}",
        schema=schema,
        table=test.table,
        column=_quoted(test.column),
        key=TABLE_KEYS[test.table],
        row_expr=row_expr,
        customer_state=load_sql("customer_state", schema=schema),
        **test.identifiers,
    )


# The tests a primary key answers.
KEY_TEMPLATES = ("unique", "not_null")


def _enforced_keys(con: Connection, schema: str) -> set[tuple[str, str]]:
    """(table, column) of the single-column primary keys DuckDB enforces in ``schema`` (none on Spark)."""
    if is_spark(con):
        return set()
    return {(table, column) for table, column in fetch_rows(con, load_sql("primary_keys"), {"schema_name": schema})}


def _quoted(column: str) -> str:
    # "timestamp" is a keyword; quoting every checked column keeps templates uniform.
    return f'"{column}"'


def run_data_tests(
    con: Connection,
    schema: str = "raw",
    data_end: dt.date | None = None,
    tests: tuple[DataTest, ...] = DATA_TESTS,
    with_source_rows: bool = False,
) -> list[Problem]:
    """Run declared data tests against the tables of ``schema``, on DuckDB or Spark.

    Args:
        con: an open connection to the warehouse (or to a build in progress), or a
            SparkSession resolving ``raw.*`` (``helpers.warehouse.spark.register_warehouse``).
        schema: ``raw`` for a finished warehouse, ``staging`` during a build.
        data_end: last day covered by the data; tests that need it are skipped when None.
        tests: the tests to run (all declared ones by default).
        with_source_rows: the tables carry a ``_source_row`` column (ingest).

    Returns:
        Every failing test as a Problem, in declaration order (empty when all pass). The unique
        and not-null tests of a DuckDB table's primary key are not run: DuckDB refused every
        duplicate or missing key on insert, so they pass (a scan of 20M event ids took 5 s).
    """
    row_expr = "_source_row" if with_source_rows else "cast(null as bigint)"
    enforced = _enforced_keys(con, schema)
    chosen = [test for test in tests if (data_end is not None or not test.needs_data_end)
              and not (test.template in KEY_TEMPLATES and (test.table, test.column) in enforced)]

    def failing_examples(test: DataTest) -> list[tuple]:
        sql = load_sql(
            "tests/summary",
            failing_rows=render_test(test, schema, row_expr),
            examples=str(EXAMPLES_PER_PROBLEM),
        )
        parameters = dict(test.parameters)
        if test.needs_data_end:
            parameters["data_end"] = data_end
        return fetch_rows(con, sql, parameters)

    if is_spark(con):
        # Each test is a small Spark job; a cluster (or local mode) runs
        # several side by side, where one after another leaves cores idle.
        with ThreadPoolExecutor(max_workers=SPARK_CONCURRENT_TESTS) as pool:
            results = list(pool.map(failing_examples, chosen))
    else:
        results = [failing_examples(test) for test in chosen]
    return [
        Problem(
            test=test,
            count=int(rows[0][0]),
            examples=tuple(Example(key, source_row, value) for _, key, source_row, value in rows),
        )
        for test, rows in zip(chosen, results)
        if rows
    ]
