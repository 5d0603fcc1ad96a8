"""Pieces of the time-to-churn model against independent computations: person-months, curves, metrics, selection."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from helpers.analytics.features import FEATURES, NUMERIC_FEATURES
from helpers.models import guardrails
from helpers.models.evaluation import horizon_metrics, integrated_brier_score, time_dependent_auc
from helpers.models.person_period import attach_outcomes, person_period_rows
from helpers.models.selection import plan_split
from helpers.models.time_to_churn import months_covering, survival_at_days

MONTH = 365.25 / 12


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Snapshot rows (customer_id, as_of, days_to_churn, is_annual, months_to_renewal), other features zero."""
    data = pd.DataFrame({name: [0.0] * len(rows) for name in NUMERIC_FEATURES})
    data["plan_tier"], data["industry"] = "starter", "Other"
    data["customer_id"] = [row[0] for row in rows]
    data["as_of"] = [row[1] for row in rows]
    data["days_to_churn"] = [row[2] for row in rows]
    data["is_annual"] = [row[3] for row in rows]
    data["months_to_renewal"] = [row[4] for row in rows]
    data["mrr_current"] = 100.0
    return data


def test_person_months_match_a_plain_loop():
    snapshots = frame([
        ("A", dt.date(2024, 1, 1), 75.0, 0, 0.0),         # churns in month 3 (61 <= 75 < 92)
        ("B", dt.date(2024, 1, 1), float("nan"), 1, 4.5),  # never churns; renewal in month 5
        ("C", dt.date(2024, 6, 1), 0.0, 0, 0.0),           # churns on the as-of day: month 1
        ("D", dt.date(2024, 10, 1), 200.0, 0, 0.0),        # censored: only windows closed by 2025-01-01
    ])
    rows = person_period_rows(snapshots, dt.date(2025, 1, 1))
    expected = []
    for row in snapshots.itertuples():
        for k in range(1, 13):
            start, end = math.ceil((k - 1) * MONTH), math.ceil(k * MONTH)
            if row.as_of + dt.timedelta(days=end) > dt.date(2025, 1, 1):
                break
            if not math.isnan(row.days_to_churn) and row.days_to_churn < start:
                break
            churned = int(not math.isnan(row.days_to_churn) and row.days_to_churn < end)
            renewal = 1.0 if not row.is_annual else float(k - 1 <= row.months_to_renewal < k)
            expected.append((row.customer_id, k, churned, renewal))
    got = list(zip(rows["customer_id"], rows["months_ahead"].astype(int), rows["churned"], rows["renewal_in_period"]))
    assert got == expected
    assert set(FEATURES) <= set(rows.columns)
    # Calibration keeps the months whose window starts on or after a day, chosen before copying rows.
    since = dt.date(2024, 7, 1)
    kept = person_period_rows(snapshots, dt.date(2025, 1, 1), windows_from=since)
    by_loop = [(customer, k) for customer, k, _, _ in expected
               if snapshots.set_index("customer_id").loc[customer, "as_of"]
               + dt.timedelta(days=math.ceil((k - 1) * MONTH)) >= since]
    assert list(zip(kept["customer_id"], kept["months_ahead"].astype(int))) == by_loop
    assert 0 < len(by_loop) < len(expected)


def test_days_to_churn_is_the_first_churn_on_or_after_the_as_of_date():
    snapshots = pd.DataFrame({"customer_id": ["A", "A", "B"],
                              "as_of": [dt.date(2024, 1, 1), dt.date(2024, 3, 1), dt.date(2024, 1, 1)]})
    events = pd.DataFrame({"customer_id": ["A", "A"], "churn_date": pd.to_datetime(["2024-01-01", "2024-05-11"])})
    out = attach_outcomes(snapshots, events)
    assert out["days_to_churn"].iloc[0] == 0
    assert out["days_to_churn"].iloc[1] == (dt.date(2024, 5, 11) - dt.date(2024, 3, 1)).days
    assert math.isnan(out["days_to_churn"].iloc[2])


