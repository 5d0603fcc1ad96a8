"""The model card: what the time-to-churn model is, how it was chosen and checked out of time, its limits."""

from __future__ import annotations

import math
from typing import Any

INTENDED_USE = (
    "Rank paying customers by their risk of stopping to pay within the horizon, so customer "
    "success can act first where MRR is at stake, and size expected churners and MRR lost over "
    "90 days, 3, 6 and 12 months. Not for decisions about individuals without human review."
)
CANDIDATE_NAMES = {
    "boosted_trees": "gradient-boosted trees (scikit-learn HistGradientBoosting, early stopping on a held-out tenth of the customers)",
    "logistic_regression": "L2-regularised logistic regression",
    "base_rate": "the life table (base-rate baseline)",
    "recency_rule": "the recency rule (baseline)",
}


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: Any, spec: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def candidate_rows(metrics: dict[str, Any], horizon: str) -> list[list[str]]:
    """One row per candidate: log loss, horizon Brier and ROC-AUC, time-dependent AUC, IBS."""
    rows = []
    for name, m in sorted(metrics.items(), key=lambda item: item[1]["hazard_log_loss"]):
        h = m["horizons"].get(horizon, {})
        td = m.get("time_dependent_auc", {})
        rows.append([name, m["calibration"], _number(m["hazard_log_loss"], ".5f"), _number(h.get("brier"), ".4f"),
                     _number(h.get("roc_auc"), ".3f"), *(_number(td.get(k), ".3f") for k in ("3m", "6m", "12m")),
                     _number(m.get("integrated_brier_score"), ".4f")])
    return rows


def horizon_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Expected against realized churners and MRR lost per horizon, out of time."""
    rows = []
    for label, h in metrics["horizons"].items():
        if not h.get("rows"):
            rows.append([label, "not evaluable yet", "", "", "", ""])
            continue
        rows.append([label, h.get("as_of_dates", ""), f"{h['expected_churners']:,.0f}", f"{h['realized_churners']:,}",
                     f"${h['expected_mrr_lost']:,.0f}", f"${h['realized_mrr_lost']:,.0f}"])
    return rows


def render_model_card(churn: dict[str, Any], risk: dict[str, Any]) -> str:
    """Markdown model card from the two registry entries' metadata (the same fit).

    Args:
        churn: churn_model metadata (helpers.registry.get_model_metadata).
        risk: risk_model metadata.
    """
    split = churn["evaluation_split"]
    selected = churn["metrics"][churn["candidate"]]
    horizon = f"{churn['horizon_days']}d"
    risk_metrics = churn["risk_metrics"]
    return "\n\n".join([
        "# Model card: the time-to-churn model (churn_model and risk_model)",
        f"Versions: churn_model `{churn['version']}`, risk_model `{risk['version']}` (one fit, id "
        f"`{churn['fit_id']}`); trained {churn['trained_at']} on warehouse content `{churn['data_fingerprint'][:12]}`, "
        f"outcomes known through {churn['trained_through']}.",
        "## Intended use\n\n" + INTENDED_USE,
        "## What it is",
        f"A discrete-time survival model: for each paying customer, monthly hazards h(k), k = 1..12 months ahead, "
        f"from {len(churn['features'])} features known at the as-of date plus the month ahead and whether a renewal "
        f"falls in it; S(k) = prod (1 - h). Fitted on person-months of monthly as-of dates. churn_model serves "
        f"1 - S({churn['horizon_days']} days), risk_model S(1..12): the same curve, so the horizon probability and "
        f"the 3/6/12-month survival always agree. Registered candidate: **{churn['candidate']}** "
        f"({CANDIDATE_NAMES.get(churn['candidate'], churn['candidate'])}), calibration **{churn['calibration']}** "
        "(chosen two-fold on the calibration months, on held-out log loss).",
        "## How it was chosen (out of time)",
        f"Hazards fitted on person-months that ended before {split['calibration_start']} "
        f"({split['train_person_months']:,} rows, {split['train_churners']:,} churn events), calibrated on those in "
        f"[{split['calibration_start']}, {split['test_start']}), evaluated on {len(split['test_as_of'])} monthly as-of "
        f"dates from {split['test_start']} with outcomes to {churn['trained_through']}. No label window overlaps "
        "another side's. Ranked by the monthly-hazard log loss (the survival likelihood, a proper scoring rule).",
        _table(["candidate", "calibration", "hazard log loss", f"Brier {horizon}", f"ROC-AUC {horizon}",
                "td-AUC 3m", "td-AUC 6m", "td-AUC 12m", "integrated Brier"],
               candidate_rows(churn["metrics"], horizon)),
        "## Expected against realized, out of time (registered candidate)",
        _table(["horizon", "as-of dates", "expected churners", "realized churners", "expected MRR lost",
                "realized MRR lost"], horizon_rows(selected)),
        f"Survival check on the {risk_metrics['customers']:,} customers paying at {risk_metrics['evaluation_as_of']}: "
        f"concordance {risk_metrics['concordance']:.3f}, largest gap to Kaplan-Meier {risk_metrics['km_max_gap']:.3f}.",
        "## Guardrails",
        "\n".join(f"- **{g['check']}** ({g['status']}): {g['message']}" for g in churn["guardrails"]),
        f"The registered model was then refitted with the same recipe on every window closed by "
        f"{churn['trained_through']}; the figures above are those of the evaluation fit.",
        "## Limits",
        "- Features are those of the as-of date; the hazard k months ahead is learned from what followed such "
        "dates in the past, so a change of regime (prices, product) after training is not foreseen.\n"
        "- Trained on one warehouse's history (synthetic by default); retrain on your own data before use.\n"
        "- Drivers are occlusion contributions (score change when a feature takes its typical value), "
        "not causal effects.",
    ]) + "\n"
