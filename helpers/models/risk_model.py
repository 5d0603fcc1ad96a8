"""The risk model: a discrete-time monthly hazard giving each customer a survival curve.

Training rows are customer-months: each monthly snapshot's features with the
label "stopped paying within that month". A gradient-boosted classifier
estimates the monthly hazard h(x). A customer's survival k months ahead is
S(k) = prod_{j<k} (1 - h(x_j)), where x_j is today's features with tenure
advanced j months (the other features held at today's values). Expected MRR
at risk over k months is MRR x (1 - S(k)).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.analytics.features import FEATURES, LABEL
from helpers.models.churn_model import boosted_pipeline

DAYS_PER_MONTH = 365.25 / 12
HORIZON_MONTHS = 12


def is_held_out(customer_ids: pd.Series, share: float, salt: str = "risk-holdout") -> pd.Series:
    """A stable customer split: the same ids are held out on every machine and run."""
    def bucket(customer_id: str) -> float:
        digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return customer_ids.map(bucket) < share


@dataclass
class RiskModel:
    """A fitted monthly hazard model.

    Attributes:
        estimator: classifier of "churns within the month" on FEATURES.
        horizon_months: length of the survival curves it returns.
    """

    estimator: Any
    horizon_months: int = HORIZON_MONTHS
    features: tuple[str, ...] = FEATURES

    def hazard(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of churning within the next month, per row."""
        return self.estimator.predict_proba(frame[list(self.features)])[:, 1]

    def survival_curves(self, frame: pd.DataFrame, months: int | None = None) -> np.ndarray:
        """S(1..months) per row: the probability of still paying after k months.

        Returns:
            Array of shape (rows, months), non-increasing along each row.
        """
        months = months or self.horizon_months
        data = frame[list(self.features)].copy()
        tenure = data["tenure_days"].to_numpy(dtype=float)
        survival = np.ones(len(data))
        curves = np.empty((len(data), months))
        for month in range(months):  # one batch prediction per month ahead
            data["tenure_days"] = tenure + month * DAYS_PER_MONTH
            survival = survival * (1.0 - self.hazard(data))
            curves[:, month] = survival
        return curves


def fit_risk_model(rows: pd.DataFrame, params: dict[str, Any]) -> RiskModel:
    """Fit the monthly hazard on customer-month rows (snapshots with a one-month label)."""
    pipeline = boosted_pipeline(params, max_iter=200, min_samples_leaf=100)
    pipeline.fit(rows[list(FEATURES)], rows[LABEL])
    return RiskModel(estimator=pipeline, horizon_months=params.get("horizon_months", HORIZON_MONTHS))


def time_to_churn(
    population: pd.DataFrame, churn_events: pd.DataFrame, as_of: dt.date, data_end: dt.date
) -> pd.DataFrame:
    """Months from ``as_of`` to each customer's first churn on or after it, censored at the data end.

    Returns:
        ``customer_id``, ``duration_months``, ``churned`` (1 = churn observed).
    """
    future = churn_events[pd.to_datetime(churn_events["churn_date"]).dt.date >= as_of]
    first = future.groupby("customer_id")["churn_date"].min()
    follow_up_end = data_end + dt.timedelta(days=1)
    churn_day = population["customer_id"].map(first)
    churned = churn_day.notna() & (pd.to_datetime(churn_day).dt.date <= follow_up_end)
    end_day = pd.to_datetime(churn_day.where(churned, pd.Timestamp(follow_up_end)))
    duration_days = (end_day - pd.Timestamp(as_of)).dt.days
    return pd.DataFrame({
        "customer_id": population["customer_id"].to_numpy(),
        "duration_months": (duration_days / DAYS_PER_MONTH).to_numpy(),
        "churned": churned.astype(int).to_numpy(),
    })


def km_calibration_gap(curves: np.ndarray, km: pd.DataFrame, months: int) -> pd.DataFrame:
    """Mean predicted survival against Kaplan-Meier at each month 1..months.

    Args:
        curves: predicted S(1..months) per held-out customer.
        km: helpers.analytics.survival.kaplan_meier output on the same customers (time in months).

    Returns:
        ``month``, ``predicted``, ``kaplan_meier``, ``gap`` (absolute difference).
    """
    times = km["time"].to_numpy(dtype=float)
    survival = km["survival"].to_numpy(dtype=float)
    rows = []
    for month in range(1, months + 1):
        # The KM curve is a right-continuous step function: last value at or before t.
        position = np.searchsorted(times, month, side="right") - 1
        observed = float(survival[position]) if position >= 0 else 1.0
        predicted = float(curves[:, month - 1].mean())
        rows.append({"month": month, "predicted": predicted, "kaplan_meier": observed, "gap": abs(predicted - observed)})
    return pd.DataFrame(rows)
