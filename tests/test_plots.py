"""Charts of helpers.plots on small hand-made frames: a Figure with a title, labelled axes and legends.

Every chart is also rendered to PNG once, so layout or drawing errors surface
here rather than in a report run.
"""

from __future__ import annotations

import io
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers import plots
from helpers.analytics.survival import kaplan_meier_by_group, logrank_test

MONTHS = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"])


def _title(figure: Figure) -> str:
    suptitle = figure.get_suptitle()
    return suptitle or " ".join(axis.get_title() for axis in figure.axes)


def _has_legend(figure: Figure) -> bool:
    return bool(figure.legends) or any(axis.get_legend() is not None for axis in figure.axes)


def assert_readable(figure: Figure, legend: bool = True) -> None:
    """A Figure with a title, every axis labelled on at least one side, x and y labels somewhere, a legend."""
    assert isinstance(figure, Figure)
    assert _title(figure).strip(), "the figure has no title"
    for axis in figure.axes:
        assert axis.get_xlabel() or axis.get_ylabel(), f"an axis of '{_title(figure)}' has no label"
    assert any(axis.get_xlabel() for axis in figure.axes), "no x-axis label"
    assert any(axis.get_ylabel() for axis in figure.axes), "no y-axis label"
    if legend:
        assert _has_legend(figure), f"'{_title(figure)}' shows several series but no legend"
    figure.savefig(io.BytesIO(), format="png", dpi=25)  # drawing works (low resolution: fast)


# --- revenue (02) -----------------------------------------------------------


def movements_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "month": MONTHS,
        "starting_mrr": [Decimal("1000.00"), Decimal("1095.00"), Decimal("1145.00")],
        "new": [Decimal("100.00"), Decimal("50.00"), Decimal("0.00")],
        "reactivation": [Decimal("10.00"), Decimal("0.00"), Decimal("5.00")],
        "expansion": [Decimal("20.00"), Decimal("30.00"), Decimal("0.00")],
        "contraction": [Decimal("-5.00"), Decimal("0.00"), Decimal("-20.00")],
        "churn": [Decimal("-30.00"), Decimal("-30.00"), Decimal("-100.00")],
        "ending_mrr": [Decimal("1095.00"), Decimal("1145.00"), Decimal("1030.00")],
    })


def test_movement_bars_put_gains_above_and_losses_below_zero():
    figure = plots.mrr_movements_chart(movements_frame())
    assert_readable(figure)
    axis = figure.axes[0]
    bars = {container.get_label(): container for container in axis.containers}
    assert set(bars) == {"new", "reactivation", "expansion", "contraction", "churn"}
    for name in ("new", "reactivation", "expansion"):
        for patch in bars[name].patches:
            assert patch.get_y() >= 0 and patch.get_height() >= 0, name
    for name in ("contraction", "churn"):
        for patch in bars[name].patches:
            assert patch.get_y() <= 0 and patch.get_height() <= 0, name
    # Stacked: in January expansion sits on new + reactivation, churn below contraction.
    january = {name: bars[name].patches[0] for name in bars}
    assert january["new"].get_height() == pytest.approx(100)
    assert january["expansion"].get_y() == pytest.approx(110)
    assert january["contraction"].get_y() == pytest.approx(0)
    assert january["churn"].get_y() == pytest.approx(-5)
    assert january["churn"].get_height() == pytest.approx(-30)
    net = next(line for line in axis.get_lines() if line.get_label() == "net change")
    assert list(net.get_ydata()) == pytest.approx([95, 50, -115])


def test_movement_chart_names_missing_columns():
    with pytest.raises(KeyError, match="churn"):
        plots.mrr_movements_chart(movements_frame().drop(columns=["churn"]))


