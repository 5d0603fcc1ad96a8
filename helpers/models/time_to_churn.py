"""The time-to-churn curve: calibrated monthly hazards turned into S(k) and horizon probabilities.

One fitted curve serves every probability the suite shows: the churn model's
probability within its horizon is 1 - S(horizon days) and the risk model's
3/6/12-month survival is S(3/6/12), so they agree for every customer and a
12-month loss is never below a 90-day one. Inside a month the stop day is
taken as uniform over the month's whole days (S linear between month ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.models.hazard import HazardCalibration, hazards_over_months, moved_hazards_over_months
from helpers.models.person_period import MAX_MONTHS, PERIOD_SOURCES, month_end_days, ragged_index


# Snapshot rows per block of predictions: their person-months (up to 12 each) are encoded at once.
SNAPSHOT_BLOCK_ROWS = 50_000
# Snapshot rows per block of contributions: their person-months times the features are held at once.
CONTRIBUTION_BLOCK_ROWS = 20_000


@dataclass
class TimeToChurnCurve:
    """A fitted hazard candidate and its calibration.

    Attributes:
        hazard_model: a helpers.models.hazard candidate (fitted).
        calibration: the HazardCalibration applied to its output.
        candidate: the candidate's name (``boosted_trees``, ``logistic_regression``, ...).
        months: the longest horizon of the curve.
    """

    hazard_model: Any
    calibration: HazardCalibration
    candidate: str
    months: int = MAX_MONTHS

    def hazards(self, frame: pd.DataFrame, months: int | None = None) -> np.ndarray:
        """Calibrated h(k), k = 1..months, per row of a snapshot frame: shape (rows, months)."""
        months = months or self.months
        if not 1 <= months <= self.months:
            raise ValueError(f"months must be between 1 and {self.months}, got {months}")
        if frame.empty:
            return np.empty((0, months))
        return self.hazards_up_to(frame, np.full(len(frame), months))

    def hazards_up_to(self, frame: pd.DataFrame, months: np.ndarray) -> np.ndarray:
        """Calibrated h(k) for k = 1..months[row] only (NaN after): one prediction per needed month.

        Evaluation reads each row's months up to its follow-up, not all twelve.

        Returns:
            Array of shape (rows, max(months)).
        """
        months = np.asarray(months, dtype=int)
        width = int(months.max()) if len(months) else 0
        if len(months) and (months.min() < 0 or width > self.months):
            raise ValueError(f"months per row must be between 0 and {self.months}")
        result = np.full((len(frame), width), np.nan)
        if width == 0:
            return result
        # In blocks of snapshot rows: the expanded frame of a whole evaluation (hundreds of
        # thousands of customers times their months) would hold gigabytes at once.
        for first in range(0, len(frame), SNAPSHOT_BLOCK_ROWS):
            block = slice(first, first + SNAPSHOT_BLOCK_ROWS)
            raw = hazards_over_months(self.hazard_model, frame.iloc[block], months[block])
            row, ahead = ragged_index(months[block])
            result[row + first, ahead - 1] = self._calibrated(raw)
        return result

    def survival(self, frame: pd.DataFrame, months: int | None = None) -> np.ndarray:
        """S(1..months) per row: probability of still paying after k months; non-increasing."""
        return np.cumprod(1.0 - self.hazards(frame, months), axis=1)

    def churn_probability(self, frame: pd.DataFrame, days: int) -> np.ndarray:
        """Probability of stopping to pay within ``days`` of the as-of date: 1 - S(days)."""
        return 1.0 - survival_at_days(self.survival(frame, months_covering(days, self.months)), days)

    def contributions(self, frame: pd.DataFrame, days: int, reference: dict[str, Any],
                      features: tuple[str, ...]) -> np.ndarray:
        """p(x) - p(x with f at ``reference[f]``) per row and feature, p the probability within ``days``.

        Rows whose value of f already is the reference get exactly 0 (not predicted again).
        A feature the period columns derive from (PERIOD_SOURCES) is moved on the snapshot
        row and its months expanded again, so renewal_in_period follows it.

        Returns:
            Array of shape (rows, len(features)).
        """
        months = months_covering(days, self.months)
        column = {name: position for position, name in enumerate(features)}
        moves = {name: reference[name] for name in features if name not in PERIOD_SOURCES}
        result = np.zeros((len(frame), len(features)))
        for first in range(0, len(frame), CONTRIBUTION_BLOCK_ROWS):
            block = frame.iloc[first:first + CONTRIBUTION_BLOCK_ROWS]
            differs = np.column_stack([(block[name] != value).to_numpy() for name, value in moves.items()]
                                      or [np.zeros((len(block), 0), dtype=bool)])
            hazard, moved = moved_hazards_over_months(self.hazard_model, block, months, moves, differs)
            count = len(block)
            # Person-months come customer by customer, months ascending: (customers, months[, features]).
            base = self._survival_at_days(hazard.reshape(count, months), days)
            by_feature = self._survival_at_days(
                moved.reshape(count, months, len(moves)).transpose(0, 2, 1).reshape(-1, months), days
            ).reshape(count, len(moves))
            for position, name in enumerate(moves):
                result[first:first + count, column[name]] = by_feature[:, position] - base
            for name in (name for name in features if name in PERIOD_SOURCES):
                differs_here = (block[name] != reference[name]).to_numpy()
                if differs_here.any():
                    moved_rows = block[differs_here].assign(**{name: reference[name]})
                    raw = hazards_over_months(self.hazard_model, moved_rows, np.full(len(moved_rows), months))
                    moved_survival = self._survival_at_days(raw.reshape(len(moved_rows), months), days)
                    result[first + np.flatnonzero(differs_here), column[name]] = moved_survival - base[differs_here]
        return result

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated monthly hazards of raw ones, within [0, 1]."""
        return np.clip(self.calibration.apply(raw), 0.0, 1.0)

    def _survival_at_days(self, uncalibrated: np.ndarray, days: int) -> np.ndarray:
        """S(days) of rows of uncalibrated monthly hazards, shape (rows, months)."""
        hazards = self._calibrated(uncalibrated.ravel()).reshape(uncalibrated.shape)
        return survival_at_days(np.cumprod(1.0 - hazards, axis=1), days)


def months_covering(days: int, limit: int = MAX_MONTHS) -> int:
    """The number of months whose end reaches ``days`` (at most ``limit``)."""
    ends = month_end_days(limit)
    if days < 1 or days > ends[-1]:
        raise ValueError(f"a horizon must be between 1 and {ends[-1]} days, got {days}")
    return int(np.searchsorted(ends, days, side="left") + 1)


def survival_at_days(curves: np.ndarray, days: int) -> np.ndarray:
    """S at ``days`` from monthly curves S(1..K): linear in whole days within the month holding it."""
    ends = np.concatenate([[0], month_end_days(curves.shape[1])])
    k = int(np.searchsorted(ends, days, side="left"))  # month k holds day days-1
    if k == 0:
        return np.ones(len(curves))
    previous = curves[:, k - 2] if k >= 2 else np.ones(len(curves))
    share = (days - ends[k - 1]) / (ends[k] - ends[k - 1])
    return previous + share * (curves[:, k - 1] - previous)
