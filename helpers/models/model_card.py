"""The model card: what the two models are, how they were evaluated, and their limits, in markdown."""

from __future__ import annotations

from typing import Any

INTENDED_USE = (
    "Rank paying customers by their risk of stopping to pay within the horizon, so customer "
    "success can act first where MRR is at stake, and size expected MRR at risk over 3, 6 and "
    "12 months. Not for decisions about individuals without human review."
)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_model_card(churn: dict[str, Any], risk: dict[str, Any]) -> str:
    """Markdown model card from the two models' registry metadata.

    Args:
        churn: churn_model metadata (helpers.registry.get_model_metadata).
        risk: risk_model metadata.
    """
    split = churn["evaluation_split"]
    metric_rows = [
        [name, f"{m['roc_auc']:.3f}", f"{m['pr_auc']:.3f}", f"{m['brier']:.4f}",
         f"{m['top_decile_lift']:.2f}", f"{m['top_decile_churned_mrr_share']:.1%}"]
        for name, m in churn["metrics"].items()
    ]
    gap_rows = [
        [row["month"], f"{row['predicted']:.3f}", f"{row['kaplan_meier']:.3f}", f"{row['gap']:.3f}"]
        for row in risk["metrics"]["km_calibration"]
    ]
    return "\n\n".join([
        "# Model card: churn_model and risk_model",
        f"Versions: churn_model `{churn['version']}`, risk_model `{risk['version']}`; trained "
        f"{churn['trained_at']} on warehouse content `{churn['data_fingerprint'][:12]}`.",
        "## Intended use\n\n" + INTENDED_USE,
        "## churn_model",
        f"Calibrated gradient boosting (scikit-learn HistGradientBoosting, isotonic/sigmoid calibration on "
        f"the latest training dates) predicting whether a paying customer stops paying within "
        f"{churn['horizon_days']} days of the as-of date, from {len(churn['features'])} point-in-time features "
        f"(data strictly before the as-of date).",
        f"Out-of-time evaluation: trained on monthly snapshots {split['train_as_of'][0]} to "
        f"{split['train_as_of'][1]} ({split['train_rows']} rows, churn rate {split['train_churn_rate']:.1%}); "
        f"evaluated on {split['test_as_of'][0]} to {split['test_as_of'][1]} ({split['test_rows']} rows, churn "
        f"rate {split['test_churn_rate']:.1%}). No training label window overlaps an evaluation one.",
        _table(["model", "ROC-AUC", "PR-AUC", "Brier", "top-decile lift", "churned MRR in top decile"], metric_rows),
        f"The registered model was then refitted on snapshots {churn['as_of_range'][0]} to {churn['as_of_range'][1]}.",
        "## risk_model",
        f"Discrete-time monthly hazard (gradient boosting on customer-months) giving each customer a survival "
        f"curve over {risk['horizon_months']} months; tenure advances month by month, other features stay at "
        f"their as-of values. Evaluated on {risk['metrics']['held_out_customers']} held-out customers from "
        f"{risk['metrics']['evaluation_as_of']}: concordance {risk['metrics']['concordance']:.3f}, largest gap "
        f"to Kaplan-Meier {risk['metrics']['km_max_gap']:.3f}.",
        _table(["month", "mean predicted survival", "Kaplan-Meier", "gap"], gap_rows),
        "## Limits",
        "- Features held at today's values over 12 months: a customer whose usage is changing fast is "
        "mis-sized by the risk curve.\n"
        "- Trained on one warehouse's history (synthetic by default); retrain on your own data before use.\n"
        "- Drivers are occlusion contributions (score change when a feature takes its typical value), "
        "not causal effects.",
    ]) + "\n"
