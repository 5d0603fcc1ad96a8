"""Checks of ingest inputs before anything is staged: the path, the CSV's shape, each value's type, range and precision.

Every problem is an ``IngestError`` naming the file, row, column and value and
saying what to do. Rows are numbered from 1, not counting a CSV header line.
Dates must lie in 1900-2200 (what every tool downstream can hold); money has
at most two decimals and fits DECIMAL(12,2); timestamps are UTC (an offset in
the text is converted to UTC).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb

from helpers.warehouse.queries import load_sql

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
MONEY_LIMIT = 10_000_000_000  # DECIMAL(12,2) holds up to 9,999,999,999.99
TAIL_BYTES = 64 * 1024  # enough to hold the last row of any sane CSV

TYPE_EXAMPLES = {
    "DATE": "a date such as 2024-01-31",
    "TIMESTAMP": "a timestamp such as 2024-01-31 13:45:00 (UTC, or with an offset such as +05:00)",
    "DECIMAL(12,2)": "a number such as 199.00",
    "DOUBLE": "a number such as 0.42",
    "VARCHAR": "text",
}
# The kind of value check per column type: the SQL template's {check} and the message's rule.
VALUE_RULES = {
    "DATE": ("date_range", f"dates between {EARLIEST_DATE} and {LATEST_DATE}"),
    "TIMESTAMP": ("date_range", f"timestamps between {EARLIEST_DATE} and {LATEST_DATE}"),
    "DECIMAL(12,2)": ("money", "amounts with at most two decimals, below 10,000,000,000 (DECIMAL(12,2))"),
}


_RANGE = "cast($earliest as {kind}) > {value} or {value} >= cast($latest as {kind}) + interval 1 day"
# Why a present value fails, per column type; NULL when it passes. Built from constants only.
WHY_SQL = {
    "DATE": (
        "case when try_cast(raw_value as date) is null then 'not a date' "
        f"when {_RANGE.format(kind='date', value='try_cast(raw_value as date)')} "
        "then 'outside 1900-01-01 to 2200-12-31' end"
    ),
    "TIMESTAMP": (
        "case when try_cast(raw_value as timestamptz) is null then 'not a timestamp' "
        f"when {_RANGE.format(kind='timestamptz', value='try_cast(raw_value as timestamptz)')} "
        "then 'outside 1900-01-01 to 2200-12-31' end"
    ),
    "DECIMAL(12,2)": (
        "case when try_cast(raw_value as double) is null or not isfinite(try_cast(raw_value as double)) "
        "then 'not a number' "
        "when abs(try_cast(raw_value as double)) >= $money_limit "
        "then 'beyond DECIMAL(12,2): at most 9,999,999,999.99' "
        "when coalesce(try_cast(raw_value as decimal(38, 10)), cast(try_cast(raw_value as double) as decimal(38, 10))) "
        "<> round(coalesce(try_cast(raw_value as decimal(38, 10)), cast(try_cast(raw_value as double) as decimal(38, 10))), 2) "
        "then 'more than two decimals; money is kept to the cent, so round it in the export if that is meant' end"
    ),
    "DOUBLE": "case when try_cast(raw_value as double) is null then 'not a number' end",
}
_VALUE_PARAMETERS = {
    "DATE": {"earliest": EARLIEST_DATE, "latest": LATEST_DATE},
    "TIMESTAMP": {"earliest": EARLIEST_DATE, "latest": LATEST_DATE},
    "DECIMAL(12,2)": {"money_limit": MONEY_LIMIT},
}
# How a checked text value becomes the column's type in staging (timestamps read in UTC).
CAST_SQL = {
    "TIMESTAMP": "cast(cast({text} as timestamptz) as timestamp)",
    "DECIMAL(12,2)": (
        "cast(coalesce(try_cast({text} as decimal(38, 10)), cast(try_cast({text} as double) as decimal(38, 10))) "
        "as decimal(12, 2))"
    ),
}


class IngestError(ValueError):
    """The input files cannot be ingested; the message says what, where and what to do."""


@dataclass(frozen=True)
class ValueProblem:
    """Values of one column that are not of the column's type, or outside what it holds."""

    file: str
    column: str
    rule: str
    count: int
    examples: tuple[tuple[int, str, str], ...]  # row, value, why

    def describe(self) -> str:
        shown = "; ".join(f"row {row} value {value!r} ({why})" for row, value, why in self.examples)
        return f"{self.file}, column {self.column}: {self.count} value(s) are not {self.rule}; e.g. {shown}."


def check_path(table: str, path: Path, option: str) -> None:
    """Refuse a path that is not a readable regular file, saying what it is instead."""
    where = f"{table} file {path} (--{option} or data.files.{option})"
    if path.is_symlink() and not path.exists():
        raise IngestError(f"{where} is a symbolic link to {path.readlink()}, which does not exist")
    if not path.exists():
        raise IngestError(f"{where} not found. Pass an existing CSV or Parquet file.")
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise IngestError(f"{where} is a folder, not a file; give the {table} file inside it")
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise IngestError(f"{where} is {kind}, not a regular file; write the export to a file first")
    if path.stat().st_size == 0:
        raise IngestError(f"{where} is empty; it needs a header line and at least one row")
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise IngestError(
            f"{where}: unsupported file type {suffix!r}; use CSV ({', '.join(sorted(CSV_SUFFIXES))}) "
            f"or Parquet ({', '.join(sorted(PARQUET_SUFFIXES))})"
        )


