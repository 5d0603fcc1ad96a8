"""Risk model pieces: the curve view of a time-to-churn curve, and the Kaplan-Meier check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.analytics.features import FEATURES
from helpers.analytics.survival import kaplan_meier
from helpers.models.hazard import HazardCalibration
from helpers.models.risk_model import RiskModel, km_calibration_gap
from helpers.models.time_to_churn import TimeToChurnCurve


class MonthlyHazard:
    """A stand-in candidate: hazard h0 in month 1 rising by step each month ahead."""

    def __init__(self, h0: float, step: float = 0.0):
        self.h0, self.step = h0, step

    def hazard(self, rows: pd.DataFrame) -> np.ndarray:
        return self.h0 + self.step * (rows["months_ahead"].to_numpy() - 1)


def rows(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({name: [0.0] * n for name in FEATURES})


def test_survival_of_a_constant_hazard_is_geometric():
    curve = TimeToChurnCurve(MonthlyHazard(0.05), HazardCalibration("none"), "test")
    curves = RiskModel(curve).survival_curves(rows(), 12)
    assert np.allclose(curves, np.tile(0.95 ** np.arange(1, 13), (4, 1)))


def test_the_hazard_of_each_month_ahead_is_its_own():
    curve = TimeToChurnCurve(MonthlyHazard(0.0, step=0.01), HazardCalibration("none"), "test")
    curves = RiskModel(curve).survival_curves(rows(1), 3)
    assert curves[0].tolist() == pytest.approx([1.0, 0.99, 0.99 * 0.98])


def test_km_calibration_gap_reads_the_step_function():
    km = kaplan_meier([0.5, 1.5, 2.5, 3.0], [1, 1, 0, 0])
    curves = np.array([[0.8, 0.6, 0.5]] * 4)
    gaps = km_calibration_gap(curves, km, 3)
    # KM: S = 3/4 after t=0.5, 2/4 after t=1.5.
    assert gaps["kaplan_meier"].tolist() == pytest.approx([0.75, 0.5, 0.5])
    assert gaps["gap"].tolist() == pytest.approx([0.05, 0.1, 0.0])
