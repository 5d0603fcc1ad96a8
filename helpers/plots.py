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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

# --- style -----------------------------------------------------------------------

DPI = 100
STYLE: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "legend.title_fontsize": 9.5,
    "figure.titlesize": 14,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
}

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
MOVEMENT_COLORS: dict[str, str] = {
    "new": "#009E73",
    "reactivation": "#56B4E9",
    "expansion": "#0072B2",
    "contraction": "#E69F00",
    "churn": "#D55E00",
}
GAINS = ("new", "reactivation", "expansion")
LOSSES = ("contraction", "churn")
RISK_TIER_COLORS: dict[str, str] = {
    "low": "#009E73",
    "medium": "#E6B000",
    "high": "#E66100",
    "critical": "#A50F15",
}
PLAN_TIER_COLORS: dict[str, str] = {
    "free": "#999999",
    "starter": "#E69F00",
    "growth": "#009E73",
    "enterprise": "#0072B2",
    "custom": "#CC79A7",
}
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
MODEL_COLORS: dict[str, str] = {
    "churn_model": "#0072B2",
    "logistic_regression": "#E69F00",
    "recency_rule": "#009E73",
    "base_rate": "#999999",
}
NET_COLOR = "#222222"


def _styled(function: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under the suite's rc settings (sizes are fixed when artists are made)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float, rows: int = 1, columns: int = 1, **subplot_kw) -> tuple[Figure, Any]:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=True, **subplot_kw)
    return figure, axes


def _floats(values: Iterable[Any]) -> np.ndarray:
    """Money or ratios (Decimal, None, numpy) as a float array; None becomes NaN."""
    return np.array([np.nan if value is None or value is pd.NA else float(value) for value in values], dtype=float)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise KeyError(f"{what}: missing column(s) {', '.join(missing)}; got {', '.join(map(str, frame.columns))}")


def money_label(value: float, _position: Any = None) -> str:
    """Compact money for axis ticks: ``$1.2M``, ``$450k``, ``-$35k``, ``$0``."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size >= 1e6:
        text = f"{size / 1e6:.1f}M".replace(".0M", "M")
    elif size >= 1e3:
        text = f"{size / 1e3:.0f}k"
    else:
        text = f"{size:.0f}"
    return f"{sign}${text}" if text != "0" else "$0"


MONEY_FORMATTER = FuncFormatter(money_label)
SHARE_FORMATTER = PercentFormatter(xmax=1.0, decimals=0)


def _month_labels(months: Iterable[Any]) -> list[str]:
    return [pd.Timestamp(month).strftime("%b\n%Y") for month in months]


def _date_axis(axis) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _thin_ticks(axis, labels: Sequence[str], maximum: int = 14) -> None:
    """Categorical x labels, showing every k-th one when there are too many to read."""
    step = max(1, int(np.ceil(len(labels) / maximum)))
    positions = np.arange(len(labels))
    axis.set_xticks(positions[::step])
    axis.set_xticklabels([labels[i] for i in positions[::step]])


# --- revenue (02) ----------------------------------------------------------------


@_styled
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
    _require(movements, ["month", *MOVEMENT_COLORS], "mrr_movements_chart")
    months = list(movements["month"])
    positions = np.arange(len(months))
    figure, axis = _figure(11, 5.2)
    above = np.zeros(len(months))
    below = np.zeros(len(months))
    for name in GAINS:
        values = np.clip(_floats(movements[name]), 0, None)
        axis.bar(positions, values, bottom=above, width=0.72, color=MOVEMENT_COLORS[name], label=name, zorder=2)
        above += values
    for name in LOSSES:
        values = np.clip(_floats(movements[name]), None, 0)
        axis.bar(positions, values, bottom=below, width=0.72, color=MOVEMENT_COLORS[name], label=name, zorder=2)
        below += values
    net = above + below
    axis.plot(positions, net, color=NET_COLOR, marker="o", linewidth=2, markersize=5, label="net change", zorder=3)
    axis.axhline(0, color="#444444", linewidth=0.8, zorder=2)
    _thin_ticks(axis, _month_labels(months))
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


@_styled
def retention_trends_chart(metrics: pd.DataFrame, title: str = "Revenue retention and logo churn") -> Figure:
    """GRR and NRR (monthly and trailing 12 months) above, logo churn rate below.

    Args:
        metrics: ``revenue.retention_metrics`` rows (``month, logo_churn_rate, grr, nrr, grr_ttm, nrr_ttm``).
    """
    _require(metrics, ["month", "logo_churn_rate", "grr", "nrr", "grr_ttm", "nrr_ttm"], "retention_trends_chart")
    months = pd.to_datetime(metrics["month"])
    figure, (top, bottom) = _figure(11, 7.5, rows=2, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    series = [
        ("grr", "GRR (monthly)", "#D55E00", "-", 1.2, 0.55),
        ("nrr", "NRR (monthly)", "#0072B2", "-", 1.2, 0.55),
        ("grr_ttm", "GRR (trailing 12 months)", "#D55E00", "-", 2.4, 1.0),
        ("nrr_ttm", "NRR (trailing 12 months)", "#0072B2", "-", 2.4, 1.0),
    ]
    for column, label, color, style, width, alpha in series:
        top.plot(months, _floats(metrics[column]), color=color, linestyle=style, linewidth=width,
                 alpha=alpha, label=label, marker="o" if width < 2 else None, markersize=3)
    top.axhline(1.0, color="#444444", linewidth=0.8, linestyle=":")
    top.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    top.set_ylabel("share of starting MRR kept")
    top.set_title("Gross and net revenue retention")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    churn = _floats(metrics["logo_churn_rate"])
    bottom.bar(months, churn, width=20, color="#CC79A7", label="logo churn rate", zorder=2)
    bottom.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
    bottom.set_ylabel("share of last month's\ncustomers churned")
    bottom.set_xlabel("month")
    bottom.set_title("Logo churn rate")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _date_axis(bottom)
    figure.suptitle(title)
    return figure


@_styled
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
    figure, axis = _figure(width, height)
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


@_styled
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
    _require(curves, ["time", "survival", "lower", "upper", "at_risk"], "kaplan_meier_chart")
    frame = curves if "group" in curves.columns else curves.assign(group="all customers")
    groups = list(order) if order is not None else list(dict.fromkeys(frame["group"]))
    groups = [group for group in groups if (frame["group"] == group).any()]
    figure, axis = _figure(10.5, 5.8)
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


# --- warehouse overview (01) -----------------------------------------------------


@_styled
def weekly_events_chart(weekly: pd.DataFrame, title: str = "Usage events per week, by event type") -> Figure:
    """Stacked areas of weekly event counts, one band per event type.

    Args:
        weekly: index = week start, one column per event type (``notebook.weekly_event_counts``).
    """
    if weekly.empty:
        raise ValueError("weekly_events_chart: no weeks to draw")
    order = weekly.sum().sort_values(ascending=False).index
    figure, axis = _figure(11, 5)
    weeks = pd.to_datetime(weekly.index)
    axis.stackplot(weeks, *[weekly[column].to_numpy(dtype=float) for column in order],
                   labels=[str(column) for column in order],
                   colors=[PALETTE[i % len(PALETTE)] for i in range(len(order))], alpha=0.9)
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.set_ylabel("events per week")
    axis.set_xlabel("week (starting Monday)")
    axis.set_xlim(weeks.min(), weeks.max())
    _date_axis(axis)
    handles, labels = axis.get_legend_handles_labels()
    axis.legend(handles[::-1], labels[::-1], title="event type", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                frameon=False)
    axis.set_title(title)
    return figure


@_styled
def customer_counts_chart(counts: pd.DataFrame, title: str = "Customers by month") -> Figure:
    """Paying customers per month (line) above, signups and churned customers per month (bars) below.

    Args:
        counts: ``month, paying_customers, signups, churned_customers`` (``notebook.monthly_customer_counts``).
    """
    _require(counts, ["month", "paying_customers", "signups", "churned_customers"], "customer_counts_chart")
    months = pd.to_datetime(counts["month"])
    figure, (top, bottom) = _figure(11, 6.8, rows=2, sharex=True)
    top.plot(months, counts["paying_customers"], color="#0072B2", linewidth=2.2, marker="o", markersize=3,
             label="paying customers (MRR > 0 on the 1st)")
    top.set_ylabel("customers")
    top.set_ylim(0, None)
    top.set_title("Paying customers")
    top.legend(loc="upper left", frameon=False)
    offset = pd.Timedelta(days=7)
    bottom.bar(months - offset, counts["signups"], width=13, color="#009E73", label="signups", zorder=2)
    bottom.bar(months + offset, counts["churned_customers"], width=13, color="#D55E00",
               label="churned customers (MRR churn)", zorder=2)
    bottom.set_ylabel("customers per month")
    bottom.set_xlabel("month")
    bottom.set_title("Signups and churned customers")
    bottom.legend(loc="upper left", frameon=False)
    for axis in (top, bottom):
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    _date_axis(bottom)
    figure.suptitle(title)
    return figure


@_styled
def mix_chart(mix: pd.DataFrame, category: str, label: str | None = None, title: str | None = None) -> Figure:
    """Customers (all and paying) and MRR per category, as horizontal bars side by side.

    Args:
        mix: ``notebook.mix_table`` output (``<category>, customers, paying_customers, mrr, mrr_share``).
        category: the category column (``plan_tier`` or ``industry``).
        label: how to name the category on the axis (default: the column name).
    """
    _require(mix, [category, "customers", "paying_customers", "mrr"], "mix_chart")
    name = label or category.replace("_", " ")
    frame = mix.iloc[::-1]  # first row at the top
    positions = np.arange(len(frame))
    figure, (left, right) = _figure(11, max(3.0, 1.2 + 0.42 * len(frame)), columns=2, sharey=True)
    left.barh(positions + 0.2, frame["customers"], height=0.4, color="#999999", label="all customers", zorder=2)
    left.barh(positions - 0.2, frame["paying_customers"], height=0.4, color="#0072B2", label="paying now", zorder=2)
    left.set_yticks(positions)
    left.set_yticklabels(frame[category].astype(str))
    left.set_xlabel("customers")
    left.set_ylabel(name)
    left.set_title(f"Customers by {name}")
    left.legend(loc="lower right", frameon=False)
    left.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    mrr = _floats(frame["mrr"])
    right.barh(positions, mrr, height=0.6, color="#009E73", label="MRR", zorder=2)
    total = np.nansum(mrr)
    for position, value in zip(positions, mrr):
        if total > 0:
            right.text(value, position, f" {value / total:.0%}", va="center", fontsize=9)
    right.set_xlabel("current MRR (USD)")
    right.set_title(f"MRR by {name} (label: share of total)")
    right.xaxis.set_major_formatter(MONEY_FORMATTER)
    right.set_xlim(0, (np.nanmax(mrr) if len(mrr) else 1) * 1.15 or 1)
    for axis in (left, right):
        axis.grid(axis="y", visible=False)
    figure.suptitle(title or f"Customer mix by {name}")
    return figure


# --- model evaluation (03) -------------------------------------------------------


def _model_color(model: str, index: int) -> str:
    return MODEL_COLORS.get(model, PALETTE[index % len(PALETTE)])


def _labels_and_scores(predictions: pd.DataFrame, label: str, model: str) -> tuple[np.ndarray, np.ndarray]:
    _require(predictions, [label, model], "predictions")
    return predictions[label].to_numpy(dtype=int), predictions[model].to_numpy(dtype=float)


@_styled
def roc_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned",
              title: str = "ROC curve: churn model against the baselines") -> Figure:
    """ROC curves of several score columns of one evaluation frame, AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axis = _figure(7, 6.2)
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        false_positive, true_positive, _ = roc_curve(labels, scores)
        auc = roc_auc_score(labels, scores)
        axis.plot(false_positive, true_positive, color=_model_color(model, index), linewidth=2.4 if index == 0 else 1.6,
                  label=f"{model} (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1, label="chance")
    _finish_share_curve(axis, "false positive rate (share of non-churners flagged)",
                        "true positive rate (share of churners caught)", "lower right", title)
    return figure


@_styled
def precision_recall_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned",
                           title: str = "Precision-recall curve: churn model against the baselines") -> Figure:
    """Precision against recall for several score columns, average precision in the legend."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure, axis = _figure(7, 6.2)
    base_rate = float(predictions[label].mean())
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        precision, recall, _ = precision_recall_curve(labels, scores)
        average = average_precision_score(labels, scores)
        axis.plot(recall, precision, color=_model_color(model, index), linewidth=2.4 if index == 0 else 1.6,
                  label=f"{model} (AP {average:.3f})", drawstyle="steps-post")
    axis.axhline(base_rate, color="#777777", linestyle=":", linewidth=1, label=f"churn rate ({base_rate:.1%})")
    _finish_share_curve(axis, "recall (share of churners caught)", "precision (share of flagged who churned)",
                        "upper right", title)
    return figure


def _finish_share_curve(axis, xlabel: str, ylabel: str, legend_loc: str, title: str) -> None:
    """Both axes shares from 0 to 100% (ROC and precision-recall curves), labels, legend, title."""
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.xaxis.set_major_formatter(SHARE_FORMATTER)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.legend(loc=legend_loc, frameon=True, framealpha=0.9)
    axis.set_title(title)


@_styled
def reliability_chart(reliability: pd.DataFrame, title: str = "Calibration: predicted against observed churn") -> Figure:
    """Mean predicted probability against observed churn rate per score bin, one line per model.

    Args:
        reliability: ``model, bin, rows, mean_predicted, observed_rate`` (``notebook.reliability_frame``).
    """
    _require(reliability, ["model", "mean_predicted", "observed_rate"], "reliability_chart")
    figure, axis = _figure(7, 6.2)
    top = float(max(reliability["mean_predicted"].max(), reliability["observed_rate"].max(), 0.05)) * 1.05
    axis.plot([0, top], [0, top], color="#777777", linestyle=":", linewidth=1, label="perfectly calibrated")
    for index, (model, table) in enumerate(reliability.groupby("model", sort=False)):
        axis.plot(table["mean_predicted"], table["observed_rate"], color=_model_color(model, index),
                  marker="o", markersize=5, linewidth=2.2 if index == 0 else 1.4, label=model)
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.xaxis.set_major_formatter(SHARE_FORMATTER)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel("mean predicted churn probability (per score decile)")
    axis.set_ylabel("observed churn rate (per score decile)")
    axis.legend(loc="upper left", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


def _gains(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="stable")
    captured = np.concatenate(([0.0], np.cumsum(labels[order]) / max(labels.sum(), 1)))
    contacted = np.arange(len(labels) + 1) / len(labels)
    return contacted, captured


@_styled
def gains_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned",
                title: str = "Cumulative gains: churners caught by contacting the riskiest first") -> Figure:
    """Share of churners captured against share of customers contacted, highest scores first."""
    figure, axis = _figure(7, 6.2)
    labels_all = predictions[label].to_numpy(dtype=int)
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        contacted, captured = _gains(labels, scores)
        axis.plot(contacted, captured, color=_model_color(model, index), linewidth=2.4 if index == 0 else 1.6,
                  label=model)
    base = labels_all.mean() if len(labels_all) else 0.0
    axis.plot([0, base, 1], [0, 1, 1], color="#444444", linestyle="--", linewidth=1, label="perfect ranking")
    axis.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1, label="random order")
    axis.axvline(0.1, color="#bbbbbb", linewidth=0.8, label="top 10% contacted")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.xaxis.set_major_formatter(SHARE_FORMATTER)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel("share of customers contacted (riskiest first)")
    axis.set_ylabel("share of churners captured")
    axis.legend(loc="lower right", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


@_styled
def lift_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned", deciles: int = 10,
               title: str = "Lift by score decile") -> Figure:
    """Churn rate in each score decile divided by the overall churn rate, one line per model."""
    figure, axis = _figure(8, 5.2)
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        order = np.argsort(-scores, kind="stable")
        groups = np.array_split(labels[order], deciles)
        base = labels.mean()
        lift = [group.mean() / base if base > 0 and len(group) else np.nan for group in groups]
        axis.plot(np.arange(1, deciles + 1), lift, color=_model_color(model, index), marker="o",
                  linewidth=2.2 if index == 0 else 1.4, label=model)
    axis.axhline(1.0, color="#777777", linestyle=":", linewidth=1, label="no lift (random)")
    axis.set_xticks(np.arange(1, deciles + 1))
    axis.set_xlabel("score decile (1 = the 10% with the highest scores)")
    axis.set_ylabel("lift (decile churn rate ÷ overall rate, ×)")
    axis.set_ylim(0, None)
    axis.legend(loc="upper right", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


@_styled
def survival_calibration_chart(calibration: pd.DataFrame, kaplan_meier: pd.DataFrame | None = None,
                               title: str = "Risk model: predicted survival against Kaplan-Meier (held-out customers)") -> Figure:
    """Mean predicted survival per month against the Kaplan-Meier estimate of the same customers.

    Args:
        calibration: ``month, predicted, kaplan_meier`` (``RiskEvaluation.calibration``).
        kaplan_meier: optional ``survival.kaplan_meier`` curve of those customers (time in months),
            drawn as a step line with its confidence band.
    """
    _require(calibration, ["month", "predicted", "kaplan_meier"], "survival_calibration_chart")
    figure, axis = _figure(9, 5.5)
    months = calibration["month"].to_numpy(dtype=float)
    if kaplan_meier is not None:
        curve = kaplan_meier[kaplan_meier["time"] <= months.max() + 1e-9]
        axis.step(curve["time"], curve["survival"], where="post", color="#444444", linewidth=1.8,
                  label="Kaplan-Meier (observed)")
        axis.fill_between(curve["time"], curve["lower"], curve["upper"], step="post", color="#444444", alpha=0.15,
                          linewidth=0, label="Kaplan-Meier 95% band")
    else:
        axis.plot(months, calibration["kaplan_meier"], color="#444444", marker="s", label="Kaplan-Meier (observed)")
    axis.plot(months, calibration["predicted"], color="#0072B2", marker="o", linewidth=2.2,
              label="mean predicted survival (risk model)")
    low = float(min(calibration["predicted"].min(), calibration["kaplan_meier"].min()))
    axis.set_ylim(max(0.0, low - 0.05), 1.005)
    axis.set_xlim(0, months.max() + 0.3)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel("months after the evaluation date")
    axis.set_ylabel("share of customers still paying")
    axis.legend(loc="lower left", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


# --- churn report (04) -----------------------------------------------------------


def _tier_colors(tiers: Iterable[str]) -> list[str]:
    return [RISK_TIER_COLORS.get(str(tier), PALETTE[i % len(PALETTE)]) for i, tier in enumerate(tiers)]


@_styled
def risk_tier_chart(tiers: pd.DataFrame, title: str = "Customers and MRR by risk tier") -> Figure:
    """Customers and MRR per risk tier, side by side, each bar labelled with its share.

    Args:
        tiers: ``risk_tier, customers, mrr`` (``notebook.tier_summary``), lowest tier first.
    """
    _require(tiers, ["risk_tier", "customers", "mrr"], "risk_tier_chart")
    names = tiers["risk_tier"].astype(str).tolist()
    colors = _tier_colors(names)
    positions = np.arange(len(names))
    figure, (left, right) = _figure(11, 4.6, columns=2)
    for axis, column, label, formatter in (
        (left, "customers", "customers", FuncFormatter(lambda value, _: f"{value:,.0f}")),
        (right, "mrr", "current MRR (USD)", MONEY_FORMATTER),
    ):
        values = _floats(tiers[column])
        bars = axis.bar(positions, values, color=colors, width=0.65, zorder=2)
        total = np.nansum(values)
        for bar, value in zip(bars, values):
            share = value / total if total else 0.0
            axis.annotate(f"{share:.0%}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                          fontsize=9, xytext=(0, 2), textcoords="offset points")
        axis.set_xticks(positions)
        axis.set_xticklabels(names)
        axis.set_xlabel("risk tier (churn probability within the horizon)")
        axis.set_ylabel(label)
        axis.yaxis.set_major_formatter(formatter)
        axis.set_ylim(0, (np.nanmax(values) if len(values) else 1) * 1.15 or 1)
        axis.grid(axis="x", visible=False)
    left.set_title("Customers (label: share)")
    right.set_title("MRR (label: share)")
    handles = [Patch(color=color, label=name) for name, color in zip(names, colors)]
    right.legend(handles=handles, title="risk tier", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.suptitle(title)
    return figure


@_styled
def segment_risk_chart(summary: pd.DataFrame, segment: str, label: str | None = None,
                       horizon_label: str = "within the churn horizon", title: str | None = None) -> Figure:
    """Current MRR and MRR at risk per segment, horizontal bars, labelled with the at-risk share.

    Args:
        summary: ``<segment>, mrr, mrr_at_risk`` (``notebook.segment_summary``).
        segment: the segment column (``plan_tier`` or ``industry``).
        label: how to name the segment on the axis.
        horizon_label: what "at risk" covers, for the legend.
    """
    _require(summary, [segment, "mrr", "mrr_at_risk"], "segment_risk_chart")
    name = label or segment.replace("_", " ")
    frame = summary.iloc[::-1]
    positions = np.arange(len(frame))
    mrr, at_risk = _floats(frame["mrr"]), _floats(frame["mrr_at_risk"])
    figure, axis = _figure(10, max(3.0, 1.3 + 0.45 * len(frame)))
    axis.barh(positions, mrr, height=0.7, color="#cfd8e3", label="current MRR", zorder=2)
    axis.barh(positions, at_risk, height=0.7, color="#D55E00", label=f"MRR at risk {horizon_label}", zorder=3)
    for position, value, risk in zip(positions, mrr, at_risk):
        share = risk / value if value > 0 else np.nan
        text = f" {money_label(risk)} at risk ({share:.1%})" if np.isfinite(share) else " no MRR"
        axis.text(value, position, text, va="center", fontsize=9)
    axis.set_yticks(positions)
    axis.set_yticklabels(frame[segment].astype(str))
    axis.set_xlim(0, (np.nanmax(mrr) if len(mrr) else 1) * 1.4 or 1)
    axis.xaxis.set_major_formatter(MONEY_FORMATTER)
    axis.set_xlabel("MRR (USD)")
    axis.set_ylabel(name)
    axis.grid(axis="y", visible=False)
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axis.set_title(title or f"MRR at risk by {name}")
    return figure


@_styled
def mrr_at_risk_chart(at_risk: pd.DataFrame, total_mrr: float | None = None,
                      title: str = "Expected MRR lost within 3, 6 and 12 months, by risk tier") -> Figure:
    """Expected MRR lost by horizon, stacked by risk tier.

    Args:
        at_risk: long frame ``horizon_months, risk_tier, expected_mrr_at_risk`` (``notebook.mrr_at_risk_by_horizon``).
        total_mrr: current MRR, to label each bar with its share.
    """
    _require(at_risk, ["horizon_months", "risk_tier", "expected_mrr_at_risk"], "mrr_at_risk_chart")
    table = at_risk.pivot_table(index="horizon_months", columns="risk_tier", values="expected_mrr_at_risk",
                                aggfunc="sum", sort=False).sort_index()
    tiers = list(dict.fromkeys(at_risk["risk_tier"].astype(str)))
    table = table[tiers]
    positions = np.arange(len(table))
    figure, axis = _figure(9, 5)
    bottom = np.zeros(len(table))
    for tier, color in zip(tiers, _tier_colors(tiers)):
        values = table[tier].to_numpy(dtype=float)
        axis.bar(positions, values, bottom=bottom, color=color, width=0.6, label=tier, zorder=2)
        bottom += values
    for position, value in zip(positions, bottom):
        text = money_label(value)
        if total_mrr:
            text += f"\n({value / total_mrr:.1%} of MRR)"
        axis.annotate(text, (position, value), ha="center", va="bottom", fontsize=9.5, xytext=(0, 3),
                      textcoords="offset points")
    axis.set_xticks(positions)
    axis.set_xticklabels([f"{int(months)} months" for months in table.index])
    axis.set_xlabel("horizon after the as-of date")
    axis.set_ylabel("expected MRR lost (USD per month)")
    axis.yaxis.set_major_formatter(MONEY_FORMATTER)
    axis.set_ylim(0, (bottom.max() if len(bottom) else 1) * 1.22 or 1)
    axis.grid(axis="x", visible=False)
    handles, labels = axis.get_legend_handles_labels()
    axis.legend(handles[::-1], labels[::-1], title="risk tier", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                frameon=False)
    axis.set_title(title)
    return figure


@_styled
def drift_chart(psi: pd.DataFrame, threshold: float = 0.2,
                title: str = "Drift of the scored customers against the training data") -> Figure:
    """PSI per feature as horizontal bars, flagged features highlighted, the threshold as a line.

    Args:
        psi: ``feature, psi, flagged`` (``drift.population_stability``).
        threshold: the flag level (0.2 by convention).
    """
    _require(psi, ["feature", "psi"], "drift_chart")
    frame = psi.sort_values("psi", ascending=True)
    flagged = frame["psi"].to_numpy(dtype=float) > threshold
    positions = np.arange(len(frame))
    figure, axis = _figure(9.5, max(3.0, 1.2 + 0.27 * len(frame)))
    colors = np.where(flagged, "#D55E00", "#0072B2")
    axis.barh(positions, frame["psi"].to_numpy(dtype=float), color=colors, height=0.7, zorder=2)
    axis.axvline(threshold, color="#444444", linestyle="--", linewidth=1.2, zorder=3)
    axis.set_yticks(positions)
    axis.set_yticklabels(frame["feature"])
    axis.set_xlabel("population stability index (PSI, unitless)")
    axis.set_ylabel("feature")
    axis.set_xlim(0, max(float(frame["psi"].max()) * 1.1, threshold * 1.5))
    axis.grid(axis="y", visible=False)
    handles = [
        Patch(color="#0072B2", label=f"stable (PSI ≤ {threshold:g})"),
        Patch(color="#D55E00", label=f"shifted (PSI > {threshold:g})"),
        Line2D([], [], color="#444444", linestyle="--", label=f"flag threshold {threshold:g}"),
    ]
    axis.legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


# --- backtest (05) ---------------------------------------------------------------


@_styled
def backtest_chart(results: pd.DataFrame, horizon_days: int = 90,
                   title: str = "Backtest: predicted against realized churn") -> Figure:
    """Expected against realized churners (top) and MRR lost (bottom) per as-of date; in-sample dates shaded.

    Args:
        results: ``backtest.backtest`` (``as_of, expected_churners, realized_churners,
            expected_mrr_lost, realized_mrr_lost, in_sample``).
        horizon_days: the outcome window, for the axis labels.
    """
    _require(results, ["as_of", "expected_churners", "realized_churners", "expected_mrr_lost",
                       "realized_mrr_lost", "in_sample"], "backtest_chart")
    labels = [f"{pd.Timestamp(day):%Y-%m-%d}" for day in results["as_of"]]
    positions = np.arange(len(results))
    figure, (top, bottom) = _figure(11, 7.5, rows=2, sharex=True)
    panels = (
        (top, "expected_churners", "realized_churners", f"customers churning\nwithin {horizon_days} days",
         FuncFormatter(lambda value, _: f"{value:,.0f}"), "Churners"),
        (bottom, "expected_mrr_lost", "realized_mrr_lost", f"MRR lost within\n{horizon_days} days (USD)",
         MONEY_FORMATTER, "MRR lost"),
    )
    in_sample = results["in_sample"].to_numpy(dtype=bool)
    for axis, expected, realized, ylabel, formatter, name in panels:
        for position in positions[in_sample]:
            axis.axvspan(position - 0.5, position + 0.5, color="#eeeeee", zorder=0, linewidth=0)
        axis.bar(positions - 0.19, _floats(results[expected]), width=0.38, color="#0072B2", label="expected (model)",
                 zorder=2)
        axis.bar(positions + 0.19, _floats(results[realized]), width=0.38, color="#E69F00", label="realized",
                 zorder=2)
        axis.set_ylabel(ylabel)
        axis.yaxis.set_major_formatter(formatter)
        axis.set_title(name)
        axis.grid(axis="x", visible=False)
        handles, names = axis.get_legend_handles_labels()
        if in_sample.any():
            handles.append(Patch(color="#eeeeee", label="in the model's training range"))
        axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    bottom.set_xticks(positions)
    bottom.set_xticklabels(labels, rotation=45, ha="right")
    bottom.set_xlabel("as-of date (outcomes counted over the following window)")
    figure.suptitle(title)
    return figure