def is_csv(path: Path) -> bool:
    """Whether ingest reads ``path`` as CSV (else Parquet)."""
    return path.suffix.lower() in CSV_SUFFIXES


def check_csv_shape(path: Path) -> None:
    """Refuse duplicated column names and a last row cut short (a file still being written)."""
    with path.open("rb") as handle:
        first = handle.readline(TAIL_BYTES)
        delimiter = csv_delimiter(path)
        header = next(csv.reader([first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")], delimiter=delimiter))
        size = path.stat().st_size
        handle.seek(max(0, size - TAIL_BYTES))
        tail = handle.read()
    names = [name.strip() for name in header]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise IngestError(
            f"{path}: column(s) {', '.join(repr(name) for name in duplicated)} appear more than once in the header; "
            "keep one column of each name"
        )
    lines = tail.rstrip(b"\r\n").split(b"\n")
    if len(lines) < 2 and size > TAIL_BYTES:
        return  # the last row alone is longer than the tail: the reader reports it
    last = lines[-1].decode("utf-8", errors="replace").rstrip("\r")
    fields = next(csv.reader([last], delimiter=delimiter), [])
    if 0 < len(fields) < len(header) and not tail.endswith(b"\n"):
        rows = _count_rows(path)
        raise IngestError(
            f"{path}: the last row (row {rows}) is cut short: {len(fields)} of {len(header)} fields and no line end "
            "(was the file still being written?). Export the file again, complete."
        )


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def csv_delimiter(path: Path) -> str:
    """The header line's most frequent separator among comma, semicolon, tab and pipe (comma on a tie)."""
    with path.open("rb") as handle:
        header = handle.readline(TAIL_BYTES).decode("utf-8", errors="replace")
    return max(",;\t|", key=lambda candidate: (header.count(candidate), candidate == ","))


def _row_with_wrong_field_count(path: Path) -> tuple[int, int, int] | None:
    """(row, fields, header fields) of the first data row whose field count differs from the header's."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=csv_delimiter(path))
        expected = len(next(reader, []))
        for row, fields in enumerate(reader, start=1):
            if fields and len(fields) != expected:
                return row, len(fields), expected
    return None


def _line_of_bad_byte(path: Path) -> tuple[int, int, int] | None:
    """(line, byte offset, byte) of the first byte that is not UTF-8, or None."""
    line, offset = 1, 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as error:
                if error.start < len(chunk) - 4:  # not just a character split across chunks
                    return line + chunk.count(b"\n", 0, error.start), offset + error.start, chunk[error.start]
            line += chunk.count(b"\n")
            offset += len(chunk)
    return None


def describe_read_error(table: str, path: Path, error: duckdb.Error) -> IngestError:
    """A reader's failure as a message about the file (no reader options the user cannot pass)."""
    text = str(error)
    if is_csv(path):
        if re.search(r"invalid unicode|not utf-?8 encoded", text, re.IGNORECASE):
            found = _line_of_bad_byte(path)
            if found:
                line, offset, byte = found
                return IngestError(
                    f"{path}: row {line - 1} (line {line}, byte {offset}) holds the byte 0x{byte:02x}, which is not "
                    "UTF-8. Save or export the file as UTF-8."
                )
            return IngestError(f"{path}: the file is not UTF-8 text. Save or export it as UTF-8.")
        if re.search(r"maximum line size of \d+ bytes exceeded", text, re.IGNORECASE):
            line = re.search(r"[Ll]ine:? (\d+)", text)
            where = f" near line {line.group(1)}" if line else ""
            return IngestError(
                f"{path}: a line{where} is longer than 2 MB; a {table} row is a few hundred bytes, so the file is "
                "probably missing line breaks or has an unclosed quote. Check the export."
            )
        found = _row_with_wrong_field_count(path)
        if found:
            row, fields, expected = found
            return IngestError(
                f"{path}: row {row} (line {row + 1}) has {fields} field(s) where the header has {expected}. "
                "Check for an unquoted delimiter or a row cut short."
            )
    # The reader's first line says what failed; its suggested options are not the user's to set.
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return IngestError(f"{path}: cannot be read as the {table} file ({first_line}). Check that it is CSV or Parquet.")


def _input_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {row[0]: row[1].replace(" ", "") for row in con.execute(f"describe input_{table}").fetchall()}


def value_problems(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, columns: dict[str, str]
) -> list[ValueProblem]:
    """Values of ``input_<table>`` that do not parse as their column's type, or break its range or precision."""
    problems = []
    already_typed = _input_types(con, table)
    for column, data_type in columns.items():
        if data_type == "VARCHAR" or (already_typed.get(column) == data_type and data_type == "DOUBLE"):
            continue
        rule_name, rule = VALUE_RULES.get(data_type, ("type", TYPE_EXAMPLES.get(data_type, data_type)))
        rows = con.execute(
            load_sql(
                "ingest_value_errors", input_table=f"input_{table}", column=f'"{column}"',
                data_type=data_type,
                why=WHY_SQL.get(data_type, f"case when try_cast(raw_value as {data_type}) is null then 'not {data_type}' end"),
            ),
            _VALUE_PARAMETERS.get(data_type, {}),
        ).fetchall()
        if rows:
            problems.append(ValueProblem(
                file=str(path), column=column,
                rule=TYPE_EXAMPLES.get(data_type, data_type) if rule_name == "type" else rule,
                count=int(rows[0][0]),
                examples=tuple((int(row), str(value), why) for _, row, value, why in rows),
            ))
    return problems
