"""Tables of the training notebook (03): evaluation metadata, model card, reliability, candidate metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from helpers.models.evaluation import reliability_table
from helpers.models.model_card import render_model_card
from helpers.models.training import evaluation_details
from helpers.notebook.formatting import format_table

NOT_REGISTERED = "not registered"
TRAINED_IN_THIS_RUN = "in this notebook run"


def evaluation_metadata(evaluation: Any, params: Mapping[str, Any],
                        data_fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model-card metadata of an evaluation run (what ``training.train_all`` would register, minus the refit).

    Args:
        evaluation: ``training.evaluate``.
        params: the training parameters used.
        data_fingerprint: the warehouse content hash.

    Returns:
        (churn metadata, risk metadata) shaped like the registry's, versions "not registered".
    """
    run = {"version": NOT_REGISTERED, "trained_at": TRAINED_IN_THIS_RUN, "data_fingerprint": data_fingerprint,
           "fit_id": NOT_REGISTERED, "trained_through": str(evaluation.split.observed_until - dt.timedelta(days=1))}
    details = evaluation_details(evaluation, params["churn_model"]) | run
    risk = details | {"horizon_months": int(params.get("risk_model", {}).get("horizon_months", 12))}
    return details, risk


def evaluation_model_card(evaluation: Any, params: Mapping[str, Any], data_fingerprint: str) -> str:
    """The model card of an evaluation run that registered nothing, in markdown."""
    churn, risk = evaluation_metadata(evaluation, params, data_fingerprint)
    card = render_model_card(churn, risk)
    note = (
        "Not registered: this run evaluated the candidates without saving them; with `register=True` "
        "(or `dvc repro train`) the winner is refitted on every closed window and saved."
    )
    lines = [note if line.startswith("The registered model was then refitted") else line for line in card.split("\n")]
    return "\n".join(lines)


def demote_headings(markdown: str, levels: int = 1) -> str:
    """Push every markdown heading down ``levels`` levels (``# Card`` -> ``## Card``), to nest a document in a report."""
    lines = []
    in_code = False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#"):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


def reliability_frame(predictions: pd.DataFrame, models: Iterable[str], label: str = "churned",
                      bins: int = 10) -> pd.DataFrame:
    """Reliability tables of several score columns, stacked with a ``model`` column."""

    frames = []
    for model in models:
        table = reliability_table(predictions[label], predictions[model], bins=bins)
        table.insert(0, "model", model)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def metrics_table(metrics: Mapping[str, Mapping[str, Any]], horizon: str) -> pd.DataFrame:
    """Out-of-time metrics of every candidate, formatted, best log loss first.

    Args:
        metrics: ``training.evaluate(...).metrics``.
        horizon: the horizon label of the Brier and ROC-AUC columns (e.g. ``90d``).
    """
    rows = []
    for model, values in sorted(metrics.items(), key=lambda item: item[1]["hazard_log_loss"]):
        h = values["horizons"].get(horizon, {})
        td = values.get("time_dependent_auc", {})
        rows.append({
            "model": model, "calibration": values.get("calibration"), "log_loss": values["hazard_log_loss"],
            "brier": h.get("brier"), "roc_auc": h.get("roc_auc"), "pr_auc": h.get("pr_auc"),
            "td_auc_3m": td.get("3m"), "td_auc_6m": td.get("6m"), "td_auc_12m": td.get("12m"),
            "ibs": values.get("integrated_brier_score"),
        })
    return format_table(
        pd.DataFrame(rows), numbers={"log_loss": 5, "brier": 4, "roc_auc": 3, "pr_auc": 3, "td_auc_3m": 3,
                                     "td_auc_6m": 3, "td_auc_12m": 3, "ibs": 4}, index="model",
        rename={"log_loss": "monthly-hazard log loss", "brier": f"Brier {horizon}", "roc_auc": f"ROC-AUC {horizon}",
                "pr_auc": f"PR-AUC {horizon}", "td_auc_3m": "td-AUC 3m", "td_auc_6m": "td-AUC 6m",
                "td_auc_12m": "td-AUC 12m", "ibs": "integrated Brier"},
    )
