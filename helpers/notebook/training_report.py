"""Tables of the training notebook (03): evaluation metadata, model card, reliability, metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from helpers.models.evaluation import reliability_table
from helpers.models.model_card import render_model_card
from helpers.models.training import churn_details, risk_details
from helpers.notebook.formatting import format_table

NOT_REGISTERED = "not registered"
TRAINED_IN_THIS_RUN = "in this notebook run"


def evaluation_metadata(churn_evaluation: Any, risk_evaluation: Any, params: Mapping[str, Any],
                        data_fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model-card metadata of an evaluation run (what ``training.train_all`` would register, minus the refit).

    Args:
        churn_evaluation: ``training.fit_and_evaluate_churn``.
        risk_evaluation: ``training.fit_and_evaluate_risk``.
        params: the training parameters used.
        data_fingerprint: the warehouse content hash.

    Returns:
        (churn metadata, risk metadata) shaped like the registry's, versions "not registered".
    """

    run = {"version": NOT_REGISTERED, "trained_at": TRAINED_IN_THIS_RUN, "data_fingerprint": data_fingerprint}
    churn = churn_details(churn_evaluation, params["churn_model"]) | run
    risk = risk_details(risk_evaluation, params["risk_model"]) | run
    return churn, risk


def evaluation_model_card(churn_evaluation: Any, risk_evaluation: Any, params: Mapping[str, Any],
                          data_fingerprint: str) -> str:
    """The model card of an evaluation run that registered nothing, in markdown."""

    churn, risk = evaluation_metadata(churn_evaluation, risk_evaluation, params, data_fingerprint)
    card = render_model_card(churn, risk)
    note = (
        "Not registered: this run evaluated the models without saving them; with `register=True` "
        "(or `dvc repro train`) they are refitted on every labelled snapshot and saved."
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


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Classification metrics of the churn model and baselines, formatted, one row per model."""
    rows = []
    for model, values in metrics.items():
        rows.append({
            "model": model,
            "roc_auc": values.get("roc_auc"), "pr_auc": values.get("pr_auc"), "brier": values.get("brier"),
            "top_decile_lift": values.get("top_decile_lift"),
            "top_decile_churned_mrr_share": values.get("top_decile_churned_mrr_share"),
        })
    return format_table(
        pd.DataFrame(rows), numbers={"roc_auc": 3, "pr_auc": 3, "brier": 4, "top_decile_lift": 2},
        percent=["top_decile_churned_mrr_share"], index="model",
        rename={"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "brier": "Brier", "top_decile_lift": "top-decile lift",
                "top_decile_churned_mrr_share": "churned MRR in top decile"},
    )