def test_survival_between_month_ends_is_linear_in_whole_days():
    curves = np.array([[0.9, 0.8, 0.5, 0.4]])
    # Month 3 holds days 61..91 (31 whole days); day 90 is 29 of them in.
    assert survival_at_days(curves, 90)[0] == pytest.approx(0.8 + 29 / 31 * (0.5 - 0.8))
    assert survival_at_days(curves, 92)[0] == pytest.approx(0.5)
    assert survival_at_days(curves, 31)[0] == pytest.approx(0.9)
    assert months_covering(90) == 3 and months_covering(92) == 3 and months_covering(93) == 4
    with pytest.raises(ValueError, match="horizon"):
        months_covering(400)


def test_horizon_metrics_match_a_plain_loop():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = rng.uniform(0.01, 0.99, 300)
    mrr = rng.uniform(10, 500, 300)
    got = horizon_metrics(y, p, mrr)
    assert got["expected_churners"] == pytest.approx(sum(p))
    assert got["realized_churners"] == sum(y)
    assert got["expected_mrr_lost"] == pytest.approx(sum(a * b for a, b in zip(p, mrr)))
    assert got["realized_mrr_lost"] == pytest.approx(sum(m for m, label in zip(mrr, y) if label))
    assert got["brier"] == pytest.approx(sum((a - b) ** 2 for a, b in zip(p, y)) / 300)
    pairs = [(i, j) for i in range(300) if y[i] for j in range(300) if not y[j]]
    assert got["roc_auc"] == pytest.approx(sum((p[i] > p[j]) + 0.5 * (p[i] == p[j]) for i, j in pairs) / len(pairs))


def survival_data(n: int = 400, seed: int = 0):
    """Durations (some churned by 12, the rest followed past it), a risk score and monotone curves."""
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0, 1, n)
    durations = rng.exponential(12 / (0.3 + 2 * risk))
    churned = durations <= 12
    durations = np.where(churned, durations, 12.5 + rng.uniform(0, 3, n))  # censored after the last time
    times = np.arange(1, 13, dtype=float)
    curves = np.exp(-np.outer(0.3 + 2 * risk, times) / 12 * rng.uniform(0.8, 1.2, (n, 1)))
    return durations, churned, risk, curves, times


def test_time_dependent_auc_matches_scikit_survival():
    sksurv = pytest.importorskip("sksurv.metrics")
    from sksurv.util import Surv

    durations, churned, risk, curves, _ = survival_data()
    outcome = Surv.from_arrays(churned, durations)
    for t in (3.0, 6.0, 12.0):
        expected, _ = sksurv.cumulative_dynamic_auc(outcome, outcome, risk, [t])
        assert time_dependent_auc(durations, churned, risk, t) == pytest.approx(expected[0], abs=1e-9)


def test_integrated_brier_score_matches_scikit_survival():
    sksurv = pytest.importorskip("sksurv.metrics")
    from sksurv.util import Surv

    durations, churned, _, curves, times = survival_data(seed=3)
    outcome = Surv.from_arrays(churned, durations)
    expected = sksurv.integrated_brier_score(outcome, outcome, curves, times)
    assert integrated_brier_score(durations, churned, curves, times) == pytest.approx(expected, abs=1e-9)


def test_survival_metrics_refuse_rows_censored_before_the_time():
    with pytest.raises(ValueError, match="followed"):
        time_dependent_auc([1.0, 2.0], [1, 0], [0.5, 0.4], 3.0)


def test_the_split_adapts_to_short_history_and_names_the_months_needed():
    long = plan_split(dt.date(2022, 1, 1), dt.date(2024, 12, 31))
    assert long.test_start == dt.date(2023, 12, 1) and len(long.test_dates) == 13
    short = plan_split(dt.date(2023, 7, 1), dt.date(2024, 12, 31))  # 18 months
    assert 3 <= len(short.test_dates) < 13
    assert short.first_as_of < short.calibration_start < short.test_start < short.observed_until
    with pytest.raises(ValueError, match=r"at least 12 whole months.*has 5"):
        plan_split(dt.date(2024, 8, 1), dt.date(2024, 12, 31))


def metrics(losses: dict[str, float]) -> dict[str, dict]:
    return {name: {"hazard_log_loss": loss, "horizons": {}} for name, loss in losses.items()}


