"""The churn model: a calibrated classifier of churn within the horizon, and its baselines.

Trained on stacked monthly snapshots (helpers.analytics.features). The categorical
encoders take their categories from the vocabularies, so a tier the training
data lacked is still a known column. Probabilities are calibrated on the
latest training dates, which the base model never saw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from helpers.analytics.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    LABEL,
    NUMERIC_FEATURES,
)
from helpers.models.drift import feature_profile


def make_preprocessor(scale_numeric: bool) -> ColumnTransformer:
    """One-hot categoricals with vocabulary categories; numeric features scaled or passed through."""
    return ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(
                    categories=[CATEGORICAL_FEATURES[name] for name in CATEGORICAL_FEATURES],
                    handle_unknown="error",
                    sparse_output=False,
                ),
                list(CATEGORICAL_FEATURES),
            ),
            ("numeric", StandardScaler() if scale_numeric else "passthrough", list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )


def boosted_pipeline(params: dict[str, Any], max_iter: int, min_samples_leaf: int) -> Pipeline:
    """Vocabulary one-hot encoding and gradient boosting, configured from ``params``.

    Args:
        params: ``learning_rate``, ``max_iter``, ``max_leaf_nodes``, ``min_samples_leaf``,
            ``l2_regularization``, ``random_state`` (missing ones take the defaults).
        max_iter, min_samples_leaf: the caller's defaults for those two.
    """
    booster = HistGradientBoostingClassifier(
        learning_rate=params.get("learning_rate", 0.05),
        max_iter=params.get("max_iter", max_iter),
        max_leaf_nodes=params.get("max_leaf_nodes", 15),
        min_samples_leaf=params.get("min_samples_leaf", min_samples_leaf),
        l2_regularization=params.get("l2_regularization", 1.0),
        random_state=params.get("random_state", 0),
    )
    return Pipeline([("features", make_preprocessor(scale_numeric=False)), ("booster", booster)])


def split_calibration_dates(frame: pd.DataFrame, calibration_share: float) -> tuple[pd.Series, pd.Series]:
    """Masks of the rows to fit on and the rows (latest as-of dates) to calibrate on."""
    dates = sorted(frame["as_of"].unique())
    if len(dates) < 2:
        raise ValueError("training needs at least two as-of dates: one to fit, one to calibrate")
    n_calibration = min(len(dates) - 1, max(1, int(round(len(dates) * calibration_share))))
    calibration_dates = set(dates[-n_calibration:])
    calibrate = frame["as_of"].isin(calibration_dates)
    return ~calibrate, calibrate


@dataclass
class ChurnModel:
    """A fitted calibrated churn classifier with what scoring needs to explain it.

    Attributes:
        estimator: fitted classifier taking a frame of FEATURES.
        horizon_days: the label window it predicts.
        reference: per-feature reference value (training median or most frequent
            category) used to measure each feature's contribution to a score.
        training_profile: feature distributions of the training rows (helpers.models.drift).
        trained_as_of: first and last as-of date of the training snapshots.
    """

    estimator: Any
    horizon_days: int
    reference: dict[str, Any]
    features: tuple[str, ...] = FEATURES
    training_profile: dict[str, Any] = field(default_factory=dict)
    trained_as_of: tuple[dt.date, dt.date] | None = None

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability of each row."""
        return self.estimator.predict_proba(frame[list(self.features)])[:, 1]

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each row's probability.

        The contribution of feature f is p(x) - p(x with f set to its reference
        value): how much this customer's value of f moves its score away from a
        typical customer's. One batch prediction per feature, no row loops.
        """
        data = frame[list(self.features)].reset_index(drop=True)
        # One stacked batch (the rows, then a copy per feature with that feature
        # at its reference value): a single predict call instead of one per feature.
        copies = [data]
        for name in self.features:
            copies.append(data.assign(**{name: self.reference[name]}))
        scores = self.estimator.predict_proba(pd.concat(copies, ignore_index=True))[:, 1]
        scores = scores.reshape(len(self.features) + 1, len(data))
        return pd.DataFrame((scores[0] - scores[1:]).T, columns=list(self.features), index=frame.index)


def _reference_values(frame: pd.DataFrame) -> dict[str, Any]:
    reference: dict[str, Any] = {name: frame[name].mode().iloc[0] for name in CATEGORICAL_FEATURES}
    reference.update({name: float(frame[name].median()) for name in NUMERIC_FEATURES})
    return reference


def fit_churn_model(train: pd.DataFrame, horizon_days: int, params: dict[str, Any]) -> ChurnModel:
    """Fit gradient boosting on the earlier training dates and calibrate it on the latest ones.

    Args:
        train: stacked snapshots with FEATURES, ``as_of`` and ``churned``.
        horizon_days: the snapshots' label window.
        params: ``learning_rate``, ``max_iter``, ``max_leaf_nodes``, ``min_samples_leaf``,
            ``l2_regularization``, ``calibration`` ('isotonic' or 'sigmoid'),
            ``calibration_share``, ``random_state``.
    """
    fit_rows, calibration_rows = split_calibration_dates(train, params.get("calibration_share", 0.25))
    base = boosted_pipeline(params, max_iter=300, min_samples_leaf=50)
    base.fit(train.loc[fit_rows, list(FEATURES)], train.loc[fit_rows, LABEL])
    calibrated = CalibratedClassifierCV(FrozenEstimator(base), method=params.get("calibration", "isotonic"))
    calibrated.fit(train.loc[calibration_rows, list(FEATURES)], train.loc[calibration_rows, LABEL])
    dates = sorted(train["as_of"].unique())
    return ChurnModel(
        estimator=calibrated,
        horizon_days=horizon_days,
        reference=_reference_values(train),
        training_profile=feature_profile(train),
        trained_as_of=(dates[0], dates[-1]),
    )


@dataclass
class BaseRateBaseline:
    """Predicts the training churn rate for everyone."""

    rate_: float = field(default=float("nan"))

    def fit(self, train: pd.DataFrame) -> "BaseRateBaseline":
        self.rate_ = float(train[LABEL].mean())
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.rate_)


@dataclass
class RecencyRuleBaseline:
    """The rule a CSM would use: the longer since the last event, the riskier.

    Days since the last event are cut into training quantile bins; each bin
    predicts its training churn rate.
    """

    bins: int = 10
    edges_: np.ndarray | None = None
    rates_: np.ndarray | None = None

    def fit(self, train: pd.DataFrame) -> "RecencyRuleBaseline":
        days = train["days_since_last_event"].to_numpy(dtype=float)
        self.edges_ = np.unique(np.quantile(days, np.linspace(0, 1, self.bins + 1)[1:-1]))
        index = np.searchsorted(self.edges_, days, side="right")
        labels = train[LABEL].to_numpy(dtype=float)
        overall = labels.mean()
        self.rates_ = np.array([
            labels[index == b].mean() if (index == b).any() else overall for b in range(len(self.edges_) + 1)
        ])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        index = np.searchsorted(self.edges_, frame["days_since_last_event"].to_numpy(dtype=float), side="right")
        return self.rates_[index]


@dataclass
class LogisticBaseline:
    """Logistic regression on the same features (scaled, one-hot with vocabulary categories)."""

    C: float = 1.0
    pipeline_: Any = None

    def fit(self, train: pd.DataFrame) -> "LogisticBaseline":
        self.pipeline_ = Pipeline([
            ("features", make_preprocessor(scale_numeric=True)),
            ("logistic", LogisticRegression(C=self.C, max_iter=2000)),
        ]).fit(train[list(FEATURES)], train[LABEL])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(frame[list(FEATURES)])[:, 1]


def fit_baselines(train: pd.DataFrame) -> dict[str, Any]:
    """The baselines every churn model is compared with, fitted on the same rows."""
    return {
        "base_rate": BaseRateBaseline().fit(train),
        "recency_rule": RecencyRuleBaseline().fit(train),
        "logistic_regression": LogisticBaseline().fit(train),
    }


@dataclass(frozen=True)
class TimeSplit:
    """As-of dates of training and evaluation snapshots whose label windows never overlap."""

    train_dates: tuple[dt.date, ...]
    test_dates: tuple[dt.date, ...]
    horizon_days: int

    def __post_init__(self) -> None:
        if not self.train_dates or not self.test_dates:
            raise ValueError("a time split needs at least one training and one evaluation date")
        last_train_window_end = max(self.train_dates) + dt.timedelta(days=self.horizon_days)
        if last_train_window_end > min(self.test_dates):
            raise ValueError(
                f"label windows overlap: the last training window ends {last_train_window_end}, "
                f"after the first evaluation date {min(self.test_dates)}; move train_end earlier or test_start later"
            )
