"""Scoring every active customer on a small warehouse with the trained models."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers import registry, warehouse
from helpers.models.scoring import DEFAULT_RISK_TIERS, risk_tier, score_customers

AS_OF = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def scored(trained_small_models):
    models_dir = trained_small_models["models_dir"]
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        scores = score_customers(
            con, AS_OF, registry.load_model("churn_model", models_dir), registry.load_model("risk_model", models_dir)
        )
        subscriptions = con.execute("select customer_id, start_date, end_date, mrr from raw.subscriptions").df()
    return scores, subscriptions


def test_one_row_per_customer_paying_the_day_before(scored):
    scores, subscriptions = scored
    day = pd.Timestamp(AS_OF - dt.timedelta(days=1))
    start = pd.to_datetime(subscriptions["start_date"])
    end = pd.to_datetime(subscriptions["end_date"])
    active = subscriptions[(start <= day) & (end.isna() | (end > day))]
    paying = active.groupby("customer_id")["mrr"].sum()
    expected = sorted(paying[paying > 0].index)
    assert sorted(scores["customer_id"]) == expected
    assert scores["customer_id"].is_unique


def test_scores_are_probabilities_with_consistent_survival_and_money(scored):
    scores, _ = scored
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["survival_3m"] >= scores["survival_6m"]).all()
    assert (scores["survival_6m"] >= scores["survival_12m"]).all()
    assert scores["survival_12m"].between(0, 1).all()
    assert (scores["expected_mrr_at_risk_12m"] <= scores["mrr"] + 1e-9).all()
    assert np.allclose(scores["expected_mrr_at_risk_6m"], scores["mrr"] * (1 - scores["survival_6m"]))
    assert scores["churn_probability"].is_monotonic_decreasing


def test_the_probability_read_off_the_curve_is_the_churn_models_own(scored, trained_small_models):
    """Scoring takes the horizon probability from the risk model's curve: it must equal predict_proba."""
    from helpers.analytics.features import snapshot

    scores, _ = scored
    models_dir = trained_small_models["models_dir"]
    churn = registry.load_model("churn_model", models_dir)
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        frame = snapshot(con, AS_OF, churn.horizon_days)
    direct = pd.Series(churn.predict_proba(frame), index=frame["customer_id"])
    got = scores.set_index("customer_id")["churn_probability"]
    assert got.to_numpy() == pytest.approx(direct.loc[got.index].to_numpy(), abs=1e-12)


def test_drivers_are_present_for_risky_customers(scored):
    scores, _ = scored
    top = scores.head(20)
    assert all(len(drivers) >= 1 for drivers in top["top_drivers"])
    assert all("(+" in driver for drivers in top["top_drivers"] for driver in drivers)


def test_tiers_follow_the_thresholds(scored):
    scores, _ = scored
    for tier, probability in zip(scores["risk_tier"], scores["churn_probability"]):
        bounds = sorted(DEFAULT_RISK_TIERS.items(), key=lambda item: item[1])
        expected = [name for name, low in bounds if probability >= low][-1]
        assert tier == expected


def test_risk_tier_edges():
    tiers = risk_tier(np.array([0.0, 0.0999, 0.1, 0.25, 0.5, 1.0]))
    assert list(tiers) == ["low", "low", "medium", "high", "critical", "critical"]
    with pytest.raises(ValueError, match="start at 0"):
        risk_tier(np.array([0.2]), {"medium": 0.1, "high": 0.5})


def test_explaining_a_few_accounts_gives_the_drivers_scoring_everyone_gives(scored, trained_small_models):
    """A report computes drivers for the accounts it lists only: the same text as scoring every driver."""
    from helpers.analytics.features import snapshot
    from helpers.models.scoring import explain, score_snapshot

    scores, _ = scored
    models_dir = trained_small_models["models_dir"]
    churn, risk = registry.load_model("churn_model", models_dir), registry.load_model("risk_model", models_dir)
    with warehouse.get_connection(path=trained_small_models["warehouse"], read_only=True) as con:
        frame = snapshot(con, AS_OF, churn.horizon_days)
    quick = score_snapshot(frame, churn, risk, drivers=0)
    assert quick["top_drivers"].isna().all()
    pd.testing.assert_frame_equal(quick.drop(columns="top_drivers"), scores.drop(columns="top_drivers"))
    listed = quick.iloc[[0, 3, 7, 11]]
    explained = explain(listed, frame, churn)
    assert explained["top_drivers"].tolist() == scores.iloc[[0, 3, 7, 11]]["top_drivers"].tolist()
    assert explained.index.tolist() == listed.index.tolist()
