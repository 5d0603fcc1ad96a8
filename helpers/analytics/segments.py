"""Customer segments: which customers column or derived plan splits a result, as validated SQL.

A segment is named by the caller (a notebook parameter, a keyword argument);
the name is checked here against the table catalog before any SQL is built,
so no user text ever reaches a query. Every segmented query joins the
``customer_id, segment`` rows this module's SQL returns (one row per
customer, segment as text) and groups by ``segment``.
"""

from __future__ import annotations

import pandas as pd

from helpers.warehouse.catalog import COLUMNS, TABLE_KEYS
from helpers.warehouse.engine import Connection
from helpers.warehouse.queries import fetch_frame, load_sql

# Segments derived from the subscriptions rather than read from one column.
DERIVED_SEGMENTS = {
    "plan_at_first_payment": "plan tier of the customer's first paid subscription",
    "current_plan": "plan tier of the customer's latest-starting subscription",
}

# The segment value of every customer when no segment is asked for.
ALL_CUSTOMERS = "all"


def segment_names() -> tuple[str, ...]:
    """Every accepted segment name: the derived ones, then the customers columns (key excluded)."""
    columns = tuple(column for column in COLUMNS["customers"] if column != TABLE_KEYS["customers"])
    return (*DERIVED_SEGMENTS, *columns)


def check_segment(segment: str | None) -> str | None:
    """The segment name if it is one of ``segment_names()``; None for no segment (None or "").

    Raises:
        ValueError naming the bad value and listing the accepted ones.
    """
    if segment is None or segment == "":
        return None
    if not isinstance(segment, str) or segment not in segment_names():
        raise ValueError(
            f"segment must be one of {', '.join(segment_names())} (or empty for no segment); got {segment!r}"
        )
    return segment


def with_segment_column(frame: pd.DataFrame, segment: str | None) -> pd.DataFrame:
    """A segmented result as it is (``segment`` first); an unsegmented one gets ``segment`` = ALL_CUSTOMERS first, in place.

    Lets code that loops over segments treat "all customers" as one more segment.
    """
    if segment is None:
        frame.insert(0, "segment", ALL_CUSTOMERS)
    return frame


def customer_segments_sql(segment: str | None) -> str:
    """SQL of ``customer_id, segment`` for every customer (segment ``'all'`` without a segment).

    Args:
        segment: a name from ``segment_names()``, or None / "" for one segment of everyone.

    Returns:
        A query to embed as a CTE; the only identifier formatted into it is a catalog column.
    """
    name = check_segment(segment)
    if name is None:
        return load_sql("segments/none")
    if name in DERIVED_SEGMENTS:
        return load_sql(f"segments/{name}")
    return load_sql("segments/column", column=name)


def customer_segments(con: Connection, segment: str | None) -> pd.DataFrame:
    """``customer_id, segment`` of every customer (segment ``'all'`` without a segment), one query."""
    return fetch_frame(con, customer_segments_sql(segment), {})