def test_selection_registers_the_winner_and_says_by_how_much():
    selected, check = guardrails.select(
        metrics({"boosted_trees": 0.20, "logistic_regression": 0.18, "base_rate": 0.25, "recency_rule": 0.24}), {})
    assert selected == "logistic_regression"
    assert check["status"] == "ok" and "beats boosted_trees by 10.0%" in check["message"]


def test_a_model_losing_to_a_baseline_is_refused_unless_overridden():
    losing = metrics({"boosted_trees": 0.26, "logistic_regression": 0.27, "base_rate": 0.25})
    with pytest.raises(ValueError, match="allow_baseline"):
        guardrails.select(losing, {})
    with pytest.raises(ValueError, match="loses to one"):
        guardrails.select(metrics({"boosted_trees": 0.26, "base_rate": 0.25, "recency_rule": 0.2}),
                          {"candidate": "boosted_trees", "allow_baseline": False})
    selected, check = guardrails.select(losing, {"allow_baseline": True})
    assert selected == "base_rate" and check["status"] == "overridden" and "allow_baseline" in check["message"]


def test_calibration_off_by_more_than_a_quarter_is_flagged():
    horizons = {"90d": {"rows": 10, "expected_churners": 130.0, "realized_churners": 100, "churners_ratio": 1.3},
                "12m": {"rows": 10, "expected_churners": 100.0, "realized_churners": 100, "churners_ratio": 1.0}}
    check = guardrails.calibration_check({"horizons": horizons})
    assert check["status"] == "warning" and "90d" in check["message"] and "25%" in check["message"]


def test_days_to_churn_matches_a_plain_loop_over_many_customers():
    rng = np.random.default_rng(7)
    customers = [f"c{number}" for number in range(60)]
    snapshots = pd.DataFrame({
        "customer_id": rng.choice(customers, 500),
        "as_of": [dt.date(2023, 1, 1) + dt.timedelta(days=int(day)) for day in rng.integers(0, 700, 500)],
    })
    # Some customers churn several times, some never (c45 on); three churns fall before 1970.
    days = [dt.date(2023, 1, 1) + dt.timedelta(days=int(day)) for day in rng.integers(-30, 800, 120)]
    churns = pd.DataFrame({
        "customer_id": np.append(rng.choice(customers[:45], 120), ["c0", "c1", "c2"]),
        "churn_date": pd.to_datetime(days + [dt.date(1960, 5, 1)] * 3),
    })
    # A churn on a row's own as_of counts (0 days).
    churns.loc[len(churns)] = [snapshots["customer_id"].iloc[0], pd.Timestamp(snapshots["as_of"].iloc[0])]
    expected = []
    for customer, as_of in zip(snapshots["customer_id"], snapshots["as_of"]):
        later = [(day.date() - as_of).days for who, day in zip(churns["customer_id"], churns["churn_date"])
                 if who == customer and day.date() >= as_of]
        expected.append(min(later) if later else np.nan)
    got = attach_outcomes(snapshots, churns)["days_to_churn"].to_numpy()
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))
    assert got[0] == 0 and np.isnan(got).sum() > 50 and np.isfinite(got).sum() > 200
    assert attach_outcomes(snapshots, churns.iloc[:0])["days_to_churn"].isna().all()


def test_days_to_churn_refuses_missing_dates_and_ids_of_different_kinds():
    snapshots = pd.DataFrame({"customer_id": ["A", "B"], "as_of": [dt.date(2024, 1, 1), dt.date(2024, 1, 1)]})
    events = pd.DataFrame({"customer_id": ["A"], "churn_date": pd.to_datetime(["2024-02-01"])})
    with pytest.raises(ValueError, match="churn_date is missing in 1 row"):
        attach_outcomes(snapshots, events.assign(churn_date=pd.NaT))
    with pytest.raises(ValueError, match="as_of is missing in 1 row"):
        attach_outcomes(snapshots.assign(as_of=[dt.date(2024, 1, 1), None]), events)
    with pytest.raises(ValueError, match="same kind of id"):
        attach_outcomes(snapshots.assign(customer_id=[1, 2]), events)
