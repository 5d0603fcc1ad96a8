"""The risk model: the curve view of the time-to-churn model, and the Kaplan-Meier check of a curve.

``RiskModel.survival_curves`` returns S(1..12) of the same fitted curve the
churn model reads its horizon probability from (helpers.models.time_to_churn):
hazards of month k ahead learned from what happened k months after past
as-of dates, not a one-month hazard iterated with frozen features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.models.person_period import DAYS_PER_MONTH, MAX_MONTHS

__all__ = ["DAYS_PER_MONTH", "RiskModel", "km_calibration_gap"]


@dataclass
class RiskModel:
    """Survival curves over ``horizon_months``.

    Attributes:
        estimator: the fitted helpers.models.time_to_churn.TimeToChurnCurve.
        horizon_months: length of the curves it returns.
        fit_id: the training run; the churn model of the same run carries the same id.
    """

    estimator: Any
    horizon_months: int = MAX_MONTHS
    fit_id: str = ""

    def survival_curves(self, frame: pd.DataFrame, months: int | None = None) -> np.ndarray:
        """S(1..months) per row: the probability of still paying after k months.

        Returns:
            Array of shape (rows, months), non-increasing along each row.
        """
        return self.estimator.survival(frame, months or self.horizon_months)


def km_calibration_gap(curves: np.ndarray, km: pd.DataFrame, months: int) -> pd.DataFrame:
    """Mean predicted survival against Kaplan-Meier at each month 1..months.

    Args:
        curves: predicted S(1..months) per customer.
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
