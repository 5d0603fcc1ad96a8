"""Tests of helpers.analytics.survival: Kaplan-Meier and log-rank against lifelines, and tenure tables."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import EXTERNAL_DIR, subscription_frame
from scipy import stats

from helpers import warehouse

from helpers.analytics import survival

TELCO = EXTERNAL_DIR / "telco-customer-churn.csv"

lifelines = pytest.importorskip("lifelines", reason="lifelines (dev extra) is the independent reference")
from lifelines import KaplanMeierFitter  # noqa: E402
from lifelines.statistics import multivariate_logrank_test  # noqa: E402


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    if not TELCO.is_file():
        pytest.skip(f"external data not available: {TELCO}")
    frame = pd.read_csv(TELCO)
    return frame.assign(churned=frame["Churn"].eq("Yes"))


def assert_matches_lifelines(durations, events, alpha: float = 0.05) -> None:
    ours = survival.kaplan_meier(durations, events, alpha=alpha)
    fitter = KaplanMeierFitter(alpha=alpha).fit(durations, events)
    bands = fitter.confidence_interval_.to_numpy()
    np.testing.assert_allclose(ours["time"], fitter.timeline, rtol=0, atol=0)
    np.testing.assert_array_equal(ours["at_risk"], fitter.event_table["at_risk"])
    np.testing.assert_array_equal(ours["events"], fitter.event_table["observed"])
    np.testing.assert_allclose(ours["survival"], fitter.survival_function_.iloc[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["lower"], bands[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["upper"], bands[:, 1], rtol=0, atol=1e-9)


def assert_logrank_matches_lifelines(durations, events, groups) -> None:
    ours = survival.logrank_test(durations, events, groups)
    reference = multivariate_logrank_test(durations, groups, events)
    assert ours.statistic == pytest.approx(reference.test_statistic, rel=1e-9, abs=1e-9)
    assert ours.p_value == pytest.approx(reference.p_value, rel=1e-7, abs=1e-12)
    assert ours.degrees_of_freedom == reference.degrees_of_freedom


def test_kaplan_meier_matches_lifelines_on_telco(telco):
    assert_matches_lifelines(telco["tenure"].to_numpy(), telco["churned"].to_numpy())
    assert_matches_lifelines(telco["tenure"].to_numpy(), telco["churned"].to_numpy(), alpha=0.1)


@pytest.mark.parametrize("column", ["Contract", "PaymentMethod", "gender", "InternetService"])
def test_logrank_matches_lifelines_on_telco(telco, column):
    assert_logrank_matches_lifelines(telco["tenure"].to_numpy(), telco["churned"].to_numpy(), telco[column].to_numpy())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kaplan_meier_and_logrank_match_lifelines_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    # Integer times give many ties between events and censorings (and some zeros);
    # continuous ones give none.
    tied = rng.integers(0, 40, n).astype(float)
    continuous = rng.exponential(12.0, n)
    events = rng.random(n) < 0.55
    groups = rng.choice(["free", "starter", "growth"], n, p=[0.5, 0.3, 0.2])
    for durations in (tied, continuous):
        assert_matches_lifelines(durations, events)
        assert_matches_lifelines(durations, events, alpha=0.01)
        assert_logrank_matches_lifelines(durations, events, groups)
    # Groups whose curves truly differ: a large statistic, a tiny p-value.
    shifted = tied * np.where(groups == "free", 0.5, 1.0)
    assert_logrank_matches_lifelines(shifted, events, groups)


def test_kaplan_meier_ends_at_zero_when_the_last_subject_has_the_event():
    durations, events = [1, 2, 2, 3, 4, 4], [1, 0, 1, 1, 1, 1]
    assert_matches_lifelines(durations, events)
    assert survival.kaplan_meier(durations, events)["survival"].iloc[-1] == 0.0


def test_kaplan_meier_hand_case():
    # Times 1, 2 (censored), 2, 3, 4, 4; at risk = subjects with duration >= t.
    curve = survival.kaplan_meier([1, 2, 2, 3, 4, 4], [1, 0, 1, 1, 1, 1])
    assert list(curve["time"]) == [0, 1, 2, 3, 4]
    assert list(curve["at_risk"]) == [6, 6, 5, 3, 2]
    assert list(curve["events"]) == [0, 1, 1, 1, 2]
    assert list(curve["censored"]) == [0, 0, 1, 0, 0]
    # S: 1; 5/6; 5/6 * 4/5 = 2/3; 2/3 * 2/3 = 4/9; 4/9 * 0/2 = 0.
    assert list(curve["survival"]) == pytest.approx([1, 5 / 6, 2 / 3, 4 / 9, 0])
    # Greenwood sums d / (n (n - d)): 1/30; + 1/20; + 1/6.
    greenwood = np.array([1 / 30, 1 / 30 + 1 / 20, 1 / 30 + 1 / 20 + 1 / 6])
    s = np.array([5 / 6, 2 / 3, 4 / 9])
    z = stats.norm.ppf(0.975)
    # log-log band: S ** exp(-/+ z * sqrt(greenwood) / log S).
    spread = z * np.sqrt(greenwood) / np.log(s)
    assert list(curve["lower"].iloc[1:4]) == pytest.approx(list(s ** np.exp(-spread)))
    assert list(curve["upper"].iloc[1:4]) == pytest.approx(list(s ** np.exp(spread)))
    # Before any event the band is [1, 1]; once no one is left, [0, 0].
    assert (curve["lower"].iloc[0], curve["upper"].iloc[0]) == (1.0, 1.0)
    assert (curve["lower"].iloc[-1], curve["upper"].iloc[-1]) == (0.0, 0.0)


def test_logrank_of_identical_groups_is_zero():
    # Two copies of the same sample: observed = expected in each group.
    durations = np.array([3, 5, 5, 8, 9, 12, 12, 15])
    events = np.array([1, 1, 0, 1, 0, 1, 1, 0])
    result = survival.logrank_test(
        np.concatenate([durations, durations]), np.concatenate([events, events]), ["a"] * 8 + ["b"] * 8
    )
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)
    assert result.degrees_of_freedom == 1
    assert list(result.summary["group"]) == ["a", "b"]
    assert list(result.summary["observed"]) == [5, 5]
    assert list(result.summary["expected"]) == pytest.approx([5, 5])


def test_kaplan_meier_by_group_stacks_one_curve_per_group():
    durations, events = [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 0, 1]
    groups = ["x", "y", "x", "y", "x", "y"]
    curves = survival.kaplan_meier_by_group(durations, events, groups)
    assert list(curves["group"].unique()) == ["x", "y"]
    x = curves[curves["group"] == "x"].drop(columns="group").reset_index(drop=True)
    pd.testing.assert_frame_equal(x, survival.kaplan_meier([1, 3, 5], [1, 0, 0]))


@pytest.mark.parametrize(
    ("durations", "events", "message"),
    [
        ([1, -2, 3], [1, 0, 1], "finite and >= 0"),
        ([1, np.nan], [1, 0], "finite and >= 0"),
        ([1, 2, 3], [1, 0], "differ in length"),
        ([], [], "empty"),
        ([1, 2], [1, 2], "booleans or 0/1"),
        (["a", "b"], [1, 0], "durations must be numbers"),
    ],
)
def test_invalid_survival_input_is_rejected(durations, events, message):
    with pytest.raises(ValueError, match=message):
        survival.kaplan_meier(durations, events)
    with pytest.raises(ValueError, match=message):
        survival.logrank_test(durations, events, ["a"] * len(durations))


def test_logrank_needs_two_labelled_groups():
    with pytest.raises(ValueError, match="at least two distinct labels"):
        survival.logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    with pytest.raises(ValueError, match="missing label"):
        survival.logrank_test([1, 2, 3], [1, 0, 1], ["a", None, "b"])
    with pytest.raises(ValueError, match="alpha"):
        survival.kaplan_meier([1, 2], [1, 0], alpha=1.5)


# --- tenure from the warehouse --------------------------------------------------------------

AS_OF = dt.date(2024, 6, 1)
TENURE_ROWS = [
    # churned: covered Jan 1 to Mar 1 -> event on Mar 1, 31 + 29 = 60 days (2024 is a leap year).
    ("s1", "churned", "starter", "2024-01-01", "2024-03-01", 20),
    # churns_later: ends Sep 1, after as_of -> censored at Jun 1: 29 + 31 + 30 + 31 = 121 days.
    ("s2", "churns_later", "growth", "2024-02-01", "2024-09-01", 50),
    # ongoing: censored, Mar 15 to Jun 1 = 17 + 30 + 31 = 78 days.
    ("s3", "ongoing", "growth", "2024-03-15", None, 50),
    # returned: gone on Feb 1 and back on Apr 1. The first churn counts (31 days),
    # although customers.churn_date is null (active at the data end).
    ("s4", "returned", "starter", "2024-01-01", "2024-02-01", 20),
    ("s5", "returned", "starter", "2024-04-01", None, 20),
    # upgraded: back-to-back subscriptions are no churn; Jan 10 to Jun 1 = 22 + 29 + 31 + 30 + 31 = 143 days.
    ("s6", "upgraded", "starter", "2024-01-10", "2024-03-01", 20),
    ("s7", "upgraded", "growth", "2024-03-01", None, 50),
    # overlapping: covered until the later end, May 1 -> 31 + 29 + 31 + 30 = 121 days, event.
    ("s8", "overlapping", "growth", "2024-01-01", "2024-04-01", 50),
    ("s9", "overlapping", "growth", "2024-02-01", "2024-05-01", 10),
    # churns_on_as_of: the first day without a subscription is as_of itself: an event, 121 days.
    ("s10", "churns_on_as_of", "starter", "2024-02-01", "2024-06-01", 20),
    # Signing up on or after as_of: not in the table.
    ("s11", "signs_up_on_as_of", "starter", "2024-06-01", None, 20),
    ("s12", "signs_up_later", "starter", "2024-07-01", None, 20),
]
EXPECTED_TENURE = {
    # customer: (churned, duration_days, plan_tier)
    "churned": (True, 60, "starter"),
    "churns_later": (False, 121, "growth"),
    "churns_on_as_of": (True, 121, "starter"),
    "ongoing": (False, 78, "growth"),
    "overlapping": (True, 121, "growth"),
    "returned": (True, 31, "starter"),
    "upgraded": (False, 143, "growth"),
}


@pytest.fixture
def tenure_con(make_warehouse):
    path = make_warehouse(subscription_frame(TENURE_ROWS))
    with warehouse.get_connection(path=path) as con:
        yield con


def test_tenure_table_censors_at_as_of(tenure_con):
    table = survival.tenure_table(tenure_con, AS_OF, segment="plan_tier")
    got = {
        row.customer_id: (bool(row.churned), int(row.duration_days), row.plan_tier) for row in table.itertuples()
    }
    assert got == EXPECTED_TENURE
    assert list(table.columns) == [
        "customer_id", "signup_date", "churn_date", "churned", "duration_days", "duration_months", "plan_tier",
    ]
    np.testing.assert_allclose(table["duration_months"], table["duration_days"] / 30.4375)
    # churn_date is known only for events.
    assert table["churn_date"].notna().tolist() == table["churned"].tolist()
    returned = table.set_index("customer_id").loc["returned"]
    assert returned["churn_date"] == pd.Timestamp("2024-02-01")

    # tenure_curves feeds these durations to Kaplan-Meier, one curve per segment.
    curves = survival.tenure_curves(tenure_con, AS_OF, segment="plan_tier", unit="days")
    growth = table[table["plan_tier"] == "growth"]
    expected = survival.kaplan_meier(growth["duration_days"], growth["churned"])
    got = curves[curves["group"] == "growth"].drop(columns="group").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_tenure_depends_on_as_of_only(tenure_con):
    # Four months later churns_later has churned (Feb 1 to Sep 1 = 213 days)
    # and the two late sign-ups have joined.
    later = survival.tenure_table(tenure_con, "2024-10-01").set_index("customer_id")
    assert bool(later.loc["churns_later", "churned"]) and later.loc["churns_later", "duration_days"] == 213
    assert {"signs_up_on_as_of", "signs_up_later"} <= set(later.index)
    assert "plan_tier" not in later.columns
    # Nobody signed up before the first day of the data.
    assert survival.tenure_table(tenure_con, "2023-12-31").empty


@pytest.mark.parametrize("segment", ["mrr; drop table raw.customers", "customer_id", "PLAN_TIER", 3])
def test_tenure_segment_must_be_allowed(segment):
    # Checked against the catalog before any SQL is built (the connection is empty).
    with pytest.raises(ValueError, match="segment must be one of plan_at_first_payment, current_plan, industry"):
        survival.tenure_table(duckdb.connect(), AS_OF, segment=segment)


def test_tenure_needs_a_valid_as_of():
    with pytest.raises(ValueError, match="as_of is required"):
        survival.tenure_table(duckdb.connect(), None)
    with pytest.raises(ValueError, match="as_of must be a date"):
        survival.tenure_table(duckdb.connect(), "yesterday-ish")
