"""Candidate monthly-hazard estimators on person-period rows, and the calibration of their output.

Every candidate has ``fit(rows)`` and ``hazard(rows)`` (probability of
stopping in month ``months_ahead`` given features at as_of): boosted trees,
regularised logistic regression, and two baselines a data scientist would try
first (the life-table base rate by month ahead, and that rate scaled by the
recency of the last event). Encoders take categories from the vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from helpers.analytics.features import CATEGORICAL_FEATURES, FEATURES, LABEL, NUMERIC_FEATURES
from helpers.models import tree_parts
from helpers.models.person_period import (
    HAZARD_FEATURES,
    MAX_MONTHS,
    PERIOD_FEATURES,
    expand,
    period_values,
    ragged_index,
)

CANDIDATES: tuple[str, ...] = ("boosted_trees", "logistic_regression", "base_rate", "recency_rule")
BASELINES: tuple[str, ...] = ("base_rate", "recency_rule")
CALIBRATIONS: tuple[str, ...] = ("none", "sigmoid", "isotonic")
_EPSILON = 1e-6


def make_preprocessor(scale_numeric: bool) -> ColumnTransformer:
    """One-hot categoricals (vocabulary categories); numeric features and period covariates scaled or passed."""
    categorical = [(name, CATEGORICAL_FEATURES[name]) for name in CATEGORICAL_FEATURES]
    numeric = [*NUMERIC_FEATURES, "renewal_in_period"]
    parts = [
        ("categorical", OneHotEncoder(categories=[c for _, c in categorical], handle_unknown="error",
                                      sparse_output=False), [name for name, _ in categorical]),
        ("numeric", StandardScaler() if scale_numeric else "passthrough", numeric),
    ]
    if scale_numeric:
        # A free baseline hazard per month ahead for the linear model (trees split on it).
        parts.append(("months_ahead", OneHotEncoder(categories=[list(np.arange(1.0, MAX_MONTHS + 1))],
                                                    sparse_output=False), ["months_ahead"]))
    else:
        parts.append(("months_ahead", "passthrough", ["months_ahead"]))
    return ColumnTransformer(parts, verbose_feature_names_out=False)


# Person-months encoded at once: the dense one-hot matrix of a million rows would hold gigabytes.
PERSON_MONTH_BLOCK_ROWS = 200_000


def _predict_in_blocks(pipeline: Any, rows: pd.DataFrame) -> np.ndarray:
    """The pipeline's probability of the positive class, ``PERSON_MONTH_BLOCK_ROWS`` rows at a time."""
    features = rows[list(HAZARD_FEATURES)]
    return np.concatenate([
        pipeline.predict_proba(features.iloc[first:first + PERSON_MONTH_BLOCK_ROWS])[:, 1]
        for first in range(0, len(features), PERSON_MONTH_BLOCK_ROWS)
    ] or [np.empty(0)])


def _labels(rows: pd.DataFrame) -> np.ndarray:
    return rows[LABEL].to_numpy(dtype=int)


def _weights(rows: pd.DataFrame) -> np.ndarray:
    """Row weights (``weight`` column; ones when absent)."""
    return rows["weight"].to_numpy(dtype=float) if "weight" in rows else np.ones(len(rows))


def _weighted_mean(values: np.ndarray, weights: np.ndarray, mask: np.ndarray) -> float:
    return float(np.average(values[mask], weights=weights[mask]))


# Early stopping holds out this share of the customers (all of their rows), with at least
# MIN_HOLDOUT_CUSTOMERS of them; with fewer customers, a random share of the rows.
HOLDOUT_SHARE = 0.1
MIN_HOLDOUT_CUSTOMERS = 10


def early_stopping_holdout(rows: pd.DataFrame, seed: int) -> np.ndarray | None:
    """Rows of a random tenth of the customers, held out to tell boosting when to stop.

    Snapshots a month apart overlap: one churn is a person-month of up to 12 stacked
    snapshots, with nearly the same features. Split by row, copies of one event fall
    on both sides, the validation loss keeps falling as the trees learn the customers,
    and boosting never stops (300 of 300 iterations at 5,000 customers, with a worse
    out-of-time loss than at 40). Split by customer, the copies stay on one side.

    Returns:
        A boolean mask of the held-out rows, or None without ``customer_id`` or with too
        few customers to hold any out.
    """
    if "customer_id" not in rows:
        return None
    customers = np.sort(rows["customer_id"].unique())
    count = int(len(customers) * HOLDOUT_SHARE)
    if count < MIN_HOLDOUT_CUSTOMERS:
        return None
    held = np.random.default_rng(seed).choice(customers, size=count, replace=False)
    return rows["customer_id"].isin(held).to_numpy()


