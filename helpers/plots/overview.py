"""Charts of the warehouse overview: weekly events, customers by month, mix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.plots.style import (
    MONEY_FORMATTER,
    PALETTE,
    as_floats,
    date_axis,
    new_figure,
    require_columns,
    styled,
)


@styled
def weekly_events_chart(weekly: pd.DataFrame, title: str = "Usage events per week, by event type") -> Figure:
    """Stacked areas of weekly event counts, one band per event type.

    Args:
        weekly: index = week start, one column per event type (``notebook.weekly_event_counts``).
    """
    if weekly.empty:
        raise ValueError("weekly_events_chart: no weeks to draw")
    order = weekly.sum().sort_values(ascending=False).index
    figure, axis = new_figure(11, 5)
    weeks = pd.to_datetime(weekly.index)
    axis.stackplot(weeks, *[weekly[column].to_numpy(dtype=float) for column in order],
                   labels=[str(column) for column in order],
                   colors=[PALETTE[i % len(PALETTE)] for i in range(len(order))], alpha=0.9)
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.set_ylabel("events per week")
    axis.set_xlabel("week (starting Monday)")
    axis.set_xlim(weeks.min(), weeks.max())
    date_axis(axis)
    handles, labels = axis.get_legend_handles_labels()
    axis.legend(handles[::-1], labels[::-1], title="event type", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                frameon=False)
    axis.set_title(title)
    return figure


@styled
def customer_counts_chart(counts: pd.DataFrame, title: str = "Customers by month") -> Figure:
    """Paying customers per month (line) above, signups and churned customers per month (bars) below.

    Args:
        counts: ``month, paying_customers, signups, churned_customers`` (``notebook.monthly_customer_counts``).
    """
    require_columns(counts, ["month", "paying_customers", "signups", "churned_customers"], "customer_counts_chart")
    months = pd.to_datetime(counts["month"])
    figure, (top, bottom) = new_figure(11, 6.8, rows=2, sharex=True)
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
    date_axis(bottom)
    figure.suptitle(title)
    return figure


@styled
def mix_chart(mix: pd.DataFrame, category: str, label: str | None = None, title: str | None = None) -> Figure:
    """Customers (all and paying) and MRR per category, as horizontal bars side by side.

    Args:
        mix: ``notebook.mix_table`` output (``<category>, customers, paying_customers, mrr, mrr_share``).
        category: the category column (``plan_tier`` or ``industry``).
        label: how to name the category on the axis (default: the column name).
    """
    require_columns(mix, [category, "customers", "paying_customers", "mrr"], "mix_chart")
    name = label or category.replace("_", " ")
    frame = mix.iloc[::-1]  # first row at the top
    positions = np.arange(len(frame))
    figure, (left, right) = new_figure(11, max(3.0, 1.2 + 0.42 * len(frame)), columns=2, sharey=True)
    left.barh(positions + 0.2, frame["customers"], height=0.4, color="#999999", label="all customers", zorder=2)
    left.barh(positions - 0.2, frame["paying_customers"], height=0.4, color="#0072B2", label="paying now", zorder=2)
    left.set_yticks(positions)
    left.set_yticklabels(frame[category].astype(str))
    left.set_xlabel("customers")
    left.set_ylabel(name)
    left.set_title(f"Customers by {name}")
    left.legend(loc="lower right", frameon=False)
    left.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    mrr = as_floats(frame["mrr"])
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
