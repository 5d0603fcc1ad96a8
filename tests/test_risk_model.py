"""Risk model pieces: survival curves from hazards, time to churn, the Kaplan-Meier check."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers.analytics.features import FEATURES
from helpers.models.risk_model import RiskModel, is_held_out, km_calibration_gap, time_to_churn
from helpers.analytics.survival import kaplan_meier


class ConstantHazard:
    """A stand-in estimator: hazard h for everyone, or h rising with tenure."""

    def __init__(self, h: float, per_year: float = 0.0):
        self.h, self.per_year = h, per_year

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        h = self.h + self.per_year * frame["tenure_days"].to_numpy() / 365.25
        return np.column_stack([1 - h, h])


def rows(n: int = 4) -> pd.DataFrame:
    frame = pd.DataFrame({name: [0.0] * n for name in FEATURES})
    frame["tenure_days"] = [0.0, 365.25, 730.5, 100.0][:n]
    return frame


def test_survival_of_a_constant_hazard_is_geometric():
    curves = RiskModel(ConstantHazard(0.05)).survival_curves(rows(), 12)
    expected = 0.95 ** np.arange(1, 13)
    assert np.allclose(curves, np.tile(expected, (4, 1)))


def test_tenure_advances_one_month_per_step():
    curves = RiskModel(ConstantHazard(0.0, per_year=0.12)).survival_curves(rows(1), 3)
    # Tenure 0, 1, 2 months: hazards 0, 0.01, 0.02.
    assert curves[0].tolist() == pytest.approx([1.0, 0.99, 0.99 * 0.98])


def test_time_to_churn_uses_the_first_churn_on_or_after_as_of():
    population = pd.DataFrame({"customer_id": ["A", "B", "C"]})
    churn_events = pd.DataFrame({
        "customer_id": ["A", "A", "B"],
        "churn_date": pd.to_datetime(["2024-12-01", "2025-03-02", "2026-06-01"]),
    })
    outcome = time_to_churn(population, churn_events, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    days_per_month = 365.25 / 12
    # A: churned before as_of (ignored), then 2025-03-02 = 60 days later. B: after the data end -> censored.
    assert outcome["churned"].tolist() == [1, 0, 0]
    assert outcome["duration_months"].tolist() == pytest.approx([60 / days_per_month, 365 / days_per_month, 365 / days_per_month])


def test_km_calibration_gap_reads_the_step_function():
    km = kaplan_meier([0.5, 1.5, 2.5, 3.0], [1, 1, 0, 0])
    curves = np.array([[0.8, 0.6, 0.5]] * 4)
    gaps = km_calibration_gap(curves, km, 3)
    # KM: S = 3/4 after t=0.5, 2/4 after t=1.5.
    assert gaps["kaplan_meier"].tolist() == pytest.approx([0.75, 0.5, 0.5])
    assert gaps["gap"].tolist() == pytest.approx([0.05, 0.1, 0.0])


def test_holdout_split_is_stable_and_close_to_its_share():
    ids = pd.Series([f"C{i:05d}" for i in range(5000)])
    first, second = is_held_out(ids, 0.3), is_held_out(ids, 0.3)
    assert first.equals(second)
    assert 0.27 < first.mean() < 0.33
