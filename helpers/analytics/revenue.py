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
Each also takes ``segment`` (a name from ``segments.segment_names()``): the
result then has a ``segment`` column first and one set of rows per segment
value, from the same single query; segments add up to the unsegmented result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from helpers.analytics.segments import check_segment, customer_segments_sql
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


def customer_months_sql(segment: str | None = None) -> str:
    """SQL of the active customer months (month, customer_id, mrr, segment) over the whole history.

    Args:
        segment: a checked segment name, or None for the single segment ``'all'``.
    """
    return load_sql(
        "mrr_customer_months", month_spine=_month_spine_sql(), customer_segments=customer_segments_sql(segment)
    )


def _customer_movements_sql(segment: str | None = None) -> str:
    return load_sql(
        "mrr_customer_movements", month_spine=_month_spine_sql(), customer_months=customer_months_sql(segment)
    )


def _movements_sql(segment: str | None = None) -> str:
    return load_sql(
        "mrr_movements",
        month_spine=_month_spine_sql(),
        customer_months=customer_months_sql(segment),
        customer_movements=_customer_movements_sql(segment),
    )


def _monthly(con: Connection, start: DateLike | None, end: DateLike | None, segment: str | None,
             sql_for: Callable[[str | None], str]) -> pd.DataFrame:
    """Run a monthly query between ``start`` and ``end``, segmented or not: how every function here runs its SQL.

    Args:
        sql_for: the query text for the checked segment name (None: all customers).
    """
    name = check_segment(segment)
    return segmented(fetch_frame(con, sql_for(name), month_bounds(start, end)), name)


def segmented(frame: pd.DataFrame, segment: str | None) -> pd.DataFrame:
    """The query's rows with ``segment`` first when one was asked for, without the column otherwise."""
    if segment is None:
        return frame.drop(columns="segment").reset_index(drop=True)
    return frame[["segment", *(column for column in frame.columns if column != "segment")]]


def mrr_by_customer_month(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None, segment: str | None = None
) -> pd.DataFrame:
    """Each customer's MRR in each month it is active (MRR > 0).

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).
        segment: None / "" for all customers, else a name from ``segments.segment_names()``.

    Returns:
        ``month, customer_id, mrr`` (Decimal), sorted by month and customer.
    """
    return _monthly(con, start, end, segment,
                    lambda name: load_sql("mrr_by_customer_month", customer_months=customer_months_sql(name)))


def customer_movements(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None, segment: str | None = None
) -> pd.DataFrame:
    """Each customer's MRR movement per month: who is new, reactivated, expanded, contracted or churned.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).
        segment: None / "" for all customers, else a name from ``segments.segment_names()``.
            Movements are classified over the whole history either way.

    Returns:
        ``month, customer_id, cohort_month, movement, previous_mrr, mrr, amount``;
        movement is one of MOVEMENTS or ``unchanged``; amount = mrr - previous_mrr.
    """
    return _monthly(con, start, end, segment, lambda name: load_sql(
        "mrr_movements_by_customer", customer_movements=_customer_movements_sql(name)))


def paying_by_age(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None, segment: str | None = None
) -> pd.DataFrame:
    """MRR and paying customers of each month by age: whole months since the customers' cohort month.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).
        segment: None / "" for all customers, else a name from ``segments.segment_names()``.

    Returns:
        ``month, age, mrr`` (Decimal), ``customers``, with ``segment`` first when segmented;
        customers paying (MRR > 0) only.
    """
    return _monthly(con, start, end, segment, lambda name: load_sql(
        "mrr_paying_by_age", customer_movements=_customer_movements_sql(name)))


def mrr_movements(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None, segment: str | None = None
) -> pd.DataFrame:
    """The monthly MRR roll-forward with its movements and customer counts.

    By default every month from the first subscription to the month after the
    last one ends (or the month of the data end while one is ongoing), so the
    last churn is counted.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).
        segment: None / "" for all customers, else a name from ``segments.segment_names()``.

    Returns:
        One row per month (per segment and month when segmented): ``month, starting_mrr, new, reactivation, expansion,
        contraction, churn, ending_mrr`` (Decimal; contraction and churn <= 0, and
        ending = starting + the five movements exactly), then ``starting_customers,
        active_customers, new_customers, reactivated_customers, expanded_customers,
        contracted_customers, churned_customers``.
    """
    return _monthly(con, start, end, segment, _movements_sql)


def retention_metrics(
    con: Connection, start: DateLike | None = None, end: DateLike | None = None, segment: str | None = None
) -> pd.DataFrame:
    """Monthly logo churn, gross and net revenue retention (monthly and trailing 12 months), quick ratio, ARPA.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        start, end: first and last month (any day of it; None = the whole history).
        segment: None / "" for all customers, else a name from ``segments.segment_names()``.

    Returns:
        One row per month (per segment and month when segmented): ``month, logo_churn_rate, grr, nrr, grr_ttm, nrr_ttm,
        quick_ratio`` (floats, NaN where the denominator is zero or, for the TTM
        ratios, where the month 12 months earlier precedes the data) and ``arpa``
        (Decimal rounded to cents, None without active customers).
    """
    return _monthly(con, start, end, segment, lambda name: load_sql(
        "retention_metrics", movements=_movements_sql(name), customer_months=customer_months_sql(name)))
