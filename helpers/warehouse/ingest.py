"""Ingest your own data (CSV or Parquet) into a new warehouse.

Every file is read, type-checked and staged, then the warehouse's declared
data tests run on the staged rows; only when everything passes is the new
warehouse moved into place. Any problem raises an error naming the file, row,
column and value, and leaves the existing warehouse byte-identical.

Rows are numbered from 1, not counting a CSV header line.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from helpers.warehouse import catalog
from helpers.warehouse.build import BuildSpec, build
from helpers.warehouse.queries import fetch_row, load_sql

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


TYPE_EXAMPLES = {
    "DATE": "a date such as 2024-01-31",
    "TIMESTAMP": "a timestamp such as 2024-01-31 13:45:00",
    "DECIMAL(12,2)": "a number such as 199.00",
    "DOUBLE": "a number such as 0.42",
    "VARCHAR": "text",
}


class IngestError(ValueError):
    """The input files cannot be ingested; the message says what, where and what to do."""


@dataclass(frozen=True)
class TypeProblem:
    """Values of one column that do not parse as the column's type."""

    file: str
    column: str
    expected: str
    count: int
    examples: tuple[tuple[int, str], ...]

    def describe(self) -> str:
        shown = "; ".join(f"row {row} value {value!r}" for row, value in self.examples)
        return (
            f"{self.file}, column {self.column}: {self.count} value(s) are not "
            f"{TYPE_EXAMPLES.get(self.expected, self.expected)} ({self.expected}); e.g. {shown}. "
            "Fix the values or leave the cell empty where the column allows it."
        )


