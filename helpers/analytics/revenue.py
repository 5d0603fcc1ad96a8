"""Revenue analytics: MRR by customer and month, MRR movements, retention metrics.

Monthly grain: a customer's MRR in month M is the sum of the ``mrr`` of its
subscriptions with ``start_date <= first day of M < end_date`` (end exclusive,
null = ongoing); active means MRR > 0. The definitions are in
docs/metrics.md; the SQL is in
``helpers/sql/mrr_*.sql`` and ``retention_metrics.sql``.

Money comes back as ``decimal.Decimal`` (the rows travel through Arrow, since
DuckDB's ``.df()`` would turn DECIMAL into float); ratios are floats, NaN
where undefined. Months are pandas Timestamps of the first day of the month.

Every function takes a DuckDB connection or a SparkSession: the same SQL
files run on both (``helpers.warehouse.engine``, ``helpers.warehouse.spark``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from helpers.dates import DateLike, to_date
from helpers.warehouse.engine import Connection
from helpers.warehouse.queries import fetch_frame, load_sql

MOVEMENTS = ("new", "reactivation", "expansion", "contraction", "churn")



def month_bounds(start: DateLike | None, end: DateLike | None) -> dict[str, dt.date | None]:
    """Validate a start/end pair and truncate both to the first day of their month.

    Args:
        start: first month wanted (any day of it), or None for the start of the history.
        end: last month wanted (any day of it), or None for the end of the history.

    Returns:
        The bound parameters ``start_month`` and ``end_month``.
    """
    start_date, end_date = to_date(start, "start"), to_date(end, "end")
    if start_date is not None and end_date is not None and start_date > end_date:
        raise ValueError(f"start ({start_date}) is after end ({end_date}); pass start <= end")
    return {
        "start_month": start_date.replace(day=1) if start_date else None,
        "end_month": end_date.replace(day=1) if end_date else None,
    }



def _month_spine_sql() -> str:
    return load_sql("mrr_month_spine")


def customer_months_sql() -> str:
    """SQL of the active customer months (month, customer_id, mrr) over the whole history."""
    return load_sql("mrr_customer_months", month_spine=_month_spine_sql())


def _customer_movements_sql() -> str:
    return load_sql(
        "mrr_customer_movements", month_spine=_month_spine_sql(), customer_months=customer_months_sql()
    )


def _movements_sql() -> str:
    return load_sql(
        "mrr_movements",
        month_spine=_month_spine_sql(),
        customer_months=customer_months_sql(),
        customer_movements=_customer_movements_sql(),
    )


def mrr_by_customer_month(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None
) -> pd.DataFrame:
    """Each customer's MRR in each month it is active (MRR > 0).

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).

    Returns:
        ``month, customer_id, mrr`` (Decimal), sorted by month and customer.
    """
    sql = load_sql("mrr_by_customer_month", customer_months=customer_months_sql())
    return fetch_frame(con, sql, month_bounds(start, end))


def customer_movements(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None
) -> pd.DataFrame:
    """Each customer's MRR movement per month: who is new, reactivated, expanded, contracted or churned.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).
            Movements are classified over the whole history either way.

    Returns:
        ``month, customer_id, cohort_month, movement, previous_mrr, mrr, amount``;
        movement is one of MOVEMENTS or ``unchanged``; amount = mrr - previous_mrr.
    """
    sql = load_sql("mrr_movements_by_customer", customer_movements=_customer_movements_sql())
    return fetch_frame(con, sql, month_bounds(start, end))


def mrr_movements(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None
) -> pd.DataFrame:
    """The monthly MRR roll-forward with its movements and customer counts.

    By default every month from the first subscription to the month after the
    last one ends (or the month of the data end while one is ongoing), so the
    last churn is counted.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).

    Returns:
        One row per month: ``month, starting_mrr, new, reactivation, expansion,
        contraction, churn, ending_mrr`` (Decimal; contraction and churn <= 0, and
        ending = starting + the five movements exactly), then ``starting_customers,
        active_customers, new_customers, reactivated_customers, expanded_customers,
        contracted_customers, churned_customers``.
    """
    return fetch_frame(con, _movements_sql(), month_bounds(start, end))


def retention_metrics(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None
) -> pd.DataFrame:
    """Monthly logo churn, gross and net revenue retention (monthly and trailing 12 months), quick ratio, ARPA.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).

    Returns:
        One row per month: ``month, logo_churn_rate, grr, nrr, grr_ttm, nrr_ttm,
        quick_ratio`` (floats, NaN where the denominator is zero or, for the TTM
        ratios, where the month 12 months earlier precedes the data) and ``arpa``
        (Decimal rounded to cents, None without active customers).
    """
    sql = load_sql("retention_metrics", movements=_movements_sql(), customer_months=customer_months_sql())
    return fetch_frame(con, sql, month_bounds(start, end))
