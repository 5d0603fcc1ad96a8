"""The backtest chart: predicted against realized churn for past as-of dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from helpers.plots.style import (
    MONEY_FORMATTER,
    as_floats,
    new_figure,
    require_columns,
    styled,
)


@styled
def backtest_chart(results: pd.DataFrame, horizon_days: int = 90,
                   title: str = "Backtest: predicted against realized churn") -> Figure:
    """Expected against realized churners (top) and MRR lost (bottom) per as-of date; in-sample dates shaded.

    Args:
        results: ``backtest.backtest`` (``as_of, expected_churners, realized_churners,
            expected_mrr_lost, realized_mrr_lost, in_sample``).
        horizon_days: the outcome window, for the axis labels.
    """
    require_columns(results, ["as_of", "expected_churners", "realized_churners", "expected_mrr_lost",
                       "realized_mrr_lost", "in_sample"], "backtest_chart")
    labels = [f"{pd.Timestamp(day):%Y-%m-%d}" for day in results["as_of"]]
    positions = np.arange(len(results))
    figure, (top, bottom) = new_figure(11, 7.5, rows=2, sharex=True)
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
        axis.bar(positions - 0.19, as_floats(results[expected]), width=0.38, color="#0072B2", label="expected (model)",
                 zorder=2)
        axis.bar(positions + 0.19, as_floats(results[realized]), width=0.38, color="#E69F00", label="realized",
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
