"""Score every active customer: churn probability, risk tier, survival, MRR at risk, drivers.

One snapshot query (or a snapshot the caller already read) and one prediction
pass: the 12-month survival curve, from which the horizon probability is read
(the churn and risk models hold the same fitted curve; their ``fit_id`` must
match), so it equals 1 - S(horizon) and a 12-month loss is never below the
horizon's. Drivers add one prediction per feature of the rows away from the
reference (for boosted trees, of the trees that split on that feature only:
helpers.models.tree_parts). No per-customer loops.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from helpers import registry
from helpers.analytics.features import snapshot
from helpers.warehouse.engine import Connection

# Lower bounds of the churn probability (within the churn model's horizon) of each tier.
DEFAULT_RISK_TIERS: dict[str, float] = {"low": 0.0, "medium": 0.10, "high": 0.25, "critical": 0.50}
SURVIVAL_MONTHS = (3, 6, 12)


def risk_tier(probabilities: np.ndarray, tiers: dict[str, float] | None = None) -> pd.Categorical:
    """The tier of each probability: the highest tier whose lower bound it reaches."""
    bounds = dict(sorted((tiers or DEFAULT_RISK_TIERS).items(), key=lambda item: item[1]))
    names, edges = list(bounds), np.array(list(bounds.values()))
    if edges[0] > 0:
        raise ValueError(f"the lowest risk tier must start at 0, got {bounds}")
    index = np.searchsorted(edges, probabilities, side="right") - 1
    return pd.Categorical.from_codes(index, categories=names, ordered=True)


def _top_drivers(contributions: pd.DataFrame, count: int) -> list[list[str]]:
    """The ``count`` features pushing each score up the most, as 'feature (+0.031)'."""
    values = contributions.to_numpy()
    names = np.array(contributions.columns)
    order = np.argsort(-values, axis=1)[:, :count]
    return [
        [f"{names[j]} ({values[i, j]:+.3f})" for j in row if values[i, j] > 0]
        for i, row in enumerate(order)
    ]


def _check_same_fit(churn_model: Any, risk_model: Any) -> None:
    if getattr(churn_model, "fit_id", "") != getattr(risk_model, "fit_id", ""):
        # Two fits would give a horizon probability and a curve that need not agree.
        raise ValueError(
            "churn_model and risk_model come from different training runs (fit_id "
            f"{getattr(churn_model, 'fit_id', '')!r} vs {getattr(risk_model, 'fit_id', '')!r}); retrain both with "
            "`python -m helpers train`"
        )


def score_customers(
    con: Connection,
    as_of: dt.date,
    churn_model: Any | None = None,
    risk_model: Any | None = None,
    tiers: dict[str, float] | None = None,
    drivers: int = 3,
) -> pd.DataFrame:
    """Score every customer paying on the day before ``as_of`` (one snapshot query, then ``score_snapshot``).

    Args:
        con: a warehouse connection.
        as_of: scoring date; only data before it is used.
        churn_model, risk_model: fitted models; loaded from the registry when None.
        tiers: risk tier lower bounds on the churn probability.
        drivers: how many top drivers to list per customer.

    Returns:
        See ``score_snapshot``.
    """
    churn_model = churn_model or registry.load_model("churn_model")
    risk_model = risk_model or registry.load_model("risk_model")
    _check_same_fit(churn_model, risk_model)
    frame = snapshot(con, as_of, churn_model.horizon_days)
    return score_snapshot(frame, churn_model, risk_model, tiers, drivers)


def score_snapshot(
    frame: pd.DataFrame,
    churn_model: Any,
    risk_model: Any,
    tiers: dict[str, float] | None = None,
    drivers: int = 3,
) -> pd.DataFrame:
    """Score the customers of a snapshot already read (a report reuses it for drift: no query twice).

    Args:
        frame: ``features.snapshot`` output at the scoring date.
        churn_model, risk_model: fitted models of the same training run.
        tiers: risk tier lower bounds on the churn probability.
        drivers: how many top drivers to list per customer; 0 leaves ``top_drivers`` None
            (the drivers cost more than the scores: a report explains only the
            accounts it lists, with ``explain``).

    Returns:
        One row per customer, riskiest first: ids, plan, industry, ``mrr``,
        ``churn_probability``, ``risk_tier``, ``survival_3m/6m/12m``,
        ``expected_mrr_at_risk_3m/6m/12m`` and ``top_drivers``.
    """
    _check_same_fit(churn_model, risk_model)
    result = frame[["customer_id", "as_of", "plan_tier", "industry"]].copy()
    result["mrr"] = frame["mrr_current"]
    if frame.empty:
        for column in ("churn_probability", *[f"survival_{m}m" for m in SURVIVAL_MONTHS],
                       *[f"expected_mrr_at_risk_{m}m" for m in SURVIVAL_MONTHS]):
            result[column] = pd.Series(dtype=float)
        result["risk_tier"] = pd.Series(dtype=object)
        result["top_drivers"] = pd.Series(dtype=object)
        return result
    # One pass of predictions: the horizon probability is read off the same fit's curve.
    curves = risk_model.survival_curves(frame, max(SURVIVAL_MONTHS))
    probability = churn_model.probability_from_curves(curves)
    result["churn_probability"] = probability
    result["risk_tier"] = risk_tier(probability, tiers)
    for months in SURVIVAL_MONTHS:
        result[f"survival_{months}m"] = curves[:, months - 1]
    for months in SURVIVAL_MONTHS:
        result[f"expected_mrr_at_risk_{months}m"] = result["mrr"] * (1.0 - curves[:, months - 1])
    result["top_drivers"] = _top_drivers(churn_model.contributions(frame), drivers) if drivers else None
    return result.sort_values(["churn_probability", "mrr"], ascending=[False, False]).reset_index(drop=True)


def explain(scores: pd.DataFrame, frame: pd.DataFrame, churn_model: Any, drivers: int = 3) -> pd.DataFrame:
    """``scores`` rows (any subset of ``score_snapshot``'s) with ``top_drivers`` computed from their snapshot rows.

    Args:
        scores: rows of the scores table, e.g. the accounts a report lists.
        frame: the snapshot the scores were computed from.
        churn_model: the model that scored them.
        drivers: how many top drivers to list per customer.
    """
    rows = frame.set_index("customer_id").loc[scores["customer_id"]].reset_index()
    return scores.assign(top_drivers=_top_drivers(churn_model.contributions(rows), drivers) if len(rows) else [])
