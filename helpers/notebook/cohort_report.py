"""Tables of the cohort report (02): MRR roll-forward, retention summary, log-rank results."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pandas as pd

from helpers.notebook.formatting import format_table

MOVEMENT_LABELS = {
    "starting_mrr": "starting MRR",
    "new": "new",
    "reactivation": "reactivation",
    "expansion": "expansion",
    "contraction": "contraction",
    "churn": "churn",
    "ending_mrr": "ending MRR",
    "net_change": "net change",
    "active_customers": "customers",
}


def roll_forward_table(movements: pd.DataFrame) -> pd.DataFrame:
    """The monthly MRR roll-forward, money formatted: one row per month.

    Columns: starting MRR, the five movements, ending MRR, net change and
    paying customers at the month's snapshot.
    """
    frame = movements.copy()
    frame["net_change"] = frame["ending_mrr"].map(Decimal) - frame["starting_mrr"].map(Decimal)
    columns = ["month", *MOVEMENT_LABELS]
    money = [column for column in MOVEMENT_LABELS if column != "active_customers"]
    return format_table(
        frame[columns], money=money, counts=["active_customers"], months=["month"],
        index="month", rename=MOVEMENT_LABELS,
    )


def retention_summary_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Monthly logo churn, GRR and NRR (monthly and trailing 12 months) and quick ratio, formatted."""
    columns = {
        "month": "month", "logo_churn_rate": "logo churn", "grr": "GRR", "nrr": "NRR",
        "grr_ttm": "GRR (TTM)", "nrr_ttm": "NRR (TTM)", "quick_ratio": "quick ratio", "arpa": "ARPA",
    }
    return format_table(
        metrics[list(columns)], percent=["logo_churn_rate", "grr", "nrr", "grr_ttm", "nrr_ttm"],
        numbers={"quick_ratio": 2}, money=["arpa"], months=["month"], index="month", rename=columns,
    )


def describe_logrank(result: Any, segment: str = "plan tier") -> str:
    """The log-rank test in one sentence, e.g. "... chi-square 412.3 on 4 degrees of freedom, p < 0.001"."""
    p_value = result.p_value
    shown_p = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
    verdict = (
        f"the {segment}s do not share one survival curve" if p_value < 0.05
        else f"no evidence that the {segment}s' survival curves differ"
    )
    return (
        f"Log-rank test across {len(result.summary)} {segment}s: chi-square {result.statistic:.1f} on "
        f"{result.degrees_of_freedom} degrees of freedom, {shown_p} ({verdict} at the 5% level)."
    )


def logrank_table(result: Any, order: Iterable[str] | None = None, segment: str = "group") -> pd.DataFrame:
    """Per group: customers, observed and expected churns and their ratio, formatted."""
    table = result.summary.copy()
    if order is not None:
        position = {name: i for i, name in enumerate(order)}
        table = table.sort_values("group", key=lambda column: column.map(lambda g: position.get(g, len(position))))
    table["observed_over_expected"] = table["observed"] / table["expected"]
    return format_table(
        table, counts=["subjects", "observed"], numbers={"expected": 1, "observed_over_expected": 2}, index="group",
        rename={"group": segment, "subjects": "customers", "observed": "observed churns",
                "expected": "expected churns", "observed_over_expected": "observed / expected"},
    )


def segment_retention_table(metrics: pd.DataFrame, month: Any) -> pd.DataFrame:
    """One column per segment, one row per metric, for ``month``: the segments side by side.

    Args:
        metrics: ``revenue.retention_metrics(..., segment=...)`` rows.
        month: the month to show (first day).
    """
    latest = metrics[metrics["month"] == pd.Timestamp(month)]
    columns = {"logo_churn_rate": "logo churn", "grr": "GRR", "nrr": "NRR", "grr_ttm": "GRR (TTM)",
               "nrr_ttm": "NRR (TTM)", "arpa": "ARPA"}
    shown = format_table(latest[["segment", *columns]], percent=["logo_churn_rate", "grr", "nrr", "grr_ttm", "nrr_ttm"],
                         money=["arpa"], index="segment", rename=columns)
    return shown.T
