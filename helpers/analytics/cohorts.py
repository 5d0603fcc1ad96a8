"""Cohort retention: customers grouped by their first active month, followed month by month.

A customer's cohort is its first active month ever (MRR > 0, same monthly
grain as ``helpers.analytics.revenue``); a customer who churns and comes back stays in
that cohort. Logo retention(c, k) is the share of cohort c active in month
c + k; revenue retention(c, k) is the cohort's MRR in month c + k divided by
its new-business MRR (its MRR in month c). SQL: ``helpers/sql/cohort_retention.sql``.
"""

from __future__ import annotations

import pandas as pd

from helpers.analytics.revenue import customer_months_sql, month_bounds, segmented
from helpers.analytics.segments import check_segment
from helpers.dates import DateLike
from helpers.warehouse.engine import Connection
from helpers.warehouse.queries import fetch_frame, load_sql

RETENTION_KINDS = ("logo", "revenue")


def retention_table(
    con: Connection,
    kind: str = "logo",
    start: DateLike | None = None,
    end: DateLike | None = None,
    pivot: bool = False,
    segment: str | None = None,
) -> pd.DataFrame:
    """Retention of each cohort by age in months, tidy or as a cohort x age matrix.

    Args:
        con: an open warehouse connection, or a SparkSession (see ``helpers.warehouse.engine``).
        kind: ``"logo"`` (share of the cohort's customers active) or ``"revenue"``
            (cohort MRR / the cohort's new-business MRR; can exceed 1).
        start, end: first and last cohort month (any day of it; None = unbounded);
            ``end`` is also the last month observed, so later data is not used.
        pivot: return the matrix (index cohort, columns age, values retention;
            NaN where an age is not observed yet) instead of the tidy frame.
        segment: None / "" for all customers, else a name from ``segments.segment_names()``:
            cohorts are then split by segment (a ``segment`` column first; the
            matrix is indexed by segment and cohort).

    Returns:
        Tidy: ``cohort, age, month, cohort_customers, cohort_new_mrr,
        active_customers, mrr, retention`` (money as Decimal), one row per cohort
        and observed age (age 0 = the cohort month, retention 1). Or the matrix.
    """
    if kind not in RETENTION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, RETENTION_KINDS))}; got {kind!r}")
    name = check_segment(segment)
    sql = load_sql(
        "cohort_retention",
        month_spine=load_sql("mrr_month_spine"),
        customer_months=customer_months_sql(name),
    )
    table = segmented(fetch_frame(con, sql, month_bounds(start, end)), name)
    table = table.rename(columns={f"{kind}_retention": "retention"}).drop(
        columns=[f"{other}_retention" for other in RETENTION_KINDS if other != kind]
    )
    return retention_matrix(table) if pivot else table


def retention_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Pivot a tidy retention table into the cohort x age matrix a heatmap needs.

    Args:
        table: the tidy output of ``retention_table``.

    Returns:
        Index ``cohort`` (``segment, cohort`` for a segmented table), one column
        per age (0, 1, ...), values ``retention``.
    """
    index = ["segment", "cohort"] if "segment" in table.columns else "cohort"
    matrix = table.pivot(index=index, columns="age", values="retention")
    matrix.columns.name = "age"
    return matrix
