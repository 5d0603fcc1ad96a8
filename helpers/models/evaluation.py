"""Evaluation of churn scores and survival predictions.

Classification: ROC-AUC, PR-AUC, Brier score, top-decile lift, share of
churned MRR captured by the top decile, and a reliability table. Survival:
Harrell's concordance index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

TOP_SHARE = 0.10


def _top_decile_mask(scores: np.ndarray, share: float = TOP_SHARE) -> np.ndarray:
    """The ``share`` of rows with the highest scores (ties broken by position, stable)."""
    n_top = max(1, int(round(len(scores) * share)))
    order = np.argsort(-scores, kind="stable")
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def classification_metrics(labels, scores, mrr=None) -> dict[str, float]:
    """Ranking and calibration metrics of churn probabilities.

    Args:
        labels: 0/1 churn outcomes.
        scores: predicted churn probabilities.
        mrr: MRR of each row at the snapshot, for the churned-MRR capture share.

    Returns:
        ``n``, ``base_rate``, ``roc_auc``, ``pr_auc``, ``brier``, ``top_decile_lift``,
        ``top_decile_churned_mrr_share`` (NaN when undefined).
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(scores, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.shape}) and scores ({p.shape}) differ in shape")
    base_rate = float(y.mean()) if len(y) else float("nan")
    both_classes = len(np.unique(y)) == 2
    top = _top_decile_mask(p)
    metrics = {
        "n": int(len(y)),
        "base_rate": base_rate,
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "top_decile_lift": float(y[top].mean() / base_rate) if base_rate > 0 else float("nan"),
    }
    if mrr is not None:
        money = np.asarray(mrr, dtype=float)
        churned_mrr = money[y == 1].sum()
        metrics["top_decile_churned_mrr_share"] = (
            float(money[top & (y == 1)].sum() / churned_mrr) if churned_mrr > 0 else float("nan")
        )
    return metrics


def reliability_table(labels, scores, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed churn rate, by quantile bin of the score.

    Returns:
        One row per bin: ``bin``, ``rows``, ``mean_predicted``, ``observed_rate``.
    """
    frame = pd.DataFrame({"label": np.asarray(labels, dtype=int), "score": np.asarray(scores, dtype=float)})
    ranks = frame["score"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, q=min(bins, len(frame)), labels=False) + 1
    table = frame.groupby("bin").agg(
        rows=("label", "size"), mean_predicted=("score", "mean"), observed_rate=("label", "mean")
    )
    return table.reset_index()


def concordance_index(durations, events, risk_scores, block: int = 2048) -> float:
    """Harrell's C: among comparable pairs, the share where the higher risk failed first.

    A pair (i, j) is comparable when i had the event and j outlived it:
    ``durations[i] < durations[j]``, or equal durations with j censored (Harrell's
    convention, as in lifelines). Ties in risk count one half. Computed in
    blocks, so memory stays bounded.

    Args:
        durations: observed times (event or censoring).
        events: 1 when the event (churn) was observed, 0 when censored.
        risk_scores: higher means expected to churn sooner.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    r = np.asarray(risk_scores, dtype=float)
    concordant = 0.0
    comparable = 0.0
    event_index = np.flatnonzero(e)
    for start in range(0, len(event_index), block):
        rows = event_index[start:start + block]
        later = (t[None, :] > t[rows, None]) | ((t[None, :] == t[rows, None]) & ~e[None, :])
        higher = r[rows, None] > r[None, :]
        tied = r[rows, None] == r[None, :]
        comparable += later.sum()
        concordant += (later & higher).sum() + 0.5 * (later & tied).sum()
    if comparable == 0:
        return float("nan")
    return float(concordant / comparable)


def horizon_metrics(labels, probabilities, mrr) -> dict[str, float]:
    """Expected against realized churners and MRR lost, and the scores of one horizon's probabilities.

    Args:
        labels: 1 when the customer stopped paying within the horizon (every window closed).
        probabilities: predicted 1 - S(horizon).
        mrr: MRR of each row at its as-of date.

    Returns:
        ``rows``, ``expected_churners``, ``realized_churners``, ``expected_mrr_lost``,
        ``realized_mrr_lost``, ``churners_ratio`` (expected / realized), ``brier``,
        ``log_loss``, ``roc_auc`` (the cumulative/dynamic AUC at the horizon: no
        censoring before it), ``pr_auc``.
    """
    y = np.asarray(labels, dtype=int)
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-9, 1 - 1e-9)
    money = np.asarray(mrr, dtype=float)
    both = len(np.unique(y)) == 2
    realized = int(y.sum())
    expected = float(p.sum())
    return {
        "rows": int(len(y)),
        "expected_churners": expected,
        "realized_churners": realized,
        "expected_mrr_lost": float((p * money).sum()),
        "realized_mrr_lost": float(money[y == 1].sum()),
        "churners_ratio": expected / realized if realized else float("nan"),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else float("nan"),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else float("nan"),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
    }


def time_dependent_auc(durations, observed, risk_scores, time: float) -> float:
    """Cumulative/dynamic AUC at ``time`` (Heagerty et al. 2000) for data followed at least to ``time``.

    Cases stopped by ``time`` (duration <= time, observed); controls outlived it
    (duration > time). With every row followed to ``time`` no inverse-probability
    weights are needed (they are all one).

    Args:
        durations: time to churn, or to the end of follow-up.
        observed: 1 when the churn was observed.
        risk_scores: higher means likelier to have churned by ``time`` (e.g. 1 - S(time)).
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    r = np.asarray(risk_scores, dtype=float)
    if ((t <= time) & ~e).any():
        raise ValueError(f"time_dependent_auc needs every row followed to {time}: some are censored before it")
    cases = (t <= time) & e
    if cases.all() or not cases.any():
        return float("nan")
    return float(roc_auc_score(cases.astype(int), r))


def integrated_brier_score(durations, observed, curves, times) -> float:
    """Integrated Brier score of survival curves over ``times`` (trapezoid rule, divided by the span).

    Brier(t) = mean (1{T > t} - S(t))^2 over rows followed at least to the last
    time (so no censoring weights are needed); the integral is taken from the
    first to the last time, as scikit-survival's ``integrated_brier_score``.

    Args:
        durations, observed: time to churn or end of follow-up, and whether churn was observed.
        curves: predicted S at each of ``times``, shape (rows, len(times)).
        times: increasing evaluation times (at least two).
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    grid = np.asarray(times, dtype=float)
    if len(grid) < 2:
        raise ValueError("integrated_brier_score needs at least two times")
    if ((t <= grid[-1]) & ~e).any():
        raise ValueError(f"integrated_brier_score needs every row followed to {grid[-1]}")
    alive = (t[:, None] > grid[None, :]).astype(float)
    brier = ((alive - np.asarray(curves, dtype=float)) ** 2).mean(axis=0)
    return float(np.trapezoid(brier, grid) / (grid[-1] - grid[0]))
