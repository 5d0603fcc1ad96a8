"""Churn model pieces: hazard candidates on person-months, vocabulary encoders, calibration, contributions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers.analytics.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from helpers.domain import Industry, PlanTier
from helpers.models.churn_model import ChurnModel, reference_values
from helpers.models.hazard import (
    BaseRateHazard,
    BoostedHazard,
    HazardCalibration,
    LogisticHazard,
    RecencyHazard,
    early_stopping_holdout,
    make_preprocessor,
)
from helpers.models.person_period import HAZARD_FEATURES, expand
from helpers.models.time_to_churn import TimeToChurnCurve


def person_months(n: int = 3000, seed: int = 0, tiers=("starter", "growth")) -> pd.DataFrame:
    """Random person-month rows whose monthly churn rises with days since the last event."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.poisson(5, n).astype(float) for name in NUMERIC_FEATURES})
    frame["days_since_last_event"] = rng.exponential(20, n)
    frame["is_annual"] = 0.0
    frame["plan_tier"] = rng.choice(list(tiers), n)
    frame["industry"] = rng.choice(["FinTech", "Other"], n)
    frame["as_of"] = dt.date(2024, 1, 1)
    frame["customer_id"] = [f"C{i}" for i in range(n)]
    frame["months_ahead"] = rng.integers(1, 13, n).astype(float)
    frame["renewal_in_period"] = 1.0
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(3.5 - frame["days_since_last_event"] / 15))).astype(int)
    return frame


def test_encoders_take_their_categories_from_the_vocabularies():
    rows = person_months(tiers=("starter", "growth"))
    names = list(make_preprocessor(scale_numeric=False).fit(rows[list(HAZARD_FEATURES)]).get_feature_names_out())
    for tier in PlanTier.values():
        assert f"plan_tier_{tier}" in names
    for industry in Industry.values():
        assert f"industry_{industry}" in names
    model = LogisticHazard().fit(rows)
    unseen = rows.head(3).assign(plan_tier="custom", industry="PropTech")
    assert ((model.hazard(unseen) >= 0) & (model.hazard(unseen) <= 1)).all()
    with pytest.raises(ValueError):
        model.hazard(rows.head(1).assign(plan_tier="platinum"))
    assert set(CATEGORICAL_FEATURES) == {"plan_tier", "industry"}


def test_learned_candidates_rank_by_the_signal():
    train, test = person_months(seed=1), person_months(seed=2)
    for model in (BoostedHazard({"max_iter": 50, "min_samples_leaf": 20}).fit(train), LogisticHazard().fit(train)):
        assert np.corrcoef(model.hazard(test), test["days_since_last_event"])[0, 1] > 0.5


def stacked_person_months(customers: int, seed: int, snapshots: int = 10) -> pd.DataFrame:
    """Monthly snapshots of one simulated company, each expanded into up to 12 person-months.

    The monthly hazard is fixed per customer (rising with days since the last event), so a
    churn in calendar month m is a churned row of every snapshot whose 12 months cover m,
    as in the stacked training set. ``true_hazard`` is the answer.
    """
    rng = np.random.default_rng(seed)
    base = pd.DataFrame({name: rng.poisson(5, customers).astype(float) for name in NUMERIC_FEATURES})
    base["days_since_last_event"] = rng.exponential(20, customers)
    true_hazard = 1 / (1 + np.exp(3.0 - base["days_since_last_event"].to_numpy() / 20))
    churn_month = rng.geometric(true_hazard) - 1  # calendar month of the churn, from snapshot 0
    parts = []
    for snapshot in range(snapshots):
        for ahead in range(1, 13):
            month = snapshot + ahead - 1
            at_risk = (churn_month >= snapshot) & (churn_month >= month)
            parts.append(base[at_risk].assign(
                customer_id=np.flatnonzero(at_risk), as_of=dt.date(2024, 1 + snapshot, 1), months_ahead=float(ahead),
                churned=(churn_month[at_risk] == month).astype(int), true_hazard=true_hazard[at_risk]))
    return pd.concat(parts, ignore_index=True).assign(
        is_annual=0.0, renewal_in_period=0.0, plan_tier="starter", industry="Other")


