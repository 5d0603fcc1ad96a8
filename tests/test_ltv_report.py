"""Tests of the LTV report's tables (helpers.notebook.ltv_report) and charts (helpers.plots.ltv) on small frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers import notebook as nb
from helpers import plots


def test_backtest_origins_leave_every_horizon_realized():
    origins = nb.backtest_origins(dt.date(2026, 1, 1), 3, 12)
    assert origins == [dt.date(2024, 11, 1), dt.date(2024, 12, 1), dt.date(2025, 1, 1)]


def comparison_inputs():
    vendor = pd.DataFrame({"segment": ["a", "b"], "month": pd.Timestamp("2025-12-01"), "arpa": [100.0, 50.0],
                           "churn_rate_6m": [0.05, 0.0], "ltv": [2000.0, np.nan]})
    sbg = pd.DataFrame({"segment": ["a", "a", "b"], "cohort": [pd.NaT, pd.Timestamp("2024-01-01"), pd.NaT],
                        "ltv": [np.inf, 1.0, 900.0], "discounted_ltv": [1500.0, 1.0, 800.0]})
    return vendor, sbg


def test_ltv_comparison_takes_the_pooled_rows_and_averages_customers():
    vendor, sbg = comparison_inputs()
    customers = pd.DataFrame({"segment": ["a", "a", "b"], "ltv": [100.0, 300.0, 50.0]})
    table = nb.ltv_comparison(vendor, sbg, customers).set_index("segment")
    assert table.loc["a", "vendor_ltv"] == 2000.0 and np.isnan(table.loc["b", "vendor_ltv"])
    assert table.loc["a", "sbg_ltv"] == np.inf and table.loc["a", "sbg_discounted_ltv"] == 1500.0
    assert table["model_ltv"].tolist() == [200.0, 50.0]
    shown = nb.ltv_table(table.reset_index())
    assert shown.loc["a", "vendor formula"] == "$2,000" and shown.loc["b", "vendor formula"] == nb.MISSING
    # Without models the per-customer column is all missing and the chart leaves it out.
    frame = nb.ltv_chart_frame(nb.ltv_comparison(vendor, sbg, None))
    assert "model survival (discounted)" not in frame.columns
    figure = plots.ltv_by_segment_chart(frame)
    assert figure.axes[0].get_xlabel() == "lifetime value per customer (USD)"


def test_forecast_fan_and_projection_charts_draw_their_series():
    history = pd.DataFrame({"month": pd.date_range("2025-01-01", periods=3, freq="MS"), "mrr": [1.0, 2.0, 3.0]})
    forecast = pd.DataFrame({"month": pd.date_range("2025-04-01", periods=2, freq="MS"), "forecast": [4.0, 5.0],
                             "lower": [3.5, 4.0], "upper": [4.5, 6.0], "existing": [3.0, 3.0]})
    figure = plots.forecast_fan_chart(history, forecast, level=0.8)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert {"actual MRR", "forecast", "of which today's customers"} <= set(labels)
    curves = pd.DataFrame({"cohort": pd.Timestamp("2024-01-01"), "age": [0, 1, 2], "actual": [1.0, 0.9, 0.8],
                           "projected": [np.nan, 0.9, 0.85], "lower": [np.nan, 0.8, 0.7],
                           "upper": [np.nan, 1.0, 0.95], "projected_from": 1})
    figure = plots.projected_retention_chart(curves)
    assert figure.axes[0].get_ylabel() == "share still paying"
    with pytest.raises(KeyError, match="missing column"):
        plots.forecast_fan_chart(history.drop(columns="mrr"), forecast)
