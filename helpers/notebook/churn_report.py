"""Tables of the churn report (04): risk tiers, segments, top accounts, MRR at risk, models, guardrails, drift."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers import checks
from helpers.models import scoring
from helpers.notebook.formatting import (
    MISSING,
    format_number,
    format_table,
)


def tier_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Customers, MRR and MRR at risk per risk tier (all tiers, lowest first).

    Args:
        scores: ``scoring.score_customers``.

    Returns:
        ``risk_tier, customers, customer_share, mrr, mrr_share, mean_probability,
        mrr_at_risk`` (MRR x churn probability within the churn model's horizon),
        ``expected_mrr_at_risk_12m``.
    """
    frame = scores.assign(mrr=scores["mrr"].astype(float))
    frame["mrr_at_risk"] = frame["mrr"] * frame["churn_probability"]
    grouped = frame.groupby("risk_tier", observed=False).agg(
        customers=("customer_id", "size"),
        mrr=("mrr", "sum"),
        mean_probability=("churn_probability", "mean"),
        mrr_at_risk=("mrr_at_risk", "sum"),
        expected_mrr_at_risk_12m=("expected_mrr_at_risk_12m", "sum"),
    )
    grouped["customer_share"] = grouped["customers"] / max(grouped["customers"].sum(), 1)
    grouped["mrr_share"] = grouped["mrr"] / grouped["mrr"].sum() if grouped["mrr"].sum() else np.nan
    grouped = grouped.reset_index()
    grouped["risk_tier"] = grouped["risk_tier"].astype(str)
    return grouped[["risk_tier", "customers", "customer_share", "mrr", "mrr_share", "mean_probability",
                    "mrr_at_risk", "expected_mrr_at_risk_12m"]]


def segment_summary(scores: pd.DataFrame, by: str, order: Iterable[str] | None = None) -> pd.DataFrame:
    """Customers, MRR, churn probability and MRR at risk per value of ``by`` (``plan_tier`` or ``industry``).

    Returns:
        ``<by>, customers, mrr, mean_probability, high_risk_customers`` (tier high
        or critical), ``mrr_at_risk``, ``mrr_at_risk_share`` (of the segment's MRR),
        ``expected_mrr_at_risk_12m``; riskiest MRR first unless ``order`` is given.
    """
    frame = scores.assign(mrr=scores["mrr"].astype(float))
    frame["mrr_at_risk"] = frame["mrr"] * frame["churn_probability"]
    frame["high_risk"] = frame["risk_tier"].astype(str).isin(["high", "critical"])
    table = frame.groupby(by).agg(
        customers=("customer_id", "size"),
        mrr=("mrr", "sum"),
        mean_probability=("churn_probability", "mean"),
        high_risk_customers=("high_risk", "sum"),
        mrr_at_risk=("mrr_at_risk", "sum"),
        expected_mrr_at_risk_12m=("expected_mrr_at_risk_12m", "sum"),
    )
    table["mrr_at_risk_share"] = (table["mrr_at_risk"] / table["mrr"]).where(table["mrr"] > 0)
    if order is not None:
        table = table.reindex([value for value in order if value in table.index])
    else:
        table = table.sort_values("mrr_at_risk", ascending=False)
    table = table.reset_index()
    table["high_risk_customers"] = table["high_risk_customers"].astype(int)
    return table[[by, "customers", "mrr", "mean_probability", "high_risk_customers", "mrr_at_risk",
                  "mrr_at_risk_share", "expected_mrr_at_risk_12m"]]


RANKINGS = ("mrr_at_risk", "probability")


