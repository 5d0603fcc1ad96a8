"""Training guardrails in plain words: data sources, history, churners, model selection, calibration.

Each check returns ``{"check", "status", "message"}`` (status ``ok``,
``warning`` or ``overridden``), printed by ``train``, recorded in the model
metadata and shown on the churn report. A check that makes the numbers
untrustworthy raises ValueError with what was found, the minimum and what to
do instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers.models.hazard import BASELINES

CALIBRATION_TOLERANCE = 0.25


def _check(name: str, status: str, message: str) -> dict[str, str]:
    return {"check": name, "status": status, "message": message}


def source_checks(snapshots: pd.DataFrame) -> list[dict[str, str]]:
    """Warn when usage events or support tickets are absent: their features are all zero."""
    checks = []
    for source, column in (("usage events", "events_90d"), ("support tickets", "tickets_90d")):
        empty = snapshots.empty or not (snapshots[column] > 0).any()
        checks.append(_check(
            f"{source}", "warning" if empty else "ok",
            f"no {source} in this data: their features are zero for everyone, so the models learn from the "
            "other sources only" if empty else f"{source} present",
        ))
    return checks


def history_check(split: Any) -> dict[str, str]:
    """How the split used the history (the split itself refuses too little)."""
    months = len(split.test_dates)
    status = "ok" if months >= 13 else "warning"
    note = "" if months >= 13 else " (shortened: 13 months of evaluation, to check 12-month forecasts, need more history)"
    return _check("history", status, f"trained on as-of dates {split.first_as_of} to {split.calibration_start}, "
                  f"calibrated to {split.test_start}, evaluated on {months} monthly as-of dates from "
                  f"{split.test_start}{note}")


def churner_check(snapshots: pd.DataFrame, train: pd.DataFrame, minimum: int) -> dict[str, str]:
    """Refuse data with no churn at all, or fewer training churners than ``minimum``."""
    if snapshots.empty or snapshots["days_to_churn"].isna().all():
        raise ValueError(
            "no churn in this data: no customer paying on any as-of date ever stopped paying, so there is "
            "nothing to learn a churn model from; check that subscriptions carry their end_date"
        )
    churners = int(train["churned"].sum())
    if churners < minimum:
        raise ValueError(
            f"too few churners: the training window holds {churners} churn events (customer-months that "
            f"ended in a stop), fewer than the minimum of {minimum} (churn_model.min_churners); add history "
            "or customers, or lower the minimum knowing the estimates will be noisy"
        )
    return _check("churners", "ok", f"{churners} churn events in the training window (minimum {minimum})")


def select(metrics: dict[str, Any], settings: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The candidate to register and the selection check.

    The winner is the lowest monthly-hazard log loss on the evaluation dates
    (``churn_model.candidate: auto``), or the forced candidate. A baseline
    winning, or a forced model losing to a baseline, is refused unless
    ``churn_model.allow_baseline`` is true.

    Raises:
        ValueError: a learned model loses to a baseline without the override.
    """
    loss = {name: values["hazard_log_loss"] for name, values in metrics.items()}
    forced = settings.get("candidate", "auto")
    if forced not in (None, "auto") and forced not in loss:
        raise ValueError(f"churn_model.candidate {forced!r} is not among the candidates {sorted(loss)}")
    winner = min(loss, key=loss.get)
    selected = winner if forced in (None, "auto") else forced
    others = sorted((name for name in loss if name != selected), key=loss.get)
    summary = ", ".join(f"{name} {loss[name]:.5f}" for name in sorted(loss, key=loss.get))
    baselines = [name for name in loss if name in BASELINES and name != selected]
    best_baseline = min(baselines, key=loss.get) if baselines else None
    loses = selected in BASELINES or (best_baseline is not None and loss[selected] > loss[best_baseline])
    if loses and not settings.get("allow_baseline", False):
        raise ValueError(
            f"{selected} would be registered, but it is a baseline or loses to one out of time (monthly-hazard "
            f"log loss: {summary}): no learned model beats the simple rule on this data. Inspect the data, or set "
            "churn_model.allow_baseline: true to register it anyway (recorded in the metadata)"
        )
    runner = others[0] if others else None
    margin = (f"; beats {runner} by {100 * (loss[runner] - loss[selected]) / loss[runner]:.1f}% log loss"
              if runner else "")
    how = "winner" if forced in (None, "auto") else "forced by churn_model.candidate"
    status = "overridden" if loses else "ok"
    override = " It loses to a baseline: registered only because churn_model.allow_baseline is true." if loses else ""
    return selected, _check("model selection", status,
                            f"{selected} registered ({how}){margin} (monthly-hazard log loss on the evaluation "
                            f"dates: {summary}).{override}")


def calibration_check(metrics: dict[str, Any], tolerance: float = CALIBRATION_TOLERANCE) -> dict[str, str]:
    """Warn when expected churners are off realized by more than ``tolerance`` at any evaluated horizon."""
    off, measured = [], []
    for label, values in metrics["horizons"].items():
        ratio = values.get("churners_ratio", np.nan)
        if values.get("rows", 0) == 0 or not np.isfinite(ratio):
            continue
        measured.append(f"{label} {values['expected_churners']:.0f} expected vs {values['realized_churners']} realized")
        if abs(ratio - 1) > tolerance:
            off.append(label)
    if not measured:
        return _check("calibration", "warning", "no horizon could be checked: no evaluation window has closed")
    text = "; ".join(measured)
    if off:
        return _check("calibration", "warning", f"calibration off by more than {tolerance:.0%} at "
                      f"{', '.join(off)} out of time: {text}; treat those totals with care")
    return _check("calibration", "ok", f"within {tolerance:.0%} at every evaluated horizon out of time: {text}")
