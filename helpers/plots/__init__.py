"""Charts of the notebooks: each function takes DataFrames and returns a matplotlib Figure.

Every figure has a title, axis labels with units ("MRR (USD)", "share of
cohort"), a legend when it shows several series, and tick labels sized to be
read in the HTML reports. Figures are created without pyplot, so they are not
kept open by a global figure manager and a notebook cell shows each one once
(as the cell's value or with ``display``); ``helpers.notebook.configure_display``
registers the inline PNG output.

Inputs are the frames the analytics functions return (``revenue``,
``cohorts``, ``survival``, ``training``, ``scoring``, ``drift``,
``backtest``); money may arrive as ``Decimal`` and is converted to float only
for drawing.

One module per subject: ``style``, ``overview``, ``revenue``, ``evaluation``, ``churn``, ``backtest``, ``ltv``. Notebooks use
``from helpers import plots`` and call ``plots.<chart>``.
"""

from helpers.plots.backtest import (
    backtest_chart,
)
from helpers.plots.churn import (
    drift_chart,
    mrr_at_risk_chart,
    risk_tier_chart,
    segment_risk_chart,
)
from helpers.plots.evaluation import (
    gains_chart,
    lift_chart,
    precision_recall_chart,
    reliability_chart,
    roc_chart,
    survival_calibration_chart,
)
from helpers.plots.ltv import (
    LTV_METHOD_COLORS,
    forecast_fan_chart,
    ltv_by_segment_chart,
    projected_retention_chart,
)
from helpers.plots.overview import (
    customer_counts_chart,
    mix_chart,
    weekly_events_chart,
)
from helpers.plots.revenue import (
    kaplan_meier_chart,
    mrr_movements_chart,
    retention_heatmap,
    retention_trends_chart,
)
from helpers.plots.style import (
    MODEL_COLORS,
    MOVEMENT_COLORS,
    PLAN_TIER_COLORS,
    RISK_TIER_COLORS,
    STYLE,
    money_label,
)

__all__ = [
    "LTV_METHOD_COLORS",
    "forecast_fan_chart",
    "ltv_by_segment_chart",
    "projected_retention_chart",
    "MODEL_COLORS",
    "MOVEMENT_COLORS",
    "PLAN_TIER_COLORS",
    "RISK_TIER_COLORS",
    "STYLE",
    "backtest_chart",
    "customer_counts_chart",
    "drift_chart",
    "gains_chart",
    "kaplan_meier_chart",
    "lift_chart",
    "mix_chart",
    "money_label",
    "mrr_at_risk_chart",
    "mrr_movements_chart",
    "precision_recall_chart",
    "reliability_chart",
    "retention_heatmap",
    "retention_trends_chart",
    "risk_tier_chart",
    "roc_chart",
    "segment_risk_chart",
    "survival_calibration_chart",
    "weekly_events_chart",
]
