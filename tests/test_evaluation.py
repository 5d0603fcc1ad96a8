"""Evaluation metrics against hand computations and lifelines."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.utils import concordance_index as lifelines_concordance

from helpers.models.evaluation import classification_metrics, concordance_index, reliability_table


def pairwise_auc(labels, scores) -> float:
    """ROC-AUC as the share of (churner, stayer) pairs ordered right, ties one half."""
    positives = [s for y, s in zip(labels, scores) if y == 1]
    negatives = [s for y, s in zip(labels, scores) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def test_classification_metrics_by_hand():
    labels = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    scores = [0.9, 0.8, 0.7, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1, 0.05]
    mrr = [100, 50, 200, 10, 10, 10, 10, 10, 10, 700]
    metrics = classification_metrics(labels, scores, mrr)
    assert metrics["base_rate"] == pytest.approx(0.3)
    assert metrics["roc_auc"] == pytest.approx(pairwise_auc(labels, scores))
    # Top decile = 1 row (score 0.9, churned): lift = 1 / 0.3.
    assert metrics["top_decile_lift"] == pytest.approx(1 / 0.3)
    # Churned MRR = 100 + 200 + 700; the top decile holds 100 of it.
    assert metrics["top_decile_churned_mrr_share"] == pytest.approx(0.1)
    assert metrics["brier"] == pytest.approx(np.mean((np.array(scores) - np.array(labels)) ** 2))


def test_reliability_table_by_hand():
    table = reliability_table([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.8], bins=2)
    assert table["rows"].tolist() == [2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.15, 0.7])
    assert table["observed_rate"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concordance_matches_lifelines(seed):
    rng = np.random.default_rng(seed)
    n = 400
    durations = rng.integers(1, 24, n).astype(float)  # many ties in time
    events = rng.random(n) < 0.6
    risk = np.round(-durations + rng.normal(0, 6, n))  # ties in risk too
    ours = concordance_index(durations, events, risk, block=64)
    # lifelines takes predicted survival times: higher means later, so -risk.
    assert ours == pytest.approx(lifelines_concordance(durations, -risk, events), abs=1e-12)


def test_concordance_of_a_perfect_and_a_reversed_score():
    durations = np.array([1.0, 2.0, 3.0, 4.0])
    events = np.array([1, 1, 1, 0])
    assert concordance_index(durations, events, -durations) == 1.0
    assert concordance_index(durations, events, durations) == 0.0
