"""Out-of-time split, candidate fitting and calibration, and per-horizon evaluation of time-to-churn curves.

Three cuts on the calendar (all first days of months): training hazard rows
are person-months whose window closed before ``calibration_start``;
calibration rows are person-months whose window lies in
[``calibration_start``, ``test_start``); evaluation reads snapshots at as-of
dates from ``test_start`` on, with outcomes to the data end. No label window
of one side overlaps another's. The evaluation window shrinks with the data
(12 months when there is room, down to 3), and too little history is refused
with the months needed and the months there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.dates import add_months, month_start, month_starts, next_month_start
from helpers.models.evaluation import horizon_metrics, integrated_brier_score
from helpers.models.hazard import CALIBRATIONS, HazardCalibration, make_candidate
from helpers.models.person_period import (
    DAYS_PER_MONTH,
    MAX_MONTHS,
    churned_within,
    horizon_days,
    month_end_days,
    person_period_index,
    person_period_rows,
    window_offset_days,
)
from helpers.models.time_to_churn import TimeToChurnCurve, survival_at_days

FEATURE_WARMUP_MONTHS = 3  # the 90-day features need three months of history
MIN_TRAIN_MONTHS = 3
MIN_EVALUATION_MONTHS = 3
MIN_HISTORY_MONTHS = FEATURE_WARMUP_MONTHS + MIN_TRAIN_MONTHS + 1 + MIN_EVALUATION_MONTHS + 2
# Thirteen: 12 months of 30.4375 days end one day after a calendar year, so the
# 12-month horizon needs its first evaluation date 13 months before the data end.
MAX_EVALUATION_MONTHS = 13
TOO_SHORT = "too little history"


def horizons(churn_horizon_days: int) -> dict[str, int]:
    """Evaluated horizons, label -> days: the churn model's horizon and 3, 6, 12 months."""
    result = {f"{churn_horizon_days}d": churn_horizon_days}
    result.update({f"{months}m": horizon_days(months) for months in (3, 6, 12)})
    return result


@dataclass(frozen=True)
class Split:
    """The calendar cuts of one out-of-time evaluation (see the module docstring)."""

    first_as_of: dt.date
    calibration_start: dt.date
    test_start: dt.date
    observed_until: dt.date  # the day after the data end

    @property
    def test_dates(self) -> list[dt.date]:
        """Evaluation as-of dates: month starts from test_start whose first month closed."""
        last = month_start(self.observed_until - dt.timedelta(days=int(month_end_days(1)[0])))
        return month_starts(self.test_start, last)

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in vars(self).items()}


