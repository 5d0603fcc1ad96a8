"""Backtest: for past as-of dates, the churn model's predictions against what happened.

For each date: customers scored, expected churners (sum of probabilities)
against realized churners, expected MRR lost against realized MRR lost, and
the ROC-AUC of that date. Dates inside the model's training range are marked
in-sample: their agreement flatters the model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import pandas as pd

from helpers import warehouse
from helpers.analytics.features import LABEL, snapshot
from helpers.dates import DateLike, add_months, month_start, to_date
from helpers.models.evaluation import classification_metrics


def backtest(con: duckdb.DuckDBPyConnection, as_of_dates: Iterable[DateLike], churn_model) -> pd.DataFrame:
    """Predicted against realized churn at each as-of date whose label window lies in the data.

    Args:
        con: a warehouse connection.
        as_of_dates: the past dates to score.
        churn_model: a fitted helpers.models.churn_model.ChurnModel.

    Returns:
        One row per date: ``as_of, customers, expected_churners, realized_churners,
        expected_mrr_lost, realized_mrr_lost, roc_auc, in_sample``.

    Raises:
        ValueError: a date's label window runs past the data end (its outcome is not known yet).
    """
    data_end = warehouse.data_end(con)
    horizon = churn_model.horizon_days
    trained = churn_model.trained_as_of
    rows = []
    for value in as_of_dates:
        as_of = to_date(value, "as_of_dates")
        if as_of + dt.timedelta(days=horizon) > data_end + dt.timedelta(days=1):
            raise ValueError(
                f"as_of {as_of}: its {horizon}-day outcome window ends after the data end {data_end}; "
                "choose dates at least one horizon before it"
            )
        frame = snapshot(con, as_of, horizon)
        probability = churn_model.predict_proba(frame)
        mrr = frame["mrr_current"].to_numpy(dtype=float)
        churned = frame[LABEL].to_numpy()
        rows.append({
            "as_of": as_of,
            "customers": len(frame),
            "expected_churners": float(probability.sum()),
            "realized_churners": int(churned.sum()),
            "expected_mrr_lost": float((probability * mrr).sum()),
            "realized_mrr_lost": float((churned * mrr).sum()),
            "roc_auc": classification_metrics(churned, probability)["roc_auc"],
            "in_sample": bool(trained is not None and trained[0] <= as_of <= trained[1]),
        })
    return pd.DataFrame(rows)


def backtest_dates(con: duckdb.DuckDBPyConnection, horizon_days: int, count: int = 12) -> list[dt.date]:
    """The last ``count`` month starts whose outcome window fits in the data."""
    last = warehouse.data_end(con) + dt.timedelta(days=1) - dt.timedelta(days=horizon_days)
    newest = month_start(last)
    return [add_months(newest, -offset) for offset in range(count - 1, -1, -1)]
