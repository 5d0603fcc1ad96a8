"""Churn report charts: risk tiers, segment risk, MRR at risk, drift."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from helpers.plots.style import (
    MONEY_FORMATTER,
    PALETTE,
    RISK_TIER_COLORS,
    as_floats,
    money_label,
    new_figure,
    require_columns,
    styled,
)


def _tier_colors(tiers: Iterable[str]) -> list[str]:
    return [RISK_TIER_COLORS.get(str(tier), PALETTE[i % len(PALETTE)]) for i, tier in enumerate(tiers)]


@styled
def risk_tier_chart(tiers: pd.DataFrame, title: str = "Customers and MRR by risk tier") -> Figure:
    """Customers and MRR per risk tier, side by side, each bar labelled with its share.

    Args:
        tiers: ``risk_tier, customers, mrr`` (``notebook.tier_summary``), lowest tier first.
    """
    require_columns(tiers, ["risk_tier", "customers", "mrr"], "risk_tier_chart")
    names = tiers["risk_tier"].astype(str).tolist()
    colors = _tier_colors(names)
    positions = np.arange(len(names))
    figure, (left, right) = new_figure(11, 4.6, columns=2)
    for axis, column, label, formatter in (
        (left, "customers", "customers", FuncFormatter(lambda value, _: f"{value:,.0f}")),
        (right, "mrr", "current MRR (USD)", MONEY_FORMATTER),
    ):
        values = as_floats(tiers[column])
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


@styled
def segment_risk_chart(summary: pd.DataFrame, segment: str, label: str | None = None,
                       horizon_label: str = "within the churn horizon", title: str | None = None) -> Figure:
    """Current MRR and MRR at risk per segment, horizontal bars, labelled with the at-risk share.

    Args:
        summary: ``<segment>, mrr, mrr_at_risk`` (``notebook.segment_summary``).
        segment: the segment column (``plan_tier`` or ``industry``).
        label: how to name the segment on the axis.
        horizon_label: what "at risk" covers, for the legend.
    """
    require_columns(summary, [segment, "mrr", "mrr_at_risk"], "segment_risk_chart")
    name = label or segment.replace("_", " ")
    frame = summary.iloc[::-1]
    positions = np.arange(len(frame))
    mrr, at_risk = as_floats(frame["mrr"]), as_floats(frame["mrr_at_risk"])
    figure, axis = new_figure(10, max(3.0, 1.3 + 0.45 * len(frame)))
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


@styled
def mrr_at_risk_chart(at_risk: pd.DataFrame, total_mrr: float | None = None,
                      title: str = "Expected MRR lost within 3, 6 and 12 months, by risk tier") -> Figure:
    """Expected MRR lost by horizon, stacked by risk tier.

    Args:
        at_risk: long frame ``horizon_months, risk_tier, expected_mrr_at_risk`` (``notebook.mrr_at_risk_by_horizon``).
        total_mrr: current MRR, to label each bar with its share.
    """
    require_columns(at_risk, ["horizon_months", "risk_tier", "expected_mrr_at_risk"], "mrr_at_risk_chart")
    table = at_risk.pivot_table(index="horizon_months", columns="risk_tier", values="expected_mrr_at_risk",
                                aggfunc="sum", sort=False).sort_index()
    tiers = list(dict.fromkeys(at_risk["risk_tier"].astype(str)))
    table = table[tiers]
    positions = np.arange(len(table))
    figure, axis = new_figure(9, 5)
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


@styled
def drift_chart(psi: pd.DataFrame, threshold: float = 0.2,
                title: str = "Drift of the scored customers against the training data") -> Figure:
    """PSI per feature as horizontal bars, flagged features highlighted, the threshold as a line.

    Args:
        psi: ``feature, psi, flagged`` (``drift.population_stability``).
        threshold: the flag level (0.2 by convention).
    """
    require_columns(psi, ["feature", "psi"], "drift_chart")
    frame = psi.sort_values("psi", ascending=True)
    flagged = frame["psi"].to_numpy(dtype=float) > threshold
    positions = np.arange(len(frame))
    figure, axis = new_figure(9.5, max(3.0, 1.2 + 0.27 * len(frame)))
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
