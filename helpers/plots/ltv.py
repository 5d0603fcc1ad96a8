"""Charts of the LTV and forecast report: the MRR forecast fan, projected against actual retention, LTV by segment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.plots.style import (
    MONEY_FORMATTER,
    PALETTE,
    SHARE_FORMATTER,
    as_floats,
    date_axis,
    money_label,
    new_figure,
    require_columns,
    styled,
)

# One colour per LTV method, the same in every chart and table of the report.
LTV_METHOD_COLORS: dict[str, str] = {
    "vendor formula": "#999999",
    "sBG (undiscounted)": "#56B4E9",
    "sBG (discounted)": "#0072B2",
    "model survival (discounted)": "#D55E00",
}


@styled
def forecast_fan_chart(history: pd.DataFrame, forecast: pd.DataFrame, level: float = 0.9,
                       title: str = "MRR: the last two years and the next twelve months") -> Figure:
    """Actual MRR, then the forecast with its interval shaded and the part from today's customers dashed.

    Args:
        history: ``month, mrr`` (actual MRR of each month).
        forecast: ``month, forecast, lower, upper, existing`` (``forecast.forecast_mrr``).
        level: the interval's central probability, for the legend.
        title: the figure title.
    """
    require_columns(history, ["month", "mrr"], "forecast_fan_chart history")
    require_columns(forecast, ["month", "forecast", "lower", "upper", "existing"], "forecast_fan_chart forecast")
    figure, axis = new_figure(11, 5.2)
    months = pd.to_datetime(history["month"])
    axis.plot(months, as_floats(history["mrr"]), color="#222222", linewidth=2, label="actual MRR")
    # Start the forecast lines at the last actual month so they join the history.
    start = pd.DataFrame({"month": [months.iloc[-1]], "value": [float(history["mrr"].iloc[-1])]})
    future = pd.to_datetime(pd.concat([start["month"], forecast["month"]], ignore_index=True))
    joined = lambda column: np.concatenate([start["value"], as_floats(forecast[column])])  # noqa: E731
    axis.fill_between(future, joined("lower"), joined("upper"), color="#0072B2", alpha=0.18, linewidth=0,
                      label=f"{level:.0%} interval")
    axis.plot(future, joined("forecast"), color="#0072B2", linewidth=2, label="forecast")
    axis.plot(future, joined("existing"), color="#0072B2", linewidth=1.4, linestyle="--",
              label="of which today's customers")
    axis.axvline(months.iloc[-1], color="#999999", linewidth=0.8, linestyle=":")
    axis.set_ylim(bottom=0)
    axis.yaxis.set_major_formatter(MONEY_FORMATTER)
    axis.set_ylabel("MRR (USD per month)")
    axis.set_xlabel("month")
    date_axis(axis)
    axis.set_title(title)
    axis.legend(loc="upper left", frameon=False)
    return figure


@styled
def projected_retention_chart(curves: pd.DataFrame, title: str = "Projected against actual logo retention") -> Figure:
    """One panel per cohort: actual retention by age (solid) and the projection made earlier (dashed, band shaded).

    Args:
        curves: ``cohort, age, actual, projected, lower, upper, projected_from`` (NaN where a
            value does not apply), one row per cohort and age; projected_from is the age the
            projection starts at.
        title: the figure title.
    """
    require_columns(curves, ["cohort", "age", "actual", "projected", "lower", "upper", "projected_from"],
                    "projected_retention_chart")
    groups = list(curves.groupby("cohort", sort=True))
    columns = min(2, max(len(groups), 1))
    rows = max(1, int(np.ceil(len(groups) / columns)))
    figure, axes = new_figure(11, 3.3 * rows + 0.6, rows, columns, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for index, (cohort, curve) in enumerate(groups):
        axis, color = axes[index], PALETTE[index % len(PALETTE)]
        start = int(curve["projected_from"].iloc[0])
        ahead = curve[curve["age"] >= start]
        axis.fill_between(ahead["age"], as_floats(ahead["lower"]), as_floats(ahead["upper"]), color=color,
                          alpha=0.18, linewidth=0, label="projection band")
        axis.plot(curve["age"], as_floats(curve["actual"]), color="#222222", linewidth=1.8, label="actual")
        axis.plot(ahead["age"], as_floats(ahead["projected"]), color=color, linewidth=2, linestyle="--",
                  label="projected")
        axis.axvline(start, color="#999999", linewidth=0.8, linestyle=":")
        axis.set_title(f"{pd.Timestamp(cohort):%b %Y} cohort (projected from month {start})", fontsize=10.5)
        axis.set_ylim(0, 1.02)
        axis.yaxis.set_major_formatter(SHARE_FORMATTER)
        axis.set_xlabel("months since first payment")
        if index % columns == 0:
            axis.set_ylabel("share still paying")
    for axis in axes[len(groups):]:
        axis.set_visible(False)
    if groups:
        axes[0].legend(loc="lower left", frameon=False)
    figure.suptitle(title)
    return figure


@styled
def ltv_by_segment_chart(comparison: pd.DataFrame, methods: Sequence[str] | None = None,
                         title: str = "Lifetime value per customer by segment, three ways") -> Figure:
    """Grouped horizontal bars: one group per segment, one bar per LTV method.

    Args:
        comparison: ``segment`` and one column per method (names as in LTV_METHOD_COLORS;
            NaN or inf bars are left out and marked "n/a").
        methods: the method columns to draw (default: those of LTV_METHOD_COLORS present).
        title: the figure title.
    """
    chosen = [m for m in (methods or LTV_METHOD_COLORS) if m in comparison.columns]
    require_columns(comparison, ["segment", *chosen], "ltv_by_segment_chart")
    segments = list(comparison["segment"])
    figure, axis = new_figure(11, max(3.5, 0.9 * len(segments) + 1.5))
    height = 0.8 / max(len(chosen), 1)
    positions = np.arange(len(segments))
    finite_max = 0.0
    for index, method in enumerate(chosen):
        values = as_floats(comparison[method])
        shown = np.where(np.isfinite(values), values, 0.0)
        finite_max = max(finite_max, float(np.nanmax(shown)) if len(shown) else 0.0)
        offsets = positions + (index - (len(chosen) - 1) / 2) * height
        axis.barh(offsets, shown, height=height * 0.92, color=LTV_METHOD_COLORS.get(method, PALETTE[index]),
                  label=method, zorder=2)
        for y, value in zip(offsets, values):
            label = f" {money_label(value)}" if np.isfinite(value) else " n/a"
            axis.text(value if np.isfinite(value) else 0, y, label, va="center", fontsize=8.5, color="#333333")
    axis.set_yticks(positions)
    axis.set_yticklabels(segments)
    axis.invert_yaxis()
    axis.set_xlim(0, finite_max * 1.15 if finite_max > 0 else 1)
    axis.xaxis.set_major_formatter(MONEY_FORMATTER)
    axis.set_xlabel("lifetime value per customer (USD)")
    axis.set_title(title)
    axis.legend(loc="lower right", frameon=False)
    return figure