def test_retention_trends_chart():
    metrics = pd.DataFrame({
        "month": MONTHS,
        "logo_churn_rate": [0.02, 0.03, np.nan],
        "grr": [0.98, 0.97, 0.99], "nrr": [1.01, 0.99, 1.02],
        "grr_ttm": [np.nan, 0.8, 0.81], "nrr_ttm": [np.nan, 1.05, 1.07],
    })
    figure = plots.retention_trends_chart(metrics)
    assert_readable(figure)
    assert [line.get_label() for line in figure.axes[0].get_lines()][:4] == [
        "GRR (monthly)", "NRR (monthly)", "GRR (trailing 12 months)", "NRR (trailing 12 months)"]


@pytest.mark.parametrize("kind", ["logo", "revenue"])
def test_retention_heatmap_annotates_observed_cells_only(kind):
    matrix = pd.DataFrame(
        [[1.0, 0.9, 0.8], [1.0, 0.95, np.nan], [1.0, np.nan, np.nan]],
        index=pd.Index(MONTHS, name="cohort"), columns=pd.Index([0, 1, 2], name="age"),
    )
    sizes = pd.Series([10, 20, 30], index=MONTHS)
    figure = plots.retention_heatmap(matrix, kind=kind, cohort_sizes=sizes)
    assert_readable(figure, legend=False)
    axis = figure.axes[0]
    assert sorted(text.get_text() for text in axis.texts) == sorted(["100", "90", "80", "100", "95", "100"])
    assert axis.get_yticklabels()[0].get_text() == "2025-01 (n=10)"
    assert len(figure.axes) == 2  # the colour bar
    assert figure.axes[1].get_ylabel()


def test_retention_heatmap_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        plots.retention_heatmap(pd.DataFrame([[1.0]]), kind="logos")


def test_kaplan_meier_chart_with_bands_and_logrank():
    durations = [1, 2, 3, 4, 5, 6, 2, 3, 8, 9]
    events = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1]
    groups = ["starter"] * 5 + ["growth"] * 5
    curves = kaplan_meier_by_group(durations, events, groups)
    result = logrank_test(durations, events, groups)
    figure = plots.kaplan_meier_chart(curves, order=["starter", "growth"], max_time=6, logrank=result)
    assert_readable(figure)
    axis = figure.axes[0]
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert labels == ["starter (n=5)", "growth (n=5)"]
    assert axis.get_xlim() == (0, 6)
    assert len(axis.collections) == 2  # one confidence band per group
    assert any("log-rank" in text.get_text() for text in axis.texts)


# --- warehouse overview (01) -------------------------------------------------


def test_weekly_events_chart():
    weeks = pd.date_range("2025-01-06", periods=4, freq="W-MON")
    weekly = pd.DataFrame({"api_call": [5, 6, 7, 8], "report_view": [1, 2, 1, 2]}, index=weeks)
    assert_readable(plots.weekly_events_chart(weekly))


def test_customer_counts_chart():
    counts = pd.DataFrame({"month": MONTHS, "paying_customers": [10, 12, 13], "signups": [3, 2, 4],
                           "churned_customers": [0, 1, 2]})
    assert_readable(plots.customer_counts_chart(counts))


def test_mix_chart():
    mix = pd.DataFrame({"plan_tier": ["free", "starter"], "customers": [5, 3], "paying_customers": [0, 3],
                        "mrr": [0.0, 300.0], "mrr_share": [0.0, 1.0]})
    assert_readable(plots.mix_chart(mix, "plan_tier", label="plan tier"))


# --- model evaluation (03) -----------------------------------------------------


def predictions_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    churned = np.array([1] * 20 + [0] * 80)
    return pd.DataFrame({
        "churned": churned,
        "churn_model": np.clip(churned * 0.4 + rng.uniform(0, 0.5, 100), 0, 1),
        "base_rate": np.full(100, 0.2),
    })


@pytest.mark.parametrize("chart", [plots.roc_chart, plots.precision_recall_chart, plots.gains_chart, plots.lift_chart])
def test_score_charts_show_every_model(chart):
    figure = chart(predictions_frame(), ["churn_model", "base_rate"])
    assert_readable(figure)
    labels = " ".join(text.get_text() for text in figure.axes[0].get_legend().get_texts())
    assert "churn_model" in labels and "base_rate" in labels