def top_accounts(scores: pd.DataFrame, n: int = 20, rank_by: str = "mrr_at_risk",
                 snapshot: pd.DataFrame | None = None, churn_model: Any = None) -> pd.DataFrame:
    """The ``n`` accounts most at risk, with MRR, probability, MRR at risk and their drivers.

    Args:
        scores: ``scoring.score_customers`` (or ``score_snapshot``).
        n: how many accounts.
        rank_by: ``"mrr_at_risk"`` (MRR x probability: where the money is) or
            ``"probability"`` (likeliest to churn).
        snapshot, churn_model: when given, the drivers of the ``n`` accounts are computed
            here (``scoring.explain``), not for every customer scored.

    Returns:
        ``customer_id, plan_tier, industry, mrr, churn_probability, risk_tier,
        mrr_at_risk, expected_mrr_at_risk_12m, drivers`` (text).
    """
    checks.int_in_range(n, "top_n")
    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by must be one of {', '.join(map(repr, RANKINGS))}; got {rank_by!r}")
    frame = scores.assign(mrr=scores["mrr"].astype(float))
    frame["mrr_at_risk"] = frame["mrr"] * frame["churn_probability"]
    key = ["mrr_at_risk", "churn_probability"] if rank_by == "mrr_at_risk" else ["churn_probability", "mrr"]
    frame = frame.sort_values([*key, "customer_id"], ascending=[False, False, True]).head(n)
    if snapshot is not None and churn_model is not None:
        frame = scoring.explain(frame, snapshot, churn_model)
    frame["drivers"] = frame["top_drivers"].map(format_drivers)
    frame["risk_tier"] = frame["risk_tier"].astype(str)
    columns = ["customer_id", "plan_tier", "industry", "mrr", "churn_probability", "risk_tier",
               "mrr_at_risk", "expected_mrr_at_risk_12m", "drivers"]
    return frame[columns].reset_index(drop=True)


def format_drivers(drivers: Any) -> str:
    """``["adoption_30d (+0.758)", ...]`` -> ``"adoption_30d +0.76; ..."`` (score points, in probability)."""
    if drivers is None or (isinstance(drivers, float) and math.isnan(drivers)) or len(drivers) == 0:
        return "(no feature raises the score)"
    parts = []
    for driver in drivers:
        text = str(driver)
        name, _, value = text.partition(" (")
        try:
            points = float(value.rstrip(")"))
        except ValueError:
            parts.append(text)
            continue
        if abs(points) >= 0.005:  # drivers that round to +0.00 explain nothing
            parts.append(f"{name} {points:+.2f}")
    return "; ".join(parts) or "(no feature raises the score by 0.01 or more)"


def mrr_at_risk_by_horizon(scores: pd.DataFrame, months: Iterable[int] = (3, 6, 12)) -> pd.DataFrame:
    """Expected MRR lost within 3, 6 and 12 months (risk model), per risk tier.

    Returns:
        Long frame: ``horizon_months, risk_tier, expected_mrr_at_risk``.
    """
    rows = []
    tiers = scores["risk_tier"].cat.categories if hasattr(scores["risk_tier"], "cat") else sorted(scores["risk_tier"].unique())
    for horizon in months:
        column = f"expected_mrr_at_risk_{horizon}m"
        sums = scores.groupby(scores["risk_tier"].astype(str))[column].sum()
        for tier in tiers:
            rows.append({"horizon_months": horizon, "risk_tier": str(tier), "expected_mrr_at_risk": float(sums.get(str(tier), 0.0))})
    return pd.DataFrame(rows)


def mrr_at_risk_table(scores: pd.DataFrame, months: Iterable[int] = (3, 6, 12)) -> pd.DataFrame:
    """Expected MRR lost and expected churners within each horizon, with the share of current MRR.

    Returns:
        ``horizon, expected_churners, expected_mrr_at_risk, share_of_mrr`` (numbers, not text).
    """
    total = float(scores["mrr"].astype(float).sum())
    rows = []
    for horizon in months:
        survival = scores[f"survival_{horizon}m"]
        at_risk = float(scores[f"expected_mrr_at_risk_{horizon}m"].sum())
        rows.append({
            "horizon": f"{horizon} months",
            "expected_churners": float((1.0 - survival).sum()),
            "expected_mrr_at_risk": at_risk,
            "share_of_mrr": at_risk / total if total else np.nan,
        })
    return pd.DataFrame(rows)


