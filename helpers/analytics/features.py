"""Point-in-time feature snapshots for the churn and risk models.

A snapshot at ``as_of`` has one row per customer paying on the day before
``as_of``. Its features read only data strictly before ``as_of``; its label
``churned`` says whether the customer stopped paying in
``[as_of, as_of + horizon_days)``. The seed system took features at churn
time and so leaked the answer; here changing anything at or after ``as_of``
cannot change a feature (tests/test_features.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from helpers import checks
from helpers.dates import DateLike, to_date
from helpers.domain import (
    RETENTION_SIGNAL_EVENTS,
    EventType,
    Industry,
    PlanTier,
    TicketPriority,
)
from helpers.warehouse.engine import Connection, is_spark
from helpers.warehouse.queries import fetch_frame, load_sql

LABEL = "churned"
ID_COLUMNS = ("customer_id", "as_of")
CATEGORICAL_FEATURES: dict[str, list[str]] = {
    # Encoders take their categories from the vocabularies, never from the data.
    "plan_tier": PlanTier.values(),
    "industry": Industry.values(),
}
NUMERIC_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "mrr_current",
    "mrr_change_30d",
    "mrr_change_90d",
    "subscriptions_so_far",
    "reactivated_before",
    "is_annual",
    "months_to_renewal",
    "events_7d",
    "events_30d",
    "events_prev_30d",
    "events_90d",
    "events_trend",
    "days_since_last_event",
    "adoption_30d",
    "adoption_trend",
    "distinct_event_types_30d",
    "retention_signal_events_30d",
    "invites_90d",
    "feature_limit_hits_30d",
    "premium_trials_90d",
    "tickets_30d",
    "tickets_90d",
    "urgent_tickets_90d",
    "open_tickets",
)
FEATURES: tuple[str, ...] = tuple(CATEGORICAL_FEATURES) + NUMERIC_FEATURES
MAX_HORIZON_DAYS = 730


def _check_horizon(horizon_days: object) -> int:
    return checks.int_in_range(horizon_days, "horizon_days", 1, MAX_HORIZON_DAYS)


def _query_parameters(horizon_days: object) -> dict[str, object]:
    """The parameters both snapshot queries bind: the horizon and the vocabularies' event types."""
    return {
        "horizon_days": _check_horizon(horizon_days),
        "retention_signal_events": [event.value for event in RETENTION_SIGNAL_EVENTS],
        "invite_event": EventType.USER_INVITE.value,
        "limit_event": EventType.FEATURE_LIMIT_HIT.value,
        "trial_event": EventType.PREMIUM_FEATURE_TRIAL.value,
        "urgent_priorities": [TicketPriority.HIGH.value, TicketPriority.CRITICAL.value],
    }


def _dates_column(frame: pd.DataFrame) -> pd.DataFrame:
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame


def snapshot(con: Connection, as_of: DateLike, horizon_days: int = 90) -> pd.DataFrame:
    """Features and label of every customer paying on the day before ``as_of``; one query.

    Args:
        con: a warehouse connection, or a SparkSession (``helpers.warehouse.connect``).
        as_of: the snapshot date; features use data strictly before it.
        horizon_days: label window length: churned in ``[as_of, as_of + horizon_days)``.

    Returns:
        One row per customer: ``customer_id``, ``as_of``, FEATURES and ``churned`` (0/1).
    """
    parameters = _query_parameters(horizon_days) | {"as_of": to_date(as_of, "as_of")}
    sql = load_sql("feature_snapshot", churn_events=load_sql("churn_events"),
                   feature_columns=load_sql("feature_columns"))
    return _dates_column(fetch_frame(con, sql, parameters))


def stacked_snapshots(
    con: Connection, as_of_dates: Iterable[DateLike], horizon_days: int = 90
) -> pd.DataFrame:
    """Snapshots at several dates, one under the other, in date order; one pass over the events.

    The rows and values equal ``snapshot`` at each date (tests/test_features.py
    compares them); on DuckDB one query reads each event once per 90-day window
    holding it (helpers/sql/feature_snapshots_stacked.sql). On Spark, one
    ``snapshot`` per date.

    Args:
        con: a warehouse connection, or a SparkSession.
        as_of_dates: distinct snapshot dates, in any order.
        horizon_days: label window length.

    Returns:
        The snapshots' rows ordered by ``as_of`` then ``customer_id``.
    """
    dates = [to_date(day, "as_of_dates") for day in as_of_dates]
    if not dates:
        raise ValueError("as_of_dates is empty: give at least one snapshot date")
    repeated = sorted({day for day in dates if dates.count(day) > 1})
    if repeated:
        raise ValueError(f"as_of_dates repeats {', '.join(map(str, repeated))}: give each date once")
    dates.sort()
    if is_spark(con):
        return pd.concat([snapshot(con, day, horizon_days) for day in dates], ignore_index=True)
    parameters = _query_parameters(horizon_days) | {"as_of_dates": dates, "event_types": EventType.values()}
    sql = load_sql("feature_snapshots_stacked", churn_events=load_sql("churn_events"),
                   feature_columns=load_sql("feature_columns"))
    return _dates_column(fetch_frame(con, sql, parameters))


def churn_events(con: Connection) -> pd.DataFrame:
    """Every (customer_id, churn_date) at which a customer stopped paying, in that order."""
    frame = fetch_frame(con, load_sql("churn_events"), {})
    # Microseconds, as DuckDB's own pandas conversion gave (training merges on it).
    frame["churn_date"] = frame["churn_date"].astype("datetime64[us]")
    # Sorted here: the SQL is also a CTE of the snapshot query, where an order would cost a sort.
    return frame.sort_values(["customer_id", "churn_date"], ignore_index=True)