def log_loss(labels: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def test_early_stopping_holds_out_whole_customers():
    rows = stacked_person_months(400, seed=3)
    held = early_stopping_holdout(rows, seed=0)
    assert pd.Series(held).groupby(rows["customer_id"]).nunique().max() == 1  # all of a customer's rows, or none
    assert held.any() and (~held).any()
    assert rows.loc[held, "customer_id"].nunique() == int(rows["customer_id"].nunique() * 0.1)
    assert (early_stopping_holdout(rows, seed=0) == held).all()
    assert early_stopping_holdout(rows.drop(columns="customer_id"), seed=0) is None
    assert early_stopping_holdout(rows[rows["customer_id"] < 50], seed=0) is None  # 5 customers: too few to hold out


def test_boosting_stops_where_new_customers_stop_improving():
    """Stacked snapshots repeat each churn: a split by row would let boosting learn them (300 of 300 iterations,
    12% above the true hazards' log loss on new customers, measured); held-out customers stop it early."""
    train, new = stacked_person_months(1500, seed=1), stacked_person_months(4000, seed=2, snapshots=1)
    model = BoostedHazard({"max_iter": 300}).fit(train)
    assert model.pipeline_.steps[-1][1].n_iter_ < 100
    labels = new["churned"].to_numpy()
    assert log_loss(labels, model.hazard(new)) < 1.03 * log_loss(labels, new["true_hazard"].to_numpy())


def test_given_rounds_fit_that_many_on_every_row():
    """The backtest's refits: as many rounds as asked, on all rows, as scikit-learn fits them without a holdout."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rows = stacked_person_months(300, seed=4)
    model = BoostedHazard({"boosting_rounds": 7, "min_samples_leaf": 20}).fit(rows)
    assert model.boosting_rounds == 7
    encoded = make_preprocessor(False).fit_transform(rows[list(HAZARD_FEATURES)])
    plain = HistGradientBoostingClassifier(max_iter=7, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
                                           early_stopping=False, random_state=0).fit(encoded, rows["churned"])
    np.testing.assert_allclose(model.hazard(rows), plain.predict_proba(encoded)[:, 1], rtol=0, atol=1e-12)
    stopped = BoostedHazard({"min_samples_leaf": 20}).fit(rows)
    assert stopped.boosting_rounds == stopped.pipeline_.steps[-1][1].n_iter_ < 300


def test_the_logistic_hazard_of_each_month_and_moved_feature_equals_its_full_prediction():
    """Its shortcuts (one encoding per snapshot row; a moved feature's share of the logit) against predict_proba."""
    train = person_months(seed=9, tiers=("starter", "growth", "enterprise"))
    renewing = np.random.default_rng(12).random(len(train)) < 0.3
    train["renewal_in_period"] = renewing.astype(float)  # a renewal month raises the hazard: a weight of its own
    train.loc[renewing & (np.random.default_rng(13).random(len(train)) < 0.2), "churned"] = 1
    model = LogisticHazard().fit(train)
    assert abs(model.pipeline_.steps[1][1].coef_[0][-13]) > 0.01  # renewal_in_period, before the 12 months
    snapshots = snapshot_rows(n=60, seed=10).assign(is_annual=np.tile([0.0, 1.0], 30),
                                                    months_to_renewal=np.linspace(0, 11.5, 60))
    months = np.random.default_rng(11).integers(0, 13, len(snapshots))
    rows = expand(snapshots, months)
    assert rows["renewal_in_period"].nunique() == 2  # both sides of the renewal shift are exercised
    full = model.pipeline_.predict_proba(rows[list(HAZARD_FEATURES)])[:, 1]
    assert model.hazards_over_months(snapshots, months) == pytest.approx(full, abs=1e-12)
    moves = {"plan_tier": "enterprise", "days_since_last_event": 2.0, "industry": "Other"}
    differs = np.column_stack([(rows[name] != value).to_numpy() for name, value in moves.items()])
    hazard, moved = model.moved_hazards(rows, moves, differs)
    assert hazard == pytest.approx(full, abs=1e-12)
    for position, (name, value) in enumerate(moves.items()):
        expected = model.pipeline_.predict_proba(rows.assign(**{name: value})[list(HAZARD_FEATURES)])[:, 1]
        assert moved[differs[:, position], position] == pytest.approx(expected[differs[:, position]], abs=1e-12)
        assert np.array_equal(moved[~differs[:, position], position], hazard[~differs[:, position]])


def test_baselines_are_the_life_table_and_the_recency_rule():
    train, test = person_months(seed=3), person_months(seed=4)
    life = BaseRateHazard().fit(train)
    for month in (1, 7, 12):
        rows = train["months_ahead"] == month
        assert life.hazard(test[test["months_ahead"] == month])[0] == pytest.approx(train.loc[rows, "churned"].mean())
    rule = RecencyHazard().fit(train)
    scores = rule.hazard(test)
    order = np.argsort(test["days_since_last_event"].to_numpy())
    assert scores[order[-100:]].mean() > scores[order[:100]].mean()


def test_calibration_maps_are_monotone_and_none_is_the_identity():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 0.3, 2000)
    labels = (rng.random(2000) < raw * 1.5).astype(int)
    grid = np.linspace(0.0, 0.3, 50)
    for method in ("sigmoid", "isotonic"):
        mapped = HazardCalibration(method).fit(raw, labels).apply(grid)
        assert (np.diff(mapped) >= -1e-12).all()
    assert np.array_equal(HazardCalibration("none").fit(raw, labels).apply(grid), grid)
    with pytest.raises(ValueError, match="calibration"):
        HazardCalibration("platt").fit(raw, labels)


def renewal_person_months(seed: int) -> pd.DataFrame:
    """``person_months`` where a month holding a renewal (a third of them) is riskier."""
    rows = person_months(seed=seed)
    rng = np.random.default_rng(seed + 100)
    renewing = rng.random(len(rows)) < 0.3
    rows["renewal_in_period"] = renewing.astype(float)
    rows.loc[renewing & (rng.random(len(rows)) < 0.2), "churned"] = 1
    return rows


def snapshot_rows(n: int = 50, seed: int = 5) -> pd.DataFrame:
    rows = person_months(n, seed)
    return rows.drop(columns=["months_ahead", "renewal_in_period", "churned"])


def test_the_churn_probability_is_one_minus_the_curve_and_explains_itself():
    train = person_months(seed=6)
    curve = TimeToChurnCurve(LogisticHazard().fit(train), HazardCalibration("none"), "logistic_regression")
    snapshots = snapshot_rows()
    model = ChurnModel(curve, 92, reference_values(snapshots))
    hazards = curve.hazard_model.hazard(expand(snapshots, 3)).reshape(len(snapshots), 3)
    assert np.allclose(model.predict_proba(snapshots), 1 - np.prod(1 - hazards, axis=1))
    contributions = model.contributions(snapshots)
    assert list(contributions.columns) == list(FEATURES)
    assert contributions.abs().mean().idxmax() == "days_since_last_event"
    at_reference = snapshots.head(1).assign(days_since_last_event=model.reference["days_since_last_event"])
    assert model.contributions(at_reference)["days_since_last_event"].iloc[0] == pytest.approx(0.0)


@pytest.mark.parametrize("candidate,calibration", [
    ("boosted_trees", "none"), ("boosted_trees", "isotonic"), ("boosted_trees", "sigmoid"),
    ("logistic_regression", "none"),
])
def test_contributions_equal_one_prediction_per_row_and_feature(candidate, calibration):
    """The definition: p(x) - p(x with f at its reference), every row predicted in full.

    Boosted trees take the path that re-evaluates only the trees splitting on each
    feature (helpers.models.tree_parts); the logistic hazard predicts the moved rows.
    """
    train = renewal_person_months(seed=7)
    hazard = BoostedHazard({"max_iter": 30}) if candidate == "boosted_trees" else LogisticHazard()
    hazard.fit(train)
    mapping = HazardCalibration(calibration).fit(hazard.hazard(train), train["churned"].to_numpy())
    curve = TimeToChurnCurve(hazard, mapping, candidate)
    # Annual and monthly plans at every distance from their renewal: moving is_annual or
    # months_to_renewal moves the renewal month, which the hazard depends on.
    snapshots = snapshot_rows(n=40, seed=8).assign(is_annual=np.tile([0.0, 1.0], 20),
                                                   months_to_renewal=np.linspace(0.0, 11.5, 40))
    model = ChurnModel(curve, 90, reference_values(snapshots))
    got = model.contributions(snapshots)
    base = model.predict_proba(snapshots)
    for name in FEATURES:
        # Every snapshot row moved and predicted in full (its months expanded again), at the reference or not.
        expected = base - model.predict_proba(snapshots.assign(**{name: model.reference[name]}))
        assert got[name].to_numpy() == pytest.approx(expected, abs=1e-12), name
    assert got[["is_annual", "months_to_renewal"]].abs().to_numpy().max() > 1e-4  # the renewal month matters here
    assert (got == 0).to_numpy().mean() > 0.05  # some rows sit at the reference: skipped, exactly 0
