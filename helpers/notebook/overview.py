"""Tables of the warehouse overview report (01): provenance, row counts, data tests, activity, mix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers import warehouse
from helpers.dates import DateLike, month_start, to_date
from helpers.notebook.formatting import MISSING, format_table
from helpers.warehouse.data_tests import DATA_TESTS, run_data_tests


def describe_warehouse(metadata: Mapping[str, Any]) -> pd.DataFrame:
    """The build metadata as a two-column table (what, value)."""
    seed = metadata.get("seed")
    rows = [
        ("source", metadata.get("source", "unknown")),
        ("generator seed", MISSING if seed is None or pd.isna(seed) else str(int(seed))),
        ("data range", f"{metadata['data_start']} to {metadata['data_end']}"),
        ("content hash (prefix)", str(metadata.get("content_hash", ""))[:12]),
        ("schema version", str(metadata.get("schema_version", MISSING))),
        ("built at (UTC)", MISSING if metadata.get("built_at") is None else f"{pd.Timestamp(metadata['built_at']):%Y-%m-%d %H:%M}"),
    ]
    return pd.DataFrame(rows, columns=["what", "value"]).set_index("what")


def row_count_table(metadata: Mapping[str, Any], summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows per table (from the build metadata), with customers covered and date span when ``summary`` is given.

    Args:
        metadata: ``warehouse.read_metadata``.
        summary: ``warehouse.summary`` (one row per table), optional.
    """
    counts = pd.DataFrame(
        {"table": list(metadata["row_counts"]), "rows": list(metadata["row_counts"].values())}
    )
    if summary is not None:
        counts = counts.merge(
            summary.rename(columns={"table_name": "table"})[["table", "customers", "first_date", "last_date"]],
            on="table", how="left",
        )
        return format_table(
            counts, counts=["rows", "customers"], dates=["first_date", "last_date"], index="table",
            rename={"first_date": "first date", "last_date": "last date"},
        )
    return format_table(counts, counts=["rows"], index="table")


def data_test_results(con: Any, data_end: dt.date | None = None) -> pd.DataFrame:
    """Run every declared data test and list each one with its result.

    Returns:
        One row per test: ``test, table, column, rule, result`` ("pass" or "FAIL"),
        ``failing_rows`` and ``example`` (the first failing row, if any).
    """

    end = data_end if data_end is not None else warehouse.data_end(con)
    problems = {problem.test.name: problem for problem in run_data_tests(con, "raw", end)}
    rows = []
    for test in DATA_TESTS:
        problem = problems.get(test.name)
        rows.append({
            "test": test.name,
            "table": test.table,
            "column": test.column,
            "rule": test.rule,
            "result": "FAIL" if problem else "pass",
            "failing_rows": problem.count if problem else 0,
            "example": problem.describe() if problem else "",
        })
    return pd.DataFrame(rows)


def data_test_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Data test results per table: how many ran, passed and failed, and which kinds of check.

    Args:
        results: ``data_test_results``.

    Returns:
        One row per table (index ``table``): ``tests, passed, failed, failing_rows, checks``
        (e.g. "not null x5, unique, accepted values x2").
    """
    frame = results.copy()
    frame["kind"] = frame.apply(lambda row: _test_kind(row["test"], row["table"]), axis=1)
    rows = []
    for table, group in frame.groupby("table", sort=False):
        kinds = group["kind"].value_counts(sort=False)
        rows.append({
            "table": table,
            "tests": len(group),
            "passed": int((group["result"] == "pass").sum()),
            "failed": int((group["result"] != "pass").sum()),
            "failing_rows": int(group["failing_rows"].sum()),
            "checks": ", ".join(kind if count == 1 else f"{kind} x{count}" for kind, count in kinds.items()),
        })
    return pd.DataFrame(rows).set_index("table")


def _test_kind(name: str, table: str) -> str:
    """``not_null_customers_mrr`` -> ``not null``: the test's name up to its table."""
    head = name.split(f"_{table}_")[0] if f"_{table}_" in name else name
    return head.replace("_", " ")


