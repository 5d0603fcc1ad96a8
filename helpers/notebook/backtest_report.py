"""Tables of the backtest report (05): as-of dates, in-sample note, predicted against realized churn."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers import warehouse
from helpers.dates import add_months, month_start
from helpers.models import training
from helpers.models.scoring import DEFAULT_RISK_TIERS
from helpers.notebook.formatting import format_date, format_table


def backtest_dates(con: Any, as_of: dt.date, horizon_days: int, count: int = 12) -> list[dt.date]:
    """The last ``count`` month starts whose ``horizon_days`` outcome window ends by ``as_of``.

    Like ``backtest.backtest_dates`` but measured from the report's as-of date
    (never later than the data end), so a report as of an earlier date uses no later outcomes.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    latest_known = min(as_of, warehouse.data_end(con) + dt.timedelta(days=1))
    newest = month_start(latest_known - dt.timedelta(days=horizon_days))
    return [add_months(newest, -offset) for offset in range(count - 1, -1, -1)]


def in_sample_note(results: pd.DataFrame, trained_as_of: Any, evaluation_split: Mapping[str, Any] | None = None) -> str:
    """Markdown caveat on the dates inside the model's training range (empty caveat when none are)."""
    inside = int(results["in_sample"].sum()) if len(results) else 0
    total = len(results)
    if trained_as_of is None:
        return "The model records no training range, so in-sample dates cannot be told apart; read the agreement with care."
    first, last = (format_date(day) for day in trained_as_of)
    if inside == 0:
        return (f"None of the {total} dates falls in the model's training range ({first} to {last}): "
                "this is an out-of-time check.")
    text = (
        f"**In-sample caveat: {inside} of {total} dates fall in the model's training range ({first} to {last}).** "
        "The model learned from those outcomes, so the agreement there flatters it; it is a consistency check, "
        "not evidence of accuracy on new data."
    )
    if evaluation_split:
        test = evaluation_split.get("test_as_of") or []
        if len(test) == 2:
            text += (f" The honest out-of-time figures are the evaluation recorded at training time "
                     f"(model trained before, scored on {test[0]} to {test[1]}; see the model card).")
    return text


def backtest_table(results: pd.DataFrame) -> pd.DataFrame:
    """The backtest per date, formatted, with the error of expected against realized MRR lost."""
    frame = results.copy()
    frame["mrr_error"] = (frame["expected_mrr_lost"] - frame["realized_mrr_lost"]) / frame["realized_mrr_lost"].where(
        frame["realized_mrr_lost"] > 0
    )
    frame["sample"] = np.where(frame["in_sample"], "in-sample", "out-of-time")
    return format_table(
        frame[["as_of", "customers", "expected_churners", "realized_churners", "expected_mrr_lost",
               "realized_mrr_lost", "mrr_error", "roc_auc", "sample"]],
        dates=["as_of"], counts=["customers", "realized_churners"], numbers={"expected_churners": 1, "roc_auc": 3},
        money=["expected_mrr_lost", "realized_mrr_lost"], percent=["mrr_error"], index="as_of",
        rename={"as_of": "as of", "expected_churners": "expected churners", "realized_churners": "realized churners",
                "expected_mrr_lost": "expected MRR lost", "realized_mrr_lost": "realized MRR lost",
                "mrr_error": "MRR error", "roc_auc": "ROC-AUC"},
    )


def risk_tiers(params_path: str | os.PathLike | None = "") -> dict[str, float]:
    """The risk tier lower bounds from ``params.yaml`` (``scoring.risk_tiers``), else the scoring defaults."""

    tiers = (training.load_params(params_path or None).get("scoring") or {}).get("risk_tiers")
    return {str(name): float(bound) for name, bound in (tiers or DEFAULT_RISK_TIERS).items()}


def training_profile(model: Any) -> dict[str, Any] | None:
    """The feature profile a churn model recorded at training (for drift), or None if it has none.

    Models pickled before profiles were recorded lack the attribute; retrain them
    (``dvc repro train``) to get drift checks.
    """
    profile = getattr(model, "training_profile", None)
    return profile or None