@dataclass
class BoostedHazard:
    """Gradient-boosted trees, as many rounds as a held-out tenth of the customers improves with, refitted on all."""

    params: dict[str, Any] = field(default_factory=dict)
    pipeline_: Any = None

    def fit(self, rows: pd.DataFrame) -> "BoostedHazard":
        p = self.params
        seed = p.get("random_state", 0)
        booster = HistGradientBoostingClassifier(
            learning_rate=p.get("learning_rate", 0.1), max_iter=p.get("max_iter", 300),
            max_leaf_nodes=p.get("max_leaf_nodes", 15), min_samples_leaf=p.get("min_samples_leaf", 100),
            l2_regularization=p.get("l2_regularization", 1.0), early_stopping=True,
            validation_fraction=0.1, n_iter_no_change=p.get("n_iter_no_change", 10), random_state=seed,
        )
        # The encoder learns nothing from the rows (vocabulary categories, numbers passed through):
        # it is fitted on all of them, and the booster on the encoded rows outside the holdout.
        features = make_preprocessor(False)
        encoded, labels, weights = features.fit_transform(rows[list(HAZARD_FEATURES)]), _labels(rows), _weights(rows)
        # Rounds given (the final refit, a backtest's refits): no holdout. Too few customers to
        # hold any out: scikit-learn's own split of the rows stops the one fit below.
        rounds = p.get("boosting_rounds")
        held = None if rounds else early_stopping_holdout(rows, seed)
        if held is not None:
            kept = ~held
            booster.fit(encoded[kept], labels[kept], sample_weight=weights[kept], X_val=encoded[held],
                        y_val=labels[held], sample_weight_val=weights[held])
            # The holdout said how many rounds; the final trees learn from every customer
            # (out of time at 800 and 5,000 customers, better than the trees without the holdout's rows).
            rounds = booster.n_iter_
        if rounds:
            booster = clone(booster).set_params(max_iter=int(rounds), early_stopping=False)
        booster.fit(encoded, labels, sample_weight=weights)
        self.pipeline_ = Pipeline([("features", features), ("booster", booster)])
        return self

    @property
    def boosting_rounds(self) -> int:
        """The fitted trees' rounds (``params["boosting_rounds"]`` refits with as many)."""
        return int(self.pipeline_.steps[-1][1].n_iter_)

    def hazard(self, rows: pd.DataFrame) -> np.ndarray:
        return _predict_in_blocks(self.pipeline_, rows)

    def _over_months(self, frame: pd.DataFrame, months: np.ndarray
                     ) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]] | None:
        """``tree_parts``' inputs for each snapshot row's months 1..months[row], or None when it cannot read the trees.

        Returns:
            The snapshot rows (any value in the period columns: tree_parts sets them per
            month), each person-month's row, and its period values.
        """
        if not (tree_parts.supported(self.pipeline_)
                and set(PERIOD_FEATURES) <= tree_parts.passthrough_columns(self.pipeline_.steps[0][1])):
            return None
        row, ahead = ragged_index(months)
        first = frame[list(FEATURES)].assign(**{name: 1.0 for name in PERIOD_FEATURES})
        return first[list(HAZARD_FEATURES)], row, period_values(frame, row, ahead)

    def hazards_over_months(self, frame: pd.DataFrame, months: np.ndarray) -> np.ndarray:
        """``hazards_over_months`` encoding each snapshot row once; trees run once per branch of the months."""
        parts = self._over_months(frame, months)
        if parts is None:
            return self.hazard(expand(frame, months))
        return expit(tree_parts.raw_over_periods(self.pipeline_, *parts))

    def moved_hazards_over_months(self, frame: pd.DataFrame, months: int, moves: dict[str, Any],
                                  differs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``moved_hazards_over_months`` encoding each snapshot row once; trees run per branch of the months."""
        parts = self._over_months(frame, np.full(len(frame), months))
        if parts is None:
            return _moved_hazards_expanded(self, frame, months, moves, differs)
        rows, row, periods = parts
        raw, moved = tree_parts.raw_with_each_moved(self.pipeline_, rows, moves, differs, row, periods)
        return expit(raw), expit(moved)

    def moved_hazards(self, rows: pd.DataFrame, moves: dict[str, Any], differs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``moved_hazards`` re-evaluating, per moved feature, only the trees that split on it."""
        if not tree_parts.supported(self.pipeline_):
            return _moved_hazards_by_prediction(self, rows, moves, differs)
        raw, moved = tree_parts.raw_with_each_moved(self.pipeline_, rows[list(HAZARD_FEATURES)], moves, differs)
        return expit(raw), expit(moved)


@dataclass
class LogisticHazard:
    """L2-regularised logistic regression on scaled features with a baseline hazard per month ahead."""

    C: float = 1.0
    pipeline_: Any = None

    def fit(self, rows: pd.DataFrame) -> "LogisticHazard":
        self.pipeline_ = Pipeline([
            ("features", make_preprocessor(True)),
            ("logistic", LogisticRegression(C=self.C, max_iter=1000)),
        ]).fit(rows[list(HAZARD_FEATURES)], _labels(rows), logistic__sample_weight=_weights(rows))
        return self

    def hazard(self, rows: pd.DataFrame) -> np.ndarray:
        return _predict_in_blocks(self.pipeline_, rows)

    def _logits(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The encoded rows and their logits (log-odds of the hazard)."""
        encoded = self.pipeline_.steps[0][1].transform(rows[list(HAZARD_FEATURES)])
        logistic = self.pipeline_.steps[1][1]
        return encoded, encoded @ logistic.coef_[0] + logistic.intercept_[0]

    def hazards_over_months(self, frame: pd.DataFrame, months: np.ndarray) -> np.ndarray:
        """``hazards_over_months`` encoding each snapshot row once.

        The logit is a sum over the encoded columns, so a month ahead (and a renewal in
        it) moves every row's logit by the same amount, read off one row.
        """
        row, ahead = ragged_index(months)
        if not len(frame) or not len(row):
            return np.empty(len(row))
        periods = period_values(frame, row, ahead)
        first = frame[list(FEATURES)].assign(months_ahead=1.0, renewal_in_period=0.0)
        _, logits = self._logits(first)
        grid = first.iloc[np.zeros(2 * MAX_MONTHS, dtype=int)].assign(
            months_ahead=np.repeat(np.arange(1.0, MAX_MONTHS + 1), 2), renewal_in_period=np.tile([0.0, 1.0], MAX_MONTHS))
        shift = self._logits(grid)[1] - logits[0]  # month m, renewal r against month 1 without one
        cell = (periods["months_ahead"].astype(int) - 1) * 2 + periods["renewal_in_period"].astype(int)
        return expit(logits[row] + shift[cell])

    def moved_hazards(self, rows: pd.DataFrame, moves: dict[str, Any], differs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``moved_hazards`` from one encoding: moving f changes the logit by f's columns' share only."""
        if not len(rows):
            return np.empty(0), np.empty((0, len(moves)))
        encoded, logits = self._logits(rows)
        target = self.pipeline_.steps[0][1].transform(rows.iloc[[0]].assign(**moves)[list(HAZARD_FEATURES)])[0]
        weights = self.pipeline_.steps[1][1].coef_[0]
        blocks = tree_parts.input_columns(self.pipeline_.steps[0][1])
        moved = np.repeat(logits[:, None], len(moves), axis=1)
        for position, name in enumerate(moves):
            where, columns = differs[:, position], blocks[name]
            moved[where, position] += (target[columns] - encoded[np.ix_(where, columns)]) @ weights[columns]
        return expit(logits), expit(moved)


@dataclass
class BaseRateHazard:
    """The life table: the training hazard of each month ahead, the same for every customer."""

    rates_: np.ndarray | None = None

    def fit(self, rows: pd.DataFrame) -> "BaseRateHazard":
        y, k, w = _labels(rows), rows["months_ahead"].to_numpy(dtype=int), _weights(rows)
        overall = _weighted_mean(y, w, np.ones(len(y), dtype=bool))
        self.rates_ = np.array([
            _weighted_mean(y, w, k == m) if (k == m).any() else overall for m in range(1, MAX_MONTHS + 1)
        ])
        return self

    def hazard(self, rows: pd.DataFrame) -> np.ndarray:
        return self.rates_[rows["months_ahead"].to_numpy(dtype=int) - 1]


@dataclass
class RecencyHazard:
    """The CSM rule: the life-table hazard scaled by the churn ratio of the days-since-last-event decile."""

    bins: int = 10
    edges_: np.ndarray | None = None
    ratios_: np.ndarray | None = None
    life_table_: BaseRateHazard | None = None

    def fit(self, rows: pd.DataFrame) -> "RecencyHazard":
        days = rows["days_since_last_event"].to_numpy(dtype=float)
        self.edges_ = np.unique(np.quantile(days, np.linspace(0, 1, self.bins + 1)[1:-1]))
        index = np.searchsorted(self.edges_, days, side="right")
        y, w = _labels(rows).astype(float), _weights(rows)
        overall = max(_weighted_mean(y, w, np.ones(len(y), dtype=bool)), _EPSILON)
        self.ratios_ = np.array([
            _weighted_mean(y, w, index == b) / overall if (index == b).any() else 1.0
            for b in range(len(self.edges_) + 1)
        ])
        self.life_table_ = BaseRateHazard().fit(rows)
        return self

    def hazard(self, rows: pd.DataFrame) -> np.ndarray:
        index = np.searchsorted(self.edges_, rows["days_since_last_event"].to_numpy(dtype=float), side="right")
        return np.clip(self.life_table_.hazard(rows) * self.ratios_[index], 0.0, 1.0)


def hazards_over_months(model: Any, frame: pd.DataFrame, months: np.ndarray) -> np.ndarray:
    """Raw hazards of each snapshot row's months 1..months[row] (``expand``'s rows, in its order).

    Args:
        model: a fitted candidate.
        frame: snapshot rows with FEATURES.
        months: months per row.
    """
    if hasattr(model, "hazards_over_months"):
        return model.hazards_over_months(frame, months)
    return model.hazard(expand(frame, months))


def moved_hazards(model: Any, rows: pd.DataFrame, moves: dict[str, Any], differs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The hazards of ``rows``, and their hazards with each ``moves`` column set to its value.

    Args:
        model: a fitted candidate.
        rows: person-period rows.
        moves: column name to the value it is moved to.
        differs: (rows, len(moves)) booleans: where the row's value differs from the move's;
            elsewhere the moved hazard is the row's own, exactly (not predicted again).

    Returns:
        ``hazard`` of shape (rows,) and ``moved`` of shape (rows, len(moves)).
    """
    if hasattr(model, "moved_hazards"):
        return model.moved_hazards(rows, moves, differs)
    return _moved_hazards_by_prediction(model, rows, moves, differs)


def moved_hazards_over_months(model: Any, frame: pd.DataFrame, months: int, moves: dict[str, Any],
                              differs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``moved_hazards`` of each snapshot row's months 1..months (``expand``'s rows, in its order).

    Args:
        model: a fitted candidate.
        frame: snapshot rows with FEATURES.
        months: months per row.
        moves: column name (a snapshot feature) to the value it is moved to.
        differs: (len(frame), len(moves)) booleans, per snapshot row (its months share its features).

    Returns:
        ``hazard`` of shape (len(frame) * months,) and ``moved`` of shape (len(frame) * months, len(moves)).
    """
    if hasattr(model, "moved_hazards_over_months"):
        return model.moved_hazards_over_months(frame, months, moves, differs)
    return _moved_hazards_expanded(model, frame, months, moves, differs)


def _moved_hazards_expanded(model: Any, frame: pd.DataFrame, months: int, moves: dict[str, Any],
                            differs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``moved_hazards_over_months`` on the expanded person-months (each snapshot row's flags repeated)."""
    return moved_hazards(model, expand(frame, months), moves, np.repeat(differs, months, axis=0))


def _moved_hazards_by_prediction(model: Any, rows: pd.DataFrame, moves: dict[str, Any], differs: np.ndarray
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """``moved_hazards`` by one prediction of the differing rows per moved column."""
    hazard = model.hazard(rows)
    moved = np.repeat(hazard[:, None], len(moves), axis=1)
    for position, (name, value) in enumerate(moves.items()):
        where = differs[:, position]
        if where.any():
            moved[where, position] = model.hazard(rows[where].assign(**{name: value}))
    return hazard, moved


def with_boosting_rounds(settings: dict[str, Any], rounds: int | None) -> dict[str, Any]:
    """``churn_model`` settings whose boosted trees fit ``rounds`` rounds on every row (None: unchanged).

    The rounds are found once, by the evaluation fit's held-out customers; the final
    refit and the backtest's refits reuse them, so the registered model is the recipe
    that was evaluated.
    """
    if rounds is None:
        return settings
    return settings | {"params": {**settings.get("params", {}), "boosting_rounds": int(rounds)}}


def make_candidate(name: str, settings: dict[str, Any]) -> Any:
    """An unfitted candidate by name, configured from the ``churn_model`` settings."""
    if name == "boosted_trees":
        return BoostedHazard(dict(settings.get("params", {})))
    if name == "logistic_regression":
        return LogisticHazard(C=float(settings.get("logistic_C", 1.0)))
    if name == "base_rate":
        return BaseRateHazard()
    if name == "recency_rule":
        return RecencyHazard()
    raise ValueError(f"unknown candidate {name!r}: choose from {', '.join(CANDIDATES)}")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPSILON, 1 - _EPSILON)
    return np.log(p / (1 - p)).reshape(-1, 1)


@dataclass
class HazardCalibration:
    """A monotone map of raw monthly hazards to calibrated ones: none, sigmoid (Platt) or isotonic."""

    method: str = "none"
    mapper_: Any = None

    def fit(self, raw: np.ndarray, labels: np.ndarray) -> "HazardCalibration":
        if self.method not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.method!r}: choose from {', '.join(CALIBRATIONS)}")
        if self.method == "sigmoid":
            self.mapper_ = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw), labels)
        elif self.method == "isotonic":
            self.mapper_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, labels)
        return self

    def apply(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            return self.mapper_.predict_proba(_logit(raw))[:, 1]
        if self.method == "isotonic":
            return self.mapper_.predict(raw)
        return raw
