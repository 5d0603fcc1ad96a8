"""Revenue and retention charts of the cohort report: MRR movements, retention trends, heatmaps, Kaplan-Meier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from helpers.plots.style import (
    GAINS,
    LOSSES,
    MONEY_FORMATTER,
    MOVEMENT_COLORS,
    NET_COLOR,
    PALETTE,
    PLAN_TIER_COLORS,
    SHARE_FORMATTER,
    as_floats,
    date_axis,
    month_labels,
    new_figure,
    require_columns,
    styled,
    thin_ticks,
)


@styled
def mrr_movements_chart(movements: pd.DataFrame, title: str = "MRR movements by month") -> Figure:
    """Stacked monthly MRR movements: gains above zero, losses below, net change as a line.

    Args:
        movements: ``revenue.mrr_movements`` rows (``month`` and the five signed
            movement columns; contraction and churn <= 0).
        title: the figure title.

    Returns:
        One bar container per movement (labelled with its name) and a
        ``net change`` line.
    """
    require_columns(movements, ["month", *MOVEMENT_COLORS], "mrr_movements_chart")
    months = list(movements["month"])
    positions = np.arange(len(months))
    figure, axis = new_figure(11, 5.2)
    above = np.zeros(len(months))
    below = np.zeros(len(months))
    for name in GAINS:
        values = np.clip(as_floats(movements[name]), 0, None)
        axis.bar(positions, values, bottom=above, width=0.72, color=MOVEMENT_COLORS[name], label=name, zorder=2)
        above += values
    for name in LOSSES:
        values = np.clip(as_floats(movements[name]), None, 0)
        axis.bar(positions, values, bottom=below, width=0.72, color=MOVEMENT_COLORS[name], label=name, zorder=2)
        below += values
    net = above + below
    axis.plot(positions, net, color=NET_COLOR, marker="o", linewidth=2, markersize=5, label="net change", zorder=3)
    axis.axhline(0, color="#444444", linewidth=0.8, zorder=2)
    thin_ticks(axis, month_labels(months))
    axis.yaxis.set_major_formatter(MONEY_FORMATTER)
    axis.set_ylabel("MRR change in the month (USD)")
    axis.set_xlabel("month (MRR snapshot on the 1st)")
    axis.set_title(title)
    handles, labels = axis.get_legend_handles_labels()
    order = [*range(1, len(handles)), 0]  # the movements in stacking order, then the net line
    axis.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
                bbox_to_anchor=(1.01, 1.0), frameon=False, title="movement")
    axis.grid(axis="x", visible=False)
    return figure


@styled
def retention_trends_chart(metrics: pd.DataFrame, title: str = "Revenue retention and logo churn") -> Figure:
    """GRR and NRR (monthly and trailing 12 months) above, logo churn rate below.

    Args:
        metrics: ``revenue.retention_metrics`` rows (``month, logo_churn_rate, grr, nrr, grr_ttm, nrr_ttm``).
    """
    require_columns(metrics, ["month", "logo_churn_rate", "grr", "nrr", "grr_ttm", "nrr_ttm"], "retention_trends_chart")
    months = pd.to_datetime(metrics["month"])
    figure, (top, bottom) = new_figure(11, 7.5, rows=2, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    series = [
        ("grr", "GRR (monthly)", "#D55E00", "-", 1.2, 0.55),
        ("nrr", "NRR (monthly)", "#0072B2", "-", 1.2, 0.55),
        ("grr_ttm", "GRR (trailing 12 months)", "#D55E00", "-", 2.4, 1.0),
        ("nrr_ttm", "NRR (trailing 12 months)", "#0072B2", "-", 2.4, 1.0),
    ]
    for column, label, color, style, width, alpha in series:
        top.plot(months, as_floats(metrics[column]), color=color, linestyle=style, linewidth=width,
                 alpha=alpha, label=label, marker="o" if width < 2 else None, markersize=3)
    top.axhline(1.0, color="#444444", linewidth=0.8, linestyle=":")
    top.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    top.set_ylabel("share of starting MRR kept")
    top.set_title("Gross and net revenue retention")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    churn = as_floats(metrics["logo_churn_rate"])
    bottom.bar(months, churn, width=20, color="#CC79A7", label="logo churn rate", zorder=2)
    bottom.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
    bottom.set_ylabel("share of last month's\ncustomers churned")
    bottom.set_xlabel("month")
    bottom.set_title("Logo churn rate")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    date_axis(bottom)
    figure.suptitle(title)
    return figure


@styled
def retention_heatmap(
    matrix: pd.DataFrame,
    kind: str = "logo",
    cohort_sizes: pd.Series | None = None,
    title: str | None = None,
) -> Figure:
    """Cohort x age heatmap of retention, each cell annotated in percent.

    Args:
        matrix: ``cohorts.retention_table(..., pivot=True)`` (index cohort, columns age, NaN = not observed).
        kind: ``"logo"`` or ``"revenue"`` (labels and colour scale; revenue can exceed 100%).
        cohort_sizes: customers per cohort, shown beside the cohort labels.
        title: the figure title (a default names the kind).
    """
    if kind not in ("logo", "revenue"):
        raise ValueError(f"kind must be 'logo' or 'revenue', got {kind!r}")
    values = matrix.to_numpy(dtype=float)
    rows, columns = values.shape
    width = min(12.5, max(7.0, 2.6 + 0.42 * columns))
    height = min(16.0, max(3.5, 1.6 + 0.34 * rows))
    figure, axis = new_figure(width, height)
    finite = values[np.isfinite(values)]
    top = 1.0 if kind == "logo" or finite.size == 0 else float(min(1.5, max(1.0, np.nanpercentile(finite, 98))))
    # Start the scale just below the lowest value so the cells differ visibly (most are 50-100%).
    bottom = 0.0 if finite.size == 0 else float(min(0.9, max(0.0, np.floor(np.nanmin(finite) * 10) / 10 - 0.1)))
    cmap = matplotlib.colormaps["YlGnBu"].with_extremes(bad="#f4f4f4")
    image = axis.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=bottom, vmax=top, aspect="auto",
                        interpolation="nearest")
    font = 9 if columns <= 18 else 8 if columns <= 26 else 6.5
    for i in range(rows):
        for j in range(columns):
            value = values[i, j]
            if np.isfinite(value):
                dark = (value - bottom) / (top - bottom) > 0.55
                axis.text(j, i, f"{value * 100:.0f}", ha="center", va="center", fontsize=font,
                          color="white" if dark else "#222222")
    cohorts = [f"{pd.Timestamp(cohort):%Y-%m}" for cohort in matrix.index]
    if cohort_sizes is not None:
        sizes = cohort_sizes.reindex(matrix.index)
        cohorts = [f"{label} (n={int(size):,})" if pd.notna(size) else label for label, size in zip(cohorts, sizes)]
    axis.set_yticks(np.arange(rows))
    axis.set_yticklabels(cohorts)
    step = 1 if columns <= 24 else 2
    axis.set_xticks(np.arange(0, columns, step))
    axis.set_xticklabels([str(age) for age in list(matrix.columns)[::step]])
    axis.tick_params(axis="x", top=True, labeltop=True, bottom=True, labelbottom=True)
    axis.grid(False)
    axis.set_xlabel("months since the cohort's first paid month (age)")
    axis.set_ylabel("cohort (first paid month)")
    colorbar = figure.colorbar(image, ax=axis, shrink=0.8, pad=0.01, format=PercentFormatter(xmax=1.0, decimals=0))
    if kind == "logo":
        colorbar.set_label("share of cohort's customers paying")
        default = "Logo retention by cohort (% of the cohort's customers still paying)"
    else:
        colorbar.set_label("cohort MRR / its first-month MRR")
        default = "Revenue retention by cohort (% of the cohort's first-month MRR)"
    axis.set_title(title or default)
    return figure


@styled
def kaplan_meier_chart(
    curves: pd.DataFrame,
    order: Sequence[str] | None = None,
    max_time: float | None = None,
    segment: str = "plan tier",
    logrank: Any | None = None,
    title: str | None = None,
    time_unit: str = "months",
    colors: dict[str, str] | None = None,
) -> Figure:
    """Kaplan-Meier survival curves with confidence bands, one per group.

    Args:
        curves: ``survival.kaplan_meier_by_group`` (``group, time, at_risk,
            survival, lower, upper``) or one ``kaplan_meier`` curve (no ``group``).
        order: groups in legend order (default: as they appear).
        max_time: x-axis limit, in ``time_unit``.
        segment: what the groups are, for the legend title.
        logrank: a ``survival.LogRankResult`` to print on the chart.
        title: the figure title.
        time_unit: the unit of ``time``.
        colors: group -> colour (default: the plan tier colours, else the palette).
    """
    require_columns(curves, ["time", "survival", "lower", "upper", "at_risk"], "kaplan_meier_chart")
    frame = curves if "group" in curves.columns else curves.assign(group="all customers")
    groups = list(order) if order is not None else list(dict.fromkeys(frame["group"]))
    groups = [group for group in groups if (frame["group"] == group).any()]
    figure, axis = new_figure(10.5, 5.8)
    for index, group in enumerate(groups):
        curve = frame[frame["group"] == group].sort_values("time")
        if max_time is not None:
            # Keep the step that is in force at max_time so the line reaches the edge.
            inside = curve["time"] <= max_time
            curve = curve[inside | (inside.shift(fill_value=True))]
        color = (colors or PLAN_TIER_COLORS).get(str(group), PALETTE[index % len(PALETTE)])
        subjects = int(curve["at_risk"].iloc[0])
        axis.step(curve["time"], curve["survival"], where="post", color=color, linewidth=2,
                  label=f"{group} (n={subjects:,})")
        axis.fill_between(curve["time"], curve["lower"], curve["upper"], step="post", color=color, alpha=0.15,
                          linewidth=0)
    if max_time is not None:
        axis.set_xlim(0, max_time)
    else:
        axis.set_xlim(0, None)
    axis.set_ylim(0, 1.02)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    axis.set_xlabel(f"tenure since signup ({time_unit})")
    axis.set_ylabel("share of customers not yet churned")
    axis.legend(title=f"{segment} (shaded: 95% band)", loc="lower left", frameon=True, framealpha=0.9)
    if logrank is not None:
        p_value = logrank.p_value
        shown = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
        axis.text(0.99, 0.98, f"log-rank χ² = {logrank.statistic:.1f}, df = {logrank.degrees_of_freedom}, {shown}",
                  transform=axis.transAxes, ha="right", va="top", fontsize=9.5,
                  bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#bbbbbb"})
    axis.set_title(title or f"Customer survival (Kaplan-Meier) by {segment}")
    return figure
