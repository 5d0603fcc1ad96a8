"""Reference implementations of the snapshot's event features, to time the suite against.

- ``floor_event_aggregates``: one hand-written DuckDB GROUP BY (bench/sql), the
  floor any snapshot query over the same events has to pay;
- ``per_customer_event_counts``: the seed system's style, one repository call
  (and one connection) per customer;
- ``load_events`` + ``pandas_event_aggregates``: the raw events loaded into
  pandas and aggregated there, which docs/architecture.md (performance rules) rules out; it is
  here to be measured.

``event_features`` turns the aggregates of the floor or pandas into the
snapshot's column definitions and ``compare_with_snapshot`` checks them
against ``helpers.analytics.features.snapshot`` column by column, so each reference is
known to compute the same thing it is compared with. ``stacked_differences``
checks the ``stacked_snapshots`` step's rows against ``snapshot`` the same way.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.domain import RETENTION_SIGNAL_EVENTS, EventType

SQL_DIR = Path(__file__).resolve().parent / "sql"

# The event features of helpers/sql/feature_snapshot.sql, as the snapshot names them.
EVENT_COUNT_FEATURES: tuple[str, ...] = (
    "events_7d",
    "events_30d",
    "events_prev_30d",
    "events_90d",
    "distinct_event_types_30d",
    "retention_signal_events_30d",
    "invites_90d",
    "feature_limit_hits_30d",
    "premium_trials_90d",
)
EVENT_RATE_FEATURES: tuple[str, ...] = ("events_trend", "adoption_30d", "adoption_trend")
EVENT_FEATURES: tuple[str, ...] = EVENT_COUNT_FEATURES + EVENT_RATE_FEATURES + ("days_since_last_event",)

# Columns of the floor query and of the pandas reference (one row per customer with events).
AGGREGATE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "events_7d",
    "events_30d",
    "events_prev_30d",
    "events_90d",
    "last_event_at",
    "adoption_30d",
    "adoption_prev_60d",
    "distinct_event_types_30d",
    "retention_signal_events_30d",
    "invites_90d",
    "feature_limit_hits_30d",
    "premium_trials_90d",
)

# Averages are summed in a different order by each engine.
RELATIVE_TOLERANCE = 1e-9


def _as_of_timestamp(as_of: dt.date) -> dt.datetime:
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ValueError(f"as_of must be a date, got {as_of!r}")
    return dt.datetime.combine(as_of, dt.time())


def floor_parameters(as_of: dt.date) -> dict[str, object]:
    """Bound parameters of bench/sql/floor_event_features.sql: the window starts as timestamps."""
    as_of_ts = _as_of_timestamp(as_of)
    return {
        "as_of_ts": as_of_ts,
        **{f"since_{days}d": as_of_ts - dt.timedelta(days=days) for days in (7, 30, 60, 90)},
        "retention_signal_events": [event.value for event in RETENTION_SIGNAL_EVENTS],
        "invite_event": EventType.USER_INVITE.value,
        "limit_event": EventType.FEATURE_LIMIT_HIT.value,
        "trial_event": EventType.PREMIUM_FEATURE_TRIAL.value,
        **{f"event_type_{index}": value for index, value in enumerate(EventType.values())},
    }


def floor_sql() -> str:
    """The floor query, its distinct-type count written out as one flag per EventType."""
    flags = " + ".join(
        f'max(case when "timestamp" >= $since_30d and event_type = $event_type_{index} then 1 else 0 end)'
        for index in range(len(EventType.values()))
    )
    text = (SQL_DIR / "floor_event_features.sql").read_text(encoding="utf-8")
    return text.format(distinct_types_30d=f"({flags})")


def floor_event_aggregates(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """The snapshot's event aggregates in one GROUP BY over the events before ``as_of``.

    Args:
        con: a warehouse connection.
        as_of: the snapshot date; events strictly before it count.

    Returns:
        AGGREGATE_COLUMNS, one row per customer with at least one event before ``as_of``.
    """
    return con.execute(floor_sql(), floor_parameters(as_of)).df()


def load_events(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """Every event before ``as_of`` as a DataFrame: the step section 8 forbids, for the pandas reference."""
    return con.execute(
        'select customer_id, "timestamp", event_type, feature_adoption_score '
        'from raw.usage_events where "timestamp" < $as_of_ts',
        {"as_of_ts": _as_of_timestamp(as_of)},
    ).df()


def pandas_event_aggregates(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The floor query's aggregates computed in pandas from the raw events.

    Args:
        events: the output of ``load_events`` (events before ``as_of`` only).
        as_of: the snapshot date.

    Returns:
        AGGREGATE_COLUMNS, one row per customer, as ``floor_event_aggregates``.
    """
    days_ago = (pd.Timestamp(as_of) - events["timestamp"].dt.floor("D")).dt.days
    last_7d, last_30d, last_60d, last_90d = (days_ago <= days for days in (7, 30, 60, 90))
    event_type = events["event_type"]
    score = events["feature_adoption_score"]
    retention_types = [event.value for event in RETENTION_SIGNAL_EVENTS]
    columns = pd.DataFrame(
        {
            "customer_id": events["customer_id"],
            "events_7d": last_7d,
            "events_30d": last_30d,
            "events_prev_30d": last_60d & ~last_30d,
            "events_90d": last_90d,
            "last_event_at": events["timestamp"],
            "adoption_30d": score.where(last_30d),
            "adoption_prev_60d": score.where(last_90d & ~last_30d),
            "types_30d": event_type.where(last_30d),
            "retention_signal_events_30d": last_30d & event_type.isin(retention_types),
            "invites_90d": last_90d & (event_type == EventType.USER_INVITE.value),
            "feature_limit_hits_30d": last_30d & (event_type == EventType.FEATURE_LIMIT_HIT.value),
            "premium_trials_90d": last_90d & (event_type == EventType.PREMIUM_FEATURE_TRIAL.value),
        }
    )
    counted = [name for name in AGGREGATE_COLUMNS if name in columns and columns[name].dtype == bool]
    grouped = columns.groupby("customer_id", sort=True)
    result = grouped[counted].sum()
    result["last_event_at"] = grouped["last_event_at"].max()
    result["adoption_30d"] = grouped["adoption_30d"].mean()
    result["adoption_prev_60d"] = grouped["adoption_prev_60d"].mean()
    result["distinct_event_types_30d"] = grouped["types_30d"].nunique()
    return result.reset_index()[list(AGGREGATE_COLUMNS)]


