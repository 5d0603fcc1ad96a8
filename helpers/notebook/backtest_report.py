"""Tables of the backtest report (05): rolling-origin dates, how they were made, predicted against realized churn."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pandas as pd

from helpers import config, warehouse
from helpers.models.backtest import origins
from helpers.models.scoring import DEFAULT_RISK_TIERS
from helpers.notebook.formatting import format_table


def backtest_dates(con: Any, as_of: dt.date, count: int = 12) -> list[dt.date]:
    """The last ``count`` month starts whose 90-day outcome window ends by ``as_of`` (and the data end).

    A report as of an earlier date so uses no later outcome to pick its dates.
    """
    return origins(warehouse.data_end(con), 90, count, as_of)


def out_of_sample_note(results: pd.DataFrame, candidate: str, calibration: str, stored: bool = False) -> str:
    """Markdown: how the rolling backtest was made, where the table comes from, and what is still not known.

    Args:
        stored: the table was read from the pipeline's backtest stage (``backtest.backtest_for``).
    """
    open_windows = int(results["realized_churners_12m"].isna().sum()) if len(results) else 0
    text = (
        f"Each of the {len(results)} dates was scored by a {candidate} model ({calibration} calibration) "
        "refitted only on outcomes known the day before it: every figure here is out of sample. "
        "The recipe itself was chosen at training time, with data after these dates: the candidate and "
        "calibration on the latest evaluation dates and, for boosted trees, the number of rounds the evaluation "
        "fit stopped at (on customers it held out)."
    )
    if stored:
        text += (" The table is the one the pipeline's backtest stage wrote (metrics/backtest.json) for this "
                 "warehouse, this registered model and this as-of date; no model was refitted for this page.")
    else:
        text += (" No stored backtest matched this warehouse, model and as-of date, so the models were refitted "
                 "while this page was made.")
    if open_windows:
        text += f" For {open_windows} dates the 12-month window has not closed yet: their realized 12-month figures are blank."
    return text


def backtest_table(results: pd.DataFrame) -> pd.DataFrame:
    """The rolling backtest per date, formatted: expected against realized at 90 days and 12 months."""
    frame = results.copy()
    for label in ("90d", "12m"):
        realized = frame[f"realized_mrr_lost_{label}"]
        frame[f"mrr_error_{label}"] = (frame[f"expected_mrr_lost_{label}"] - realized) / realized.where(realized > 0)
    columns = ["as_of", "customers"]
    rename = {"as_of": "as of"}
    for label in ("90d", "12m"):
        columns += [f"expected_churners_{label}", f"realized_churners_{label}", f"expected_mrr_lost_{label}",
                    f"realized_mrr_lost_{label}", f"mrr_error_{label}", f"roc_auc_{label}"]
        rename |= {f"expected_churners_{label}": f"expected churners {label}",
                   f"realized_churners_{label}": f"realized churners {label}",
                   f"expected_mrr_lost_{label}": f"expected MRR lost {label}",
                   f"realized_mrr_lost_{label}": f"realized MRR lost {label}",
                   f"mrr_error_{label}": f"MRR error {label}", f"roc_auc_{label}": f"ROC-AUC {label}"}
    return format_table(
        frame[columns], dates=["as_of"], counts=["customers"],
        numbers={f"{kind}_{label}": digits for label in ("90d", "12m")
                 for kind, digits in (("expected_churners", 1), ("realized_churners", 0), ("roc_auc", 3))},
        money=[f"{kind}_{label}" for label in ("90d", "12m") for kind in ("expected_mrr_lost", "realized_mrr_lost")],
        percent=["mrr_error_90d", "mrr_error_12m"], index="as_of", rename=rename,
    )


def chart_frame(results: pd.DataFrame, label: str = "90d") -> pd.DataFrame:
    """The columns ``plots.backtest_chart`` reads, for one horizon (every date out of sample)."""
    frame = results[["as_of"]].copy()
    for kind in ("expected_churners", "realized_churners", "expected_mrr_lost", "realized_mrr_lost"):
        frame[kind] = results[f"{kind}_{label}"]
    frame["in_sample"] = False
    return frame


def risk_tiers(params_path: str | os.PathLike | None = "") -> dict[str, float]:
    """The risk tier lower bounds from ``params.yaml`` (``scoring.risk_tiers``), else the scoring defaults."""

    tiers = (config.load_params(params_path or None).get("scoring") or {}).get("risk_tiers")
    return {str(name): float(bound) for name, bound in (tiers or DEFAULT_RISK_TIERS).items()}


def training_profile(model: Any) -> dict[str, Any] | None:
    """The feature profile a churn model recorded at training (for drift), or None if it has none.

    Models pickled before profiles were recorded lack the attribute; retrain them
    (``dvc repro train``) to get drift checks.
    """
    profile = getattr(model, "training_profile", None)
    return profile or None
