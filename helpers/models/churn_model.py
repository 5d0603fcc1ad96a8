"""The churn model: the horizon view of the time-to-churn curve, and how a score is explained.

``ChurnModel.predict_proba`` is 1 - S(horizon days) of the curve
(helpers.models.time_to_churn) the risk model also serves, so the churn
probability and the survival curve of a customer always agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.analytics.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from helpers.models.time_to_churn import survival_at_days


@dataclass
class ChurnModel:
    """The probability of stopping to pay within ``horizon_days``, with what scoring needs to explain it.

    Attributes:
        estimator: the fitted helpers.models.time_to_churn.TimeToChurnCurve.
        horizon_days: the window the probability covers.
        reference: per-feature reference value (training median or most frequent
            category) used to measure each feature's contribution to a score.
        training_profile: feature distributions of the training rows (helpers.models.drift).
        trained_as_of: first and last as-of date of the training snapshots.
        fit_id: the training run; the risk model of the same run carries the same id.
    """

    estimator: Any
    horizon_days: int
    reference: dict[str, Any]
    features: tuple[str, ...] = FEATURES
    training_profile: dict[str, Any] = field(default_factory=dict)
    trained_as_of: tuple[dt.date, dt.date] | None = None
    fit_id: str = ""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of each row's customer stopping to pay within the horizon."""
        return self.estimator.churn_probability(frame, self.horizon_days)

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each row's probability.

        The contribution of feature f is p(x) - p(x with f set to its reference
        value): how much this customer's value of f moves its score away from a
        typical customer's; moving is_annual or months_to_renewal also moves the
        renewal month. Rows already at the reference contribute exactly 0 and are
        not predicted again; boosted trees re-evaluate only the trees that split on
        f (helpers.models.tree_parts); no row loops.
        """
        data = frame[list(self.features)].reset_index(drop=True)
        values = self.estimator.contributions(data, self.horizon_days, self.reference, tuple(self.features))
        return pd.DataFrame(values, columns=list(self.features), index=frame.index)

    def probability_from_curves(self, curves: np.ndarray) -> np.ndarray:
        """``predict_proba`` read off S(1..K) curves of the same fit (K covering the horizon): no prediction."""
        return 1.0 - survival_at_days(curves, self.horizon_days)


def reference_values(frame: pd.DataFrame) -> dict[str, Any]:
    """The typical customer: most frequent category, median of each numeric feature."""
    reference: dict[str, Any] = {name: frame[name].mode().iloc[0] for name in CATEGORICAL_FEATURES}
    reference.update({name: float(frame[name].median()) for name in NUMERIC_FEATURES})
    return reference