def event_features(aggregates: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The snapshot's event features from floor or pandas aggregates, by its own definitions.

    Args:
        aggregates: AGGREGATE_COLUMNS, one row per customer with events.
        as_of: the snapshot date.

    Returns:
        ``customer_id`` and EVENT_FEATURES, sorted by customer_id.
    """
    frame = aggregates.sort_values("customer_id").reset_index(drop=True)
    features = pd.DataFrame({"customer_id": frame["customer_id"]})
    for name in EVENT_COUNT_FEATURES:
        features[name] = frame[name].astype("int64")
    features["events_trend"] = (frame["events_30d"] + 1.0) / (frame["events_prev_30d"] + 1.0)
    adoption_30d = frame["adoption_30d"].astype(float)
    features["adoption_30d"] = adoption_30d.fillna(0.0)
    features["adoption_trend"] = features["adoption_30d"] - frame["adoption_prev_60d"].astype(float).fillna(
        adoption_30d
    ).fillna(0.0)
    last_day = pd.to_datetime(frame["last_event_at"]).dt.floor("D")
    features["days_since_last_event"] = (pd.Timestamp(as_of) - last_day).dt.days.astype("int64")
    return features


def compare_with_snapshot(snapshot: pd.DataFrame, features: pd.DataFrame) -> list[str]:
    """Column-by-column differences between a snapshot and reference event features.

    Snapshot customers without a reference row had no events: their counts and
    adoption must be 0 and their days since the last event their tenure.

    Args:
        snapshot: ``helpers.analytics.features.snapshot`` at some as-of.
        features: ``event_features`` at the same as-of.

    Returns:
        One line per column that differs (empty when they agree).
    """
    merged = snapshot.merge(features, on="customer_id", how="left", suffixes=("", "_reference"),
                            indicator=True)
    with_events = merged["_merge"] == "both"
    problems = []
    for name in EVENT_FEATURES:
        ours = merged.loc[with_events, name].to_numpy(dtype=float)
        theirs = merged.loc[with_events, f"{name}_reference"].to_numpy(dtype=float)
        equal = np.isclose(ours, theirs, rtol=RELATIVE_TOLERANCE, atol=1e-12)
        if not equal.all():
            where = np.flatnonzero(~equal)[0]
            row = merged.loc[with_events].iloc[where]
            problems.append(
                f"{name}: {int((~equal).sum())} of {len(equal)} customers differ, e.g. {row['customer_id']}: "
                f"snapshot {row[name]!r}, reference {row[f'{name}_reference']!r}"
            )
    without = merged.loc[~with_events]
    silent = [name for name in EVENT_COUNT_FEATURES + ("adoption_30d", "adoption_trend") if (without[name] != 0).any()]
    if silent:
        problems.append(f"customers without events before as_of have non-zero {', '.join(silent)}")
    if (without["days_since_last_event"] != without["tenure_days"]).any():
        problems.append("customers without events: days_since_last_event differs from tenure_days")
    return problems


def stacked_differences(stacked: pd.DataFrame, single: pd.DataFrame, as_of: dt.date) -> list[str]:
    """Differences between one date's rows of ``stacked_snapshots`` and ``snapshot`` at that date.

    Same columns and rows in the same order; floats within 1e-9 (relative and
    absolute, as summation order may differ), everything else exactly.

    Returns:
        One line per column that differs (empty when they agree).
    """
    if list(stacked.columns) != list(single.columns):
        return [f"{as_of}: columns {list(stacked.columns)} != {list(single.columns)}"]
    if len(stacked) != len(single):
        return [f"{as_of}: {len(stacked)} stacked rows != {len(single)} snapshot rows"]
    problems = []
    for name in single.columns:
        ours, theirs = stacked[name].reset_index(drop=True), single[name].reset_index(drop=True)
        if pd.api.types.is_float_dtype(theirs) or pd.api.types.is_float_dtype(ours):
            equal = np.isclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=RELATIVE_TOLERANCE,
                               atol=RELATIVE_TOLERANCE, equal_nan=True)
        else:
            equal = np.array([a == b for a, b in zip(ours.tolist(), theirs.tolist())], dtype=bool)
        if not equal.all():
            where = int(np.flatnonzero(~equal)[0])
            problems.append(f"{as_of} {name}: {int((~equal).sum())} of {len(equal)} rows differ, e.g. row {where}: "
                            f"stacked {ours[where]!r}, snapshot {theirs[where]!r}")
    return problems


def per_customer_event_counts(
    path: str | os.PathLike, customer_ids: Sequence[str], as_of: dt.date, days: int = 30
) -> list[int]:
    """The seed system's loop: one ``get_event_count_last_n_days`` call per customer.

    Each call goes through a fresh ``DuckDBUsageRepository`` without its context
    manager, so it opens (and closes) a connection of its own, as the seed did.
    """
    from helpers.repositories import DuckDBUsageRepository

    return [
        DuckDBUsageRepository(path).get_event_count_last_n_days(customer_id, days, as_of)
        for customer_id in customer_ids
    ]


def evenly_spaced(values: Sequence[str], count: int) -> list[str]:
    """``count`` values spread evenly over ``values`` (all of them when there are fewer)."""
    if count >= len(values):
        return list(values)
    positions = np.linspace(0, len(values) - 1, count).round().astype(int)
    return [values[position] for position in positions]