def test_reliability_chart():
    reliability = pd.DataFrame({
        "model": ["churn_model"] * 3 + ["base_rate"] * 3,
        "bin": [1, 2, 3] * 2,
        "rows": [10] * 6,
        "mean_predicted": [0.1, 0.3, 0.6, 0.2, 0.2, 0.2],
        "observed_rate": [0.12, 0.28, 0.55, 0.1, 0.2, 0.3],
    })
    assert_readable(plots.reliability_chart(reliability))


def test_survival_calibration_chart_with_and_without_the_km_curve():
    calibration = pd.DataFrame({"month": [1, 2, 3], "predicted": [0.97, 0.94, 0.9],
                                "kaplan_meier": [0.96, 0.93, 0.91], "gap": [0.01, 0.01, 0.01]})
    assert_readable(plots.survival_calibration_chart(calibration))
    km = pd.DataFrame({"time": [0.0, 1.0, 2.5], "survival": [1.0, 0.96, 0.92], "lower": [1.0, 0.9, 0.85],
                       "upper": [1.0, 0.99, 0.97], "at_risk": [10, 9, 8]})
    assert_readable(plots.survival_calibration_chart(calibration, km))


# --- churn report (04) ---------------------------------------------------------


def test_risk_tier_chart():
    tiers = pd.DataFrame({"risk_tier": ["low", "medium", "high", "critical"], "customers": [50, 20, 5, 0],
                          "mrr": [5000.0, 1000.0, 300.0, 0.0]})
    assert_readable(plots.risk_tier_chart(tiers))


def test_segment_risk_chart():
    summary = pd.DataFrame({"industry": ["FinTech", "EdTech"], "mrr": [1000.0, 0.0], "mrr_at_risk": [100.0, 0.0]})
    figure = plots.segment_risk_chart(summary, "industry")
    assert_readable(figure)
    assert any("10.0%" in text.get_text() for text in figure.axes[0].texts)


def test_mrr_at_risk_chart_stacks_tiers_per_horizon():
    at_risk = pd.DataFrame({
        "horizon_months": [3, 3, 12, 12],
        "risk_tier": ["low", "high", "low", "high"],
        "expected_mrr_at_risk": [10.0, 20.0, 40.0, 50.0],
    })
    figure = plots.mrr_at_risk_chart(at_risk, total_mrr=1000.0)
    assert_readable(figure)
    high = next(container for container in figure.axes[0].containers if container.get_label() == "high")
    assert [patch.get_y() for patch in high.patches] == pytest.approx([10.0, 40.0])


def test_drift_chart_highlights_flagged_features():
    psi = pd.DataFrame({"feature": ["a", "b"], "psi": [0.35, 0.05], "flagged": [True, False]})
    figure = plots.drift_chart(psi)
    assert_readable(figure)
    assert any(line.get_xdata()[0] == pytest.approx(0.2) for line in figure.axes[0].get_lines())


# --- backtest (05) -------------------------------------------------------------


def test_backtest_chart_shades_in_sample_dates():
    results = pd.DataFrame({
        "as_of": pd.to_datetime(["2025-01-01", "2025-02-01"]).date,
        "customers": [100, 110], "expected_churners": [8.5, 9.0], "realized_churners": [9, 7],
        "expected_mrr_lost": [850.0, 900.0], "realized_mrr_lost": [900.0, 700.0], "roc_auc": [0.8, 0.82],
        "in_sample": [True, False],
    })
    figure = plots.backtest_chart(results)
    assert_readable(figure)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert "in the model's training range" in labels


def test_money_tick_labels():
    assert plots.money_label(0) == "$0"
    assert plots.money_label(450_000) == "$450k"
    assert plots.money_label(1_250_000) == "$1.2M"
    assert plots.money_label(2_000_000) == "$2M"
    assert plots.money_label(-35_000) == "-$35k"


def test_movement_legend_lists_the_movements_then_the_net_line():
    figure = plots.mrr_movements_chart(movements_frame())
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["new", "reactivation", "expansion", "contraction", "churn", "net change"]
