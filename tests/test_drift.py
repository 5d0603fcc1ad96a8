"""Population stability index against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers.models.drift import PSI_FLAG, SMOOTHING, feature_profile, population_stability
from helpers.analytics.features import NUMERIC_FEATURES


def frame(n: int, seed: int, shift: float = 0.0, tier: str = "starter") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(10 + shift, 2, n) for name in NUMERIC_FEATURES}
    data["plan_tier"] = [tier if i % 2 else "growth" for i in range(n)]
    data["industry"] = "Other"
    return pd.DataFrame(data)


def test_psi_matches_the_formula_on_a_categorical_shift():
    profile = feature_profile(frame(1000, 0))
    scored = frame(1000, 1, tier="enterprise")  # half the rows move from starter to enterprise
    result = population_stability(profile, scored).set_index("feature")
    # Expected shares: starter 0.5, growth 0.5; actual: enterprise 0.5, growth 0.5.
    tiers = ["free", "starter", "growth", "enterprise", "custom"]
    expected = dict(zip(tiers, [0, 0.5, 0.5, 0, 0]))
    actual = dict(zip(tiers, [0, 0, 0.5, 0.5, 0]))
    by_hand = sum(
        (actual[t] + SMOOTHING - expected[t] - SMOOTHING) * math.log((actual[t] + SMOOTHING) / (expected[t] + SMOOTHING))
        for t in tiers
    )
    assert result.loc["plan_tier", "psi"] == pytest.approx(by_hand)
    assert result.loc["plan_tier", "flagged"]


def test_same_distribution_is_stable_and_a_shift_is_flagged():
    profile = feature_profile(frame(5000, 0))
    same = population_stability(profile, frame(5000, 1)).set_index("feature")
    assert (same.loc[list(NUMERIC_FEATURES), "psi"] < 0.05).all()
    shifted = population_stability(profile, frame(5000, 2, shift=2.0)).set_index("feature")
    assert (shifted.loc[list(NUMERIC_FEATURES), "psi"] > PSI_FLAG).all()