def _read_function(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "read_csv($path, all_varchar = true, header = true)"
    if suffix in PARQUET_SUFFIXES:
        return "read_parquet($path)"
    raise IngestError(
        f"{path}: unsupported file type {suffix!r}; use CSV ({', '.join(sorted(CSV_SUFFIXES))}) "
        f"or Parquet ({', '.join(sorted(PARQUET_SUFFIXES))})"
    )


def _load_input(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> list[str]:
    """Read one file into ``input_<table>`` (all text, plus ``_source_row``); return its columns."""
    if not path.is_file():
        raise IngestError(
            f"{table} file not found: {path}. Pass an existing CSV or Parquet file with --{table.split('_')[-1]}."
        )
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty; it needs a header line and at least one row")
    read = _read_function(path)
    try:
        con.execute(
            f"create temp table input_{table} as "
            f"select row_number() over () as _source_row, * from {read}",
            {"path": str(path)},
        )
    except duckdb.Error as error:
        raise IngestError(f"{path}: cannot be read as {table} ({error}). Check the file format.") from None
    columns = [row[0] for row in con.execute(f"describe input_{table}").fetchall()]
    rows = fetch_row(con, f"select count(*) from input_{table}")[0]
    if rows == 0:
        raise IngestError(f"{path}: no data rows; the {table} file needs at least one row")
    return [column for column in columns if column != "_source_row"]


def _check_columns(table: str, path: Path, found: list[str], expected: list[str]) -> list[str]:
    """Return the expected columns present in the file; raise for missing required ones."""
    optional = catalog.table(table).optional_in_files
    missing = [column for column in expected if column not in found and column not in optional]
    if missing:
        raise IngestError(
            f"{path}: missing column(s) {', '.join(missing)} for {table}. "
            f"Expected columns: {', '.join(expected)} (optional: {', '.join(optional) or 'none'}); "
            f"found: {', '.join(found)}. Column names are case-sensitive."
        )
    return [column for column in expected if column in found]


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = $table order by ordinal_position",
        {"table": table},
    ).fetchall()
    return {name: data_type.replace(" ", "") for name, data_type in rows}


def _input_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {row[0]: row[1].replace(" ", "") for row in con.execute(f"describe input_{table}").fetchall()}


def _type_problems(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, columns: dict[str, str]
) -> list[TypeProblem]:
    problems = []
    already_typed = _input_types(con, table)
    for column, data_type in columns.items():
        # Text always parses as VARCHAR; a Parquet column of the target type needs no check.
        if data_type == "VARCHAR" or already_typed.get(column) == data_type:
            continue
        failures = con.execute(
            load_sql("ingest_type_errors", input_table=f"input_{table}", column=f'"{column}"', data_type=data_type)
        ).fetchall()
        if failures:
            problems.append(
                TypeProblem(
                    file=str(path),
                    column=column,
                    expected=data_type,
                    count=int(failures[0][0]),
                    examples=tuple((int(row), str(value)) for _, row, value in failures),
                )
            )
    return problems


def _stage(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    already_typed = _input_types(con, table)

    def cast(column: str, data_type: str) -> str:
        if already_typed.get(column) == data_type and data_type != "VARCHAR":
            return f'"{column}"'
        return f"cast(nullif(trim(cast(\"{column}\" as varchar)), '') as {data_type})"

    casts = ", ".join(f'{cast(column, data_type)} as "{column}"' for column, data_type in columns.items())
    con.execute(f"insert into staging.{table} by name select _source_row, {casts} from input_{table}")


def ingest(
    customers: str | os.PathLike,
    subscriptions: str | os.PathLike,
    events: str | os.PathLike | None = None,
    tickets: str | os.PathLike | None = None,
    warehouse_path: str | os.PathLike | None = None,
    data_end: dt.date | None = None,
    source: str = "ingested",
    seed: int | None = None,
) -> dict[str, Any]:
    """Build a warehouse from the user's files, atomically.

    Args:
        customers: CSV/Parquet with customer_id, industry, plan_tier, signup_date
            [, mrr, churn_date — derived from subscriptions when absent].
        subscriptions: CSV/Parquet with subscription_id, customer_id, plan_tier,
            start_date, end_date (exclusive, empty = ongoing), mrr.
        events: optional usage events file.
        tickets: optional support tickets file.
        warehouse_path: target warehouse; defaults to ``config.warehouse_path()``.
        data_end: last day covered by the data; derived from the latest date in the files when None.
        source, seed: provenance recorded in the metadata (a generated raw folder says 'synthetic').

    Returns:
        The build metadata.

    Raises:
        IngestError: a file is missing, unreadable, lacks columns or has unparsable values.
        WarehouseBuildError: the data breaks a declared rule (file, row, column and value named).
    """
    files = {"customers": customers, "subscriptions": subscriptions, "usage_events": events, "support_tickets": tickets}
    paths = {table: Path(file) for table, file in files.items() if file is not None}

    def load(con: duckdb.DuckDBPyConnection) -> BuildSpec:
        type_problems: list[TypeProblem] = []
        derive: list[str] = []
        for table, path in paths.items():
            schema_types = _column_types(con, table)
            found = _load_input(con, table, path)
            present = _check_columns(table, path, found, list(schema_types))
            if table == "customers":
                derive = [column for column in catalog.DERIVED_CUSTOMER_COLUMNS if column not in present]
            typed = {column: schema_types[column] for column in present}
            problems = _type_problems(con, table, path, typed)
            type_problems.extend(problems)
            if not problems:
                _stage(con, table, typed)
        if type_problems:
            raise IngestError(
                f"{len(type_problems)} column(s) hold values of the wrong type; the warehouse was not changed "
                "(rows are counted from 1 after the header):\n- "
                + "\n- ".join(problem.describe() for problem in type_problems)
            )
        end = data_end or fetch_row(con, load_sql("data_range", schema="staging"))[1]
        if derive:
            assignments = {"mrr": "mrr = implied.expected_mrr", "churn_date": "churn_date = implied.expected_churn_date"}
            con.execute(
                load_sql(
                    "derive_customer_state",
                    columns=" and ".join(derive),
                    assignments=", ".join(assignments[column] for column in derive),
                    customer_state=load_sql("customer_state", schema="staging"),
                ),
                {"data_end": end},
            )
        return BuildSpec(
            source=source,
            seed=seed,
            data_end=end,
            inputs={table: path.name for table, path in paths.items()} | {"derived": derive},
            source_files={table: path.name for table, path in paths.items()},
            with_source_rows=True,
        )

    return build(load, warehouse_path)