def _months_between(first: dt.date, last: dt.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def plan_split(data_start: dt.date, data_end: dt.date, test_start: dt.date | None = None,
               evaluation_months: int | None = None, calibration_months: int = 3) -> Split:
    """The cuts for this data range: evaluation on the last 12 months when there is room, fewer when not.

    Args:
        data_start, data_end: the warehouse's data range.
        test_start: the first evaluation as-of date (None: derived).
        evaluation_months: months of evaluation dates (None: 12, or fewer when the history is short).
        calibration_months: months of windows to calibrate on, before the evaluation.

    Raises:
        ValueError: fewer than MIN_HISTORY_MONTHS whole months, or cuts out of order; says what is needed.
    """
    first_month = month_start(data_start) if data_start.day == 1 else next_month_start(data_start)
    observed_until = data_end + dt.timedelta(days=1)
    end_month = month_start(observed_until)
    months = _months_between(first_month, end_month)
    if months < MIN_HISTORY_MONTHS:
        raise ValueError(
            f"{TOO_SHORT}: training and an out-of-time check need at least {MIN_HISTORY_MONTHS} whole months "
            f"of data ({FEATURE_WARMUP_MONTHS} for the features, {MIN_TRAIN_MONTHS} to train, 1 to calibrate, "
            f"{MIN_EVALUATION_MONTHS} to evaluate); this warehouse has {months} ({first_month} to {data_end}). "
            f"Add {MIN_HISTORY_MONTHS - months} more months of history"
        )
    first_as_of = add_months(first_month, FEATURE_WARMUP_MONTHS)
    spare = months - FEATURE_WARMUP_MONTHS - MIN_TRAIN_MONTHS - 1
    evaluation = evaluation_months or max(MIN_EVALUATION_MONTHS, min(MAX_EVALUATION_MONTHS, spare - MIN_TRAIN_MONTHS))
    test_start = test_start or add_months(end_month, -evaluation)
    before_test = _months_between(first_as_of, test_start)
    # The calibration months sit right before the evaluation: the most recent level of churn
    # (it drifts); at most a quarter of the months before the evaluation.
    calibration_start = add_months(test_start, -max(1, min(calibration_months, round(before_test / 4))))
    if _months_between(first_as_of, calibration_start) < MIN_TRAIN_MONTHS or test_start >= end_month:
        raise ValueError(
            f"{TOO_SHORT}: with the evaluation starting {test_start} there are "
            f"{_months_between(first_as_of, calibration_start)} months to train on from {first_as_of} "
            f"(at least {MIN_TRAIN_MONTHS} needed) before calibrating from {calibration_start}; "
            "move churn_model.test_start later or leave it auto"
        )
    return Split(first_as_of, calibration_start, test_start, observed_until)


def window_starts(rows: pd.DataFrame) -> pd.Series:
    """The first day of each person-month row's window."""
    return pd.to_datetime(rows["as_of"]) + pd.to_timedelta(window_offset_days(rows["months_ahead"].to_numpy()), unit="D")


def training_rows(snapshots: pd.DataFrame, until: dt.date, settings: dict[str, Any]) -> pd.DataFrame:
    """Person-months from as-of dates before ``until`` whose window closed by it (sampled to max_training_rows).

    Each row carries a ``weight`` halving every ``recency_half_life_months`` of age
    (window start before ``until``): churn drifts, and recent months say more about
    the next ones. Empty or 0: equal weights.
    """
    before = snapshots[pd.to_datetime(snapshots["as_of"]) < pd.Timestamp(until)]
    rows = person_period_rows(before, until, max_rows=settings.get("max_training_rows"),
                              seed=int(settings.get("params", {}).get("random_state", 0)))
    half_life = float(settings.get("recency_half_life_months") or 0)
    age = (pd.Timestamp(until) - window_starts(rows)).dt.days.to_numpy() / DAYS_PER_MONTH
    rows["weight"] = 0.5 ** (age / half_life) if half_life > 0 else 1.0
    return rows


def calibration_rows(snapshots: pd.DataFrame, start: dt.date, until: dt.date) -> pd.DataFrame:
    """Person-months whose window lies in [start, until): never in the training rows."""
    before = snapshots[pd.to_datetime(snapshots["as_of"]) < pd.Timestamp(until)]
    return person_period_rows(before, until, windows_from=start)


def _log_loss(labels: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def choose_calibration(raw: np.ndarray, labels: np.ndarray, folds: np.ndarray, method: str = "auto") -> tuple[str, dict]:
    """The calibration with the lowest held-out log loss, two-fold over the calibration dates.

    Args:
        raw, labels: raw hazards and outcomes of the calibration rows.
        folds: 0/1 fold of each row (alternating as-of months).
        method: ``auto`` to choose, or one of CALIBRATIONS to impose.

    Returns:
        The method and the held-out log loss of each method tried.
    """
    if method != "auto":
        if method not in CALIBRATIONS:
            raise ValueError(f"churn_model.calibration must be auto or one of {', '.join(CALIBRATIONS)}, got {method!r}")
        return method, {}
    losses = {}
    for name in CALIBRATIONS:
        predicted = np.empty(len(raw))
        for fold in (0, 1):
            fit, held = folds != fold, folds == fold
            if not fit.any() or not held.any() or len(np.unique(labels[fit])) < 2:
                predicted[held] = raw[held]
                continue
            predicted[held] = HazardCalibration(name).fit(raw[fit], labels[fit]).apply(raw[held])
        losses[name] = _log_loss(labels, predicted)
    return min(losses, key=losses.get), losses


def fit_curve(name: str, train: pd.DataFrame, calibration: pd.DataFrame, settings: dict[str, Any],
              method: str | None = None) -> tuple[TimeToChurnCurve, dict[str, Any]]:
    """Fit one candidate on the training rows and its calibration on the calibration rows.

    Returns:
        The curve and what was chosen (calibration method and held-out log losses).
    """
    model = make_candidate(name, settings).fit(train)
    raw = model.hazard(calibration)
    labels = calibration["churned"].to_numpy(dtype=int)
    months = pd.to_datetime(calibration["as_of"]).dt.month.to_numpy()
    chosen, losses = choose_calibration(raw, labels, months % 2, method or settings.get("calibration", "auto"))
    calibrator = HazardCalibration(chosen)
    if chosen != "none" and len(np.unique(labels)) == 2:
        calibrator.fit(raw, labels)
    else:
        calibrator = HazardCalibration("none")
    return TimeToChurnCurve(model, calibrator, name), {"calibration": calibrator.method, "calibration_log_loss": losses}


def evaluate_curve(curve: TimeToChurnCurve, test: pd.DataFrame, observed_until: dt.date,
                   churn_horizon_days: int) -> tuple[dict[str, Any], np.ndarray]:
    """Hazard log loss, per-horizon expected vs realized, time-dependent AUC and integrated Brier score.

    One prediction pass: each row's hazards up to the month holding its last
    observed day (later months are read by no metric).

    Args:
        test: snapshots at evaluation as-of dates with ``days_to_churn``.
        observed_until: the day after the data end.

    Returns:
        The metrics and the predicted curves S(1..k) of the test rows (NaN past each row's follow-up).
    """
    follow_up = (pd.Timestamp(observed_until) - pd.to_datetime(test["as_of"])).dt.days.to_numpy()
    ends = month_end_days(MAX_MONTHS)
    needed = np.minimum(np.searchsorted(ends, follow_up, side="right") + 1, MAX_MONTHS)
    hazards = curve.hazards_up_to(test, needed)
    curves = np.cumprod(1.0 - hazards, axis=1)
    row, ahead, churned = person_period_index(test, observed_until)
    # The survival likelihood per observed person-month: a proper score of the hazards themselves.
    result: dict[str, Any] = {"hazard_log_loss": _log_loss(churned, hazards[row, ahead - 1]), "horizons": {}}
    mrr = test["mrr_current"].to_numpy(dtype=float)
    for label, days in horizons(churn_horizon_days).items():
        closed = follow_up >= days
        if not closed.any():
            result["horizons"][label] = {"rows": 0, "note": "no evaluation date has this window closed yet"}
            continue
        probability = 1.0 - survival_at_days(curves[closed], days)
        metrics = horizon_metrics(churned_within(test[closed], days), probability, mrr[closed])
        metrics["as_of_dates"] = int(test.loc[closed, "as_of"].nunique())
        result["horizons"][label] = metrics
    result["time_dependent_auc"] = {
        label: result["horizons"][label].get("roc_auc", float("nan")) for label in ("3m", "6m", "12m")
    }
    followed = int(np.searchsorted(ends, follow_up.max(), side="right")) if len(test) else 0
    if followed >= 2:
        rows = follow_up >= ends[followed - 1]
        days = test["days_to_churn"].to_numpy(dtype=float)[rows]
        durations = np.where(np.isnan(days), np.inf, days)
        # Survival past month k means churn day >= the month's end, i.e. duration > end - 1.
        result["integrated_brier_score"] = integrated_brier_score(
            durations, np.isfinite(durations), curves[rows, :followed], ends[:followed] - 1)
        result["integrated_over_months"] = followed
    else:
        result["integrated_brier_score"] = float("nan")
        result["integrated_over_months"] = followed
    return result, curves