def weekly_event_counts(daily: pd.DataFrame, start: DateLike | None = None, end: DateLike | None = None) -> pd.DataFrame:
    """Events per ISO week (starting Monday) and event type, complete weeks only.

    Args:
        daily: ``DuckDBUsageRepository.daily_activity()`` (``day, event_type, events``).
        start, end: first and last day to keep (None: the data's own range).

    Returns:
        Index ``week`` (its Monday), one column per event type, values = events.
    """
    frame = daily[["day", "event_type", "events"]].copy()
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="week"))
    frame["day"] = pd.to_datetime(frame["day"])
    first = pd.Timestamp(start) if start is not None else frame["day"].min()
    last = pd.Timestamp(end) if end is not None else frame["day"].max()
    frame = frame[(frame["day"] >= first) & (frame["day"] <= last)]
    frame["week"] = frame["day"] - pd.to_timedelta(frame["day"].dt.weekday, unit="D")
    weekly = frame.pivot_table(index="week", columns="event_type", values="events", aggfunc="sum", fill_value=0)
    # Keep whole weeks only: a partial first or last week would look like a dip.
    complete = (weekly.index >= first) & (weekly.index + pd.Timedelta(days=6) <= last)
    weekly = weekly[complete]
    weekly.columns.name = "event_type"
    return weekly.astype("int64")


def monthly_customer_counts(
    movements: pd.DataFrame, customers: pd.DataFrame, start: DateLike, end: DateLike
) -> pd.DataFrame:
    """Paying customers on the first day of each month, with the signups and churns that led to that snapshot.

    Row M counts the customers paying on the first day of M, and the signups and
    churned customers of the month before (churn as ``docs/metrics.md`` records
    it: active on the first of M-1, not on the first of M).

    Args:
        movements: ``revenue.mrr_movements`` (``month, active_customers, churned_customers``).
        customers: the customers frame (``signup_date``).
        start, end: first and last snapshot month (any day of it).

    Returns:
        ``month, paying_customers, signups, churned_customers``.
    """
    first, last = month_start(to_date(start, "start")), month_start(to_date(end, "end"))
    months = pd.date_range(first, last, freq="MS")
    # A signup during M-1 first shows in the snapshot of M, like a churn.
    signup_months = (pd.to_datetime(customers["signup_date"]).dt.to_period("M") + 1).dt.to_timestamp()
    signups = signup_months.value_counts().reindex(months, fill_value=0)
    moves = movements.set_index(pd.to_datetime(movements["month"]))
    return pd.DataFrame({
        "month": months,
        "paying_customers": moves["active_customers"].reindex(months, fill_value=0).to_numpy(),
        "signups": signups.to_numpy(),
        "churned_customers": moves["churned_customers"].reindex(months, fill_value=0).to_numpy(),
    })


def mix_table(customers: pd.DataFrame, by: str, order: Iterable[str] | None = None) -> pd.DataFrame:
    """Customers, paying customers and MRR per value of ``by`` (e.g. ``plan_tier``).

    Args:
        customers: the customers frame (``customer_id``, ``by``, ``mrr``, ``churn_date``).
        by: the category column.
        order: the categories in display order (default: by customers, descending).

    Returns:
        ``<by>, customers, paying_customers, mrr, customer_share, mrr_share``.
    """
    frame = customers.copy()
    frame["mrr"] = frame["mrr"].astype(float)
    table = frame.groupby(by).agg(
        customers=("customer_id", "size"),
        paying_customers=("mrr", lambda values: int((values > 0).sum())),
        mrr=("mrr", "sum"),
    )
    if order is not None:
        table = table.reindex(list(order), fill_value=0)
    else:
        table = table.sort_values("customers", ascending=False)
    table["customer_share"] = table["customers"] / max(table["customers"].sum(), 1)
    total_mrr = table["mrr"].sum()
    table["mrr_share"] = table["mrr"] / total_mrr if total_mrr else np.nan
    return table.reset_index()