def describe_models(churn: Mapping[str, Any], risk: Mapping[str, Any]) -> pd.DataFrame:
    """The registered models' metadata side by side: version, fit, as-of range, out-of-time figures."""
    selected = churn.get("metrics", {}).get(churn.get("candidate", ""), {})
    horizon = selected.get("horizons", {}).get(f"{churn.get('horizon_days')}d", {})
    risk_metrics = risk.get("risk_metrics", {})

    def as_of_range(meta: Mapping[str, Any]) -> str:
        bounds = meta.get("as_of_range") or []
        return f"{bounds[0]} to {bounds[1]}" if len(bounds) == 2 else MISSING

    def both(key: str) -> tuple[str, str]:
        return str(churn.get(key, MISSING)), str(risk.get(key, MISSING))

    rows = {
        "version": (churn.get("version", "unknown"), risk.get("version", "unknown")),
        "fit id (same fit: same id)": both("fit_id"),
        "serves": both("serves"),
        "candidate": both("candidate"),
        "calibration": both("calibration"),
        "trained at (UTC)": both("trained_at"),
        "training as-of range": (as_of_range(churn), as_of_range(risk)),
        "outcomes known through": both("trained_through"),
        "horizon": (f"{churn['horizon_days']} days" if "horizon_days" in churn else MISSING,
                    f"{risk['horizon_months']} months" if "horizon_months" in risk else MISSING),
        "data fingerprint": (str(churn.get("data_fingerprint", ""))[:12] or MISSING,
                             str(risk.get("data_fingerprint", ""))[:12] or MISSING),
        "out-of-time ROC-AUC (horizon)": (format_number(horizon.get("roc_auc"), 3), MISSING),
        "out-of-time Brier (horizon)": (format_number(horizon.get("brier"), 4), MISSING),
        "integrated Brier score": (MISSING, format_number(selected.get("integrated_brier_score"), 4)),
        "concordance (first evaluation date)": (MISSING, format_number(risk_metrics.get("concordance"), 3)),
        "largest gap to Kaplan-Meier": (MISSING, format_number(risk_metrics.get("km_max_gap"), 3)),
    }
    table = pd.DataFrame(rows, index=["churn_model", "risk_model"]).T
    table.index.name = "metadata"
    return table


def forecast_check(churn: Mapping[str, Any]) -> pd.DataFrame:
    """Expected against realized churners and MRR lost per horizon, on evaluation dates never trained on.

    Returns:
        One row per horizon: ``horizon, as_of_dates, expected_churners, realized_churners,
        churners_error, expected_mrr_lost, realized_mrr_lost, mrr_error`` (empty without metadata).
    """
    selected = churn.get("metrics", {}).get(churn.get("candidate", ""), {})
    rows = []
    for label, h in selected.get("horizons", {}).items():
        if not h.get("rows"):
            continue
        rows.append({
            "horizon": label, "as_of_dates": h.get("as_of_dates"),
            "expected_churners": h["expected_churners"], "realized_churners": h["realized_churners"],
            "churners_error": h["expected_churners"] / h["realized_churners"] - 1 if h["realized_churners"] else np.nan,
            "expected_mrr_lost": h["expected_mrr_lost"], "realized_mrr_lost": h["realized_mrr_lost"],
            "mrr_error": h["expected_mrr_lost"] / h["realized_mrr_lost"] - 1 if h["realized_mrr_lost"] else np.nan,
        })
    return pd.DataFrame(rows, columns=["horizon", "as_of_dates", "expected_churners", "realized_churners",
                                       "churners_error", "expected_mrr_lost", "realized_mrr_lost", "mrr_error"])


def guardrail_notes(churn: Mapping[str, Any]) -> str:
    """The training guardrails as a markdown list (warnings first), or a note that none were recorded."""
    checks = churn.get("guardrails") or []
    if not checks:
        return "These models record no guardrails (trained before they existed): retrain them (`dvc repro train`)."
    ordered = sorted(checks, key=lambda check: check["status"] == "ok")
    return "\n".join(f"- **{check['check']}** ({check['status']}): {check['message']}" for check in ordered)


def in_sample_warning(as_of: Any, churn: Mapping[str, Any]) -> str:
    """A header warning when the report's as-of date lies before the models' known outcomes end ('' otherwise)."""
    through = churn.get("trained_through")
    if not through or str(as_of) > str(through):
        return ""
    return (f"**In-sample scores:** the models learned from outcomes up to {through}, after this report's as-of "
            f"date {as_of}; these scores are not a forecast made with only data before that day. For honest "
            "figures at past dates see the rolling backtest (report 05).")


def drift_table(psi: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """PSI per feature (worst first; the ``top`` worst plus every flagged one when given), formatted."""
    frame = psi.sort_values("psi", ascending=False)
    if top is not None:
        frame = frame[(np.arange(len(frame)) < top) | frame["flagged"].to_numpy()]
    frame["flag"] = np.where(frame["flagged"], "shifted (PSI > 0.2)", "")
    return format_table(frame[["feature", "psi", "flag"]], numbers={"psi": 3}, index="feature", rename={"psi": "PSI"})
