"""Churn model pieces: time split, vocabulary encoders, baselines, contributions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers.models.churn_model import (
    BaseRateBaseline,
    LogisticBaseline,
    RecencyRuleBaseline,
    TimeSplit,
    fit_churn_model,
    make_preprocessor,
)
from helpers.domain import Industry, PlanTier
from helpers.analytics.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from helpers.models.training import churn_time_split

SETTINGS = {"horizon_days": 90, "train_start": "auto", "train_end": "auto", "test_start": "auto", "test_end": "auto"}


def fake_snapshots(n_per_date: int = 150, dates=None, seed: int = 0, tiers=("starter", "growth")) -> pd.DataFrame:
    """Random feature rows whose churn depends on days since the last event."""
    rng = np.random.default_rng(seed)
    dates = dates or [dt.date(2023, m, 1) for m in range(1, 9)]
    frames = []
    for as_of in dates:
        frame = pd.DataFrame({name: rng.poisson(5, n_per_date).astype(float) for name in NUMERIC_FEATURES})
        frame["days_since_last_event"] = rng.exponential(20, n_per_date)
        frame["plan_tier"] = rng.choice(list(tiers), n_per_date)
        frame["industry"] = rng.choice(["FinTech", "Other"], n_per_date)
        frame["as_of"] = as_of
        frame["customer_id"] = [f"C{i}" for i in range(n_per_date)]
        frame["churned"] = (rng.random(n_per_date) < 1 / (1 + np.exp(3 - frame["days_since_last_event"] / 15))).astype(int)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("data_start,data_end,horizon", [
    (dt.date(2022, 1, 1), dt.date(2025, 12, 31), 90),
    (dt.date(2022, 1, 1), dt.date(2025, 12, 31), 30),
    (dt.date(2021, 6, 15), dt.date(2024, 8, 20), 180),
])
def test_no_training_label_window_overlaps_an_evaluation_one(data_start, data_end, horizon):
    split = churn_time_split(SETTINGS | {"horizon_days": horizon}, data_start, data_end)
    first_test = min(split.test_dates)
    for as_of in split.train_dates:
        assert as_of + dt.timedelta(days=horizon) <= first_test
    # Every evaluation label window lies inside the data.
    assert max(split.test_dates) + dt.timedelta(days=horizon) <= data_end + dt.timedelta(days=1)
    assert len(split.test_dates) == 12
    assert min(split.train_dates) >= data_start


def test_overlapping_windows_are_refused():
    with pytest.raises(ValueError, match="label windows overlap"):
        TimeSplit((dt.date(2024, 1, 1), dt.date(2024, 6, 1)), (dt.date(2024, 7, 1),), 90)
    with pytest.raises(ValueError, match="label windows overlap"):
        churn_time_split(SETTINGS | {"train_end": "2025-06-01"}, dt.date(2022, 1, 1), dt.date(2025, 12, 31))


def test_encoders_take_their_categories_from_the_vocabularies():
    train = fake_snapshots(tiers=("starter", "growth"))
    preprocessor = make_preprocessor(scale_numeric=False).fit(train[list(FEATURES)])
    names = list(preprocessor.get_feature_names_out())
    for tier in PlanTier.values():
        assert f"plan_tier_{tier}" in names
    for industry in Industry.values():
        assert f"industry_{industry}" in names
    model = fit_churn_model(train, 90, {"max_iter": 20, "min_samples_leaf": 10})
    unseen = train.head(3).assign(plan_tier="custom", industry="PropTech")
    probabilities = model.predict_proba(unseen)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    with pytest.raises(ValueError):
        model.predict_proba(train.head(1).assign(plan_tier="platinum"))


def test_calibrated_model_ranks_by_the_signal_and_explains_itself():
    train = fake_snapshots(n_per_date=300)
    model = fit_churn_model(train, 90, {"max_iter": 50, "min_samples_leaf": 20})
    test = fake_snapshots(n_per_date=300, dates=[dt.date(2024, 1, 1)], seed=5)
    scores = model.predict_proba(test)
    assert np.corrcoef(scores, test["days_since_last_event"])[0, 1] > 0.5
    contributions = model.contributions(test.head(50))
    assert list(contributions.columns) == list(FEATURES)
    # The feature that drives churn is the largest contributor on average.
    assert contributions.abs().mean().idxmax() == "days_since_last_event"
    # A row already at the reference value of a feature gets no contribution from it.
    at_reference = test.head(1).assign(days_since_last_event=model.reference["days_since_last_event"])
    assert model.contributions(at_reference)["days_since_last_event"].iloc[0] == pytest.approx(0.0)


def test_baselines():
    train = fake_snapshots()
    test = fake_snapshots(dates=[dt.date(2024, 1, 1)], seed=9)
    assert np.allclose(BaseRateBaseline().fit(train).predict_proba(test), train["churned"].mean())
    rule = RecencyRuleBaseline().fit(train)
    scores = rule.predict_proba(test)
    order = np.argsort(test["days_since_last_event"].to_numpy())
    # Longer silence never predicts much less risk than a shorter one (bins are monotone here).
    assert scores[order[-20:]].mean() > scores[order[:20]].mean()
    logistic = LogisticBaseline().fit(train).predict_proba(test)
    assert ((logistic > 0) & (logistic < 1)).all()
    assert set(CATEGORICAL_FEATURES) == {"plan_tier", "industry"}
