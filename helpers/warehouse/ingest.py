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
from pathlib import Path
from typing import Any

import duckdb

from helpers.warehouse import catalog, ingest_checks, vocabulary
from helpers.warehouse.build import BuildSpec, build
from helpers.warehouse.ingest_checks import IngestError
from helpers.warehouse.queries import fetch_row, load_sql

__all__ = ["IngestError", "choose_data_end", "ingest"]

OPTIONS = {"customers": "customers", "subscriptions": "subscriptions", "usage_events": "events",
           "support_tickets": "tickets"}  # table -> --option and data.files key


def _read_function(path: Path) -> str:
    if ingest_checks.is_csv(path):
        # Delimiter and quote fixed from the header, so a bad row is reported, not guessed around.
        return "read_csv($path, all_varchar = true, header = true, delim = $delimiter, quote = '\"')"
    return "read_parquet($path)"


def _load_input(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> list[str]:
    """Read one file into ``input_<table>`` (all text, plus ``_source_row``); return its columns."""
    ingest_checks.check_path(table, path, OPTIONS[table])
    parameters = {"path": str(path)}
    if ingest_checks.is_csv(path):
        ingest_checks.check_csv_shape(path)
        parameters["delimiter"] = ingest_checks.csv_delimiter(path)
    try:
        con.execute(
            f"create temp table input_{table} as "
            f"select row_number() over () as _source_row, * from {_read_function(path)}",
            parameters,
        )
    except duckdb.Error as error:
        raise ingest_checks.describe_read_error(table, path, error) from None
    columns = [row[0] for row in con.execute(f"describe input_{table}").fetchall()]
    rows = fetch_row(con, f"select count(*) from input_{table}")[0]
    if rows == 0:
        raise IngestError(f"{path}: no data rows; the {table} file needs at least one row")
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise IngestError(f"{path}: column(s) {', '.join(duplicated)} appear more than once; keep one of each")
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


def _stage(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    already_typed = {row[0]: row[1].replace(" ", "") for row in con.execute(f"describe input_{table}").fetchall()}

    def cast(column: str, data_type: str) -> str:
        # A typed Parquet column passes as is (a naive timestamp is UTC); a zoned one is converted to UTC.
        if already_typed.get(column) == data_type and data_type != "VARCHAR":
            return f'"{column}"'
        text = f"nullif(trim(cast(\"{column}\" as varchar)), '')"
        return ingest_checks.CAST_SQL.get(data_type, "cast({text} as " + data_type + ")").format(text=text)

    casts = ", ".join(f'{cast(column, data_type)} as "{column}"' for column, data_type in columns.items())
    con.execute(f"insert into staging.{table} by name select _source_row, {casts} from input_{table}")


DATA_END_HOW = "set it with --data-end YYYY-MM-DD or data.data_end in params.yaml"


def choose_data_end(con: duckdb.DuckDBPyConnection, given: dt.date | None) -> tuple[dt.date, dict[str, Any], str]:
    """The data end of the staged files: ``given``, else the latest observed activity (never a future end date).

    Returns:
        The date, what the metadata records about the choice, and a sentence for messages.
    """
    latest_activity = fetch_row(con, load_sql("observed_activity", schema="staging"), {"data_end": None})[0]
    if latest_activity is None:
        raise IngestError("cannot infer the data end: the files hold no dates; " + DATA_END_HOW)
    end = given or latest_activity
    _, after, latest_end = fetch_row(con, load_sql("observed_activity", schema="staging"), {"data_end": end})
    how = "given" if given else "auto: the latest observed activity (signups, starts, usage, tickets)"
    note = f"Data end used: {end} ({how}); {DATA_END_HOW}."
    if after:
        note += (
            f" {after} subscription end date(s) lie after it (the latest {latest_end}): those subscriptions are "
            "paying until their end date."
        )
    choice = {"value": str(end), "chosen": "given" if given else "auto", "latest_activity": str(latest_activity),
              "end_dates_after": int(after), "latest_end_date": str(latest_end) if latest_end else None}
    return end, choice, note


def ingest(
    customers: str | os.PathLike,
    subscriptions: str | os.PathLike,
    events: str | os.PathLike | None = None,
    tickets: str | os.PathLike | None = None,
    warehouse_path: str | os.PathLike | None = None,
    data_end: dt.date | None = None,
    source: str = "ingested",
    seed: int | None = None,
    vocabulary_file: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Build a warehouse from the user's files, atomically.

    Args:
        customers: CSV/Parquet with customer_id, industry, plan_tier, signup_date
            [, mrr, churn_date — derived from subscriptions when absent].
        subscriptions: CSV/Parquet with subscription_id, customer_id, plan_tier,
            start_date, end_date (exclusive, empty = ongoing), mrr[, billing_interval].
        events: optional usage events file.
        tickets: optional support tickets file.
        warehouse_path: target warehouse; defaults to ``config.warehouse_path()``.
        data_end: last day covered by the data; None infers the latest observed activity
            (``choose_data_end``): a scheduled end date in the future never moves it.
        source, seed: provenance recorded in the metadata (a generated raw folder says 'synthetic').
        vocabulary_file: optional YAML mapping export spellings onto the suite's vocabularies.

    Returns:
        The build metadata, plus ``notes``: sentences to show the user (the data end chosen).

    Raises:
        IngestError: a file is missing, unreadable, lacks columns, has bad values or unmapped vocabulary.
        WarehouseBuildError: the data breaks a declared rule (file, row, column and value named).
    """
    files = {"customers": customers, "subscriptions": subscriptions, "usage_events": events, "support_tickets": tickets}
    paths = {table: Path(file) for table, file in files.items() if file is not None}
    mapping = vocabulary.load_mapping(vocabulary_file)
    notes: list[str] = []

    def load(con: duckdb.DuckDBPyConnection) -> BuildSpec:
        # Naive timestamps are UTC, offsets are converted to UTC, whatever the machine's zone.
        con.execute("set TimeZone = 'UTC'")
        value_problems: list[ingest_checks.ValueProblem] = []
        derive: list[str] = []
        for table, path in paths.items():
            schema_types = _column_types(con, table)
            found = _load_input(con, table, path)
            present = _check_columns(table, path, found, list(schema_types))
            if table == "customers":
                derive = [column for column in catalog.DERIVED_CUSTOMER_COLUMNS if column not in present]
            typed = {column: schema_types[column] for column in present}
            problems = ingest_checks.value_problems(con, table, path, typed)
            value_problems.extend(problems)
            if not problems:
                _stage(con, table, typed)
        if value_problems:
            raise IngestError(
                f"{len(value_problems)} column(s) hold values of the wrong type or out of range; the warehouse was "
                "not changed (rows are counted from 1 after the header):\n- "
                + "\n- ".join(problem.describe() for problem in value_problems)
            )
        rewritten = vocabulary.apply_mapping(con, mapping, {table: path.name for table, path in paths.items()})
        end, choice, note = choose_data_end(con, data_end)
        notes.append(note)
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
            inputs={table: path.name for table, path in paths.items()} | {
                "derived": derive, "data_end": choice,
                "vocabulary": {"file": Path(vocabulary_file).name if vocabulary_file else None, "rewritten": rewritten},
            },
            source_files={table: path.name for table, path in paths.items()},
            with_source_rows=True,
            data_end_note=note,
        )

    metadata = build(load, warehouse_path)
    return metadata | {"notes": notes}
