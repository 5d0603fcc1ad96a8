"""Tests of helpers.analytics.cohorts: logo and revenue retention by cohort, on a hand-computed case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import subscription_frame

from helpers import warehouse

from helpers.analytics import cohorts, revenue

# Months are snapshots on the 1st; end_date is exclusive.
ROWS = [
    ("a1", "A", "starter", "2024-01-01", None, 100),          # A: 100 Jan..Jul
    ("b1", "B", "starter", "2024-01-15", "2024-03-01", 50),   # B: 50 in Feb only
    ("c1", "C", "growth", "2024-01-01", None, 100),           # C: 100, 130 Feb-Mar, then 100
    ("c2", "C", "growth", "2024-02-01", "2024-04-01", 30),
    ("d1", "D", "growth", "2024-01-01", "2024-04-01", 200),   # D: 200 Jan-Mar, 130 from Apr
    ("d2", "D", "growth", "2024-04-01", None, 130),
    ("f1", "F", "starter", "2024-01-01", "2024-02-01", 60),   # F: Jan, back in Mar (60)
    ("f2", "F", "starter", "2024-03-01", "2024-04-01", 60),
    ("g1", "G", "starter", "2024-01-01", "2024-02-01", 80),   # G: Jan, back from May at 90
    ("g2", "G", "starter", "2024-05-01", None, 90),
    ("h1", "H", "starter", "2024-04-01", "2024-06-15", 25),   # H: Apr-Jun, churns in Jul
]
DATA_END = dt.date(2024, 6, 30)

# Cohorts: Jan = A C D F G (5 customers, new MRR 100+100+200+60+80 = 540),
# Feb = B (1, 50), Apr = H (1, 25). The history runs to July (H's churn).
# January cohort by month (active customers; MRR):
#   Jan  A C D F G  5; 540
#   Feb  A C D      3; 100 + 130 + 200 = 430
#   Mar  A C D F    4; 100 + 130 + 200 + 60 = 490   (F reactivated, still Jan cohort)
#   Apr  A C D      3; 100 + 100 + 130 = 330
#   May  A C D G    4; 100 + 100 + 130 + 90 = 420   (G reactivated at a higher price)
#   Jun  A C D G    4; 420
#   Jul  A C D G    4; 420
JANUARY_ACTIVE = [5, 3, 4, 3, 4, 4, 4]
JANUARY_MRR = [540, 430, 490, 330, 420, 420, 420]


@pytest.fixture
def con(make_warehouse):
    path = make_warehouse(subscription_frame(ROWS), data_end=DATA_END)
    with warehouse.get_connection(path=path) as connection:
        yield connection


def test_logo_and_revenue_retention_match_the_hand_computation_tidy_and_pivoted(con):
    logo = cohorts.retention_table(con, kind="logo")
    january = logo[logo["cohort"] == pd.Timestamp("2024-01-01")]
    assert list(january["age"]) == list(range(7))
    assert list(january["active_customers"]) == JANUARY_ACTIVE
    # Logo retention = active / 5; a reactivated customer counts for its first cohort.
    assert list(january["retention"]) == pytest.approx([n / 5 for n in JANUARY_ACTIVE])
    assert set(january["cohort_customers"]) == {5}

    revenue_table = cohorts.retention_table(con, kind="revenue")
    january = revenue_table[revenue_table["cohort"] == pd.Timestamp("2024-01-01")]
    assert list(january["mrr"]) == [Decimal(value).quantize(Decimal("0.01")) for value in JANUARY_MRR]
    assert set(january["cohort_new_mrr"]) == {Decimal("540.00")}
    # Revenue retention = cohort MRR / 540 (new-business MRR of the cohort).
    assert list(january["retention"]) == pytest.approx([value / 540 for value in JANUARY_MRR])

    # B (February) is gone from March on: ages 1..5 show 0, not missing.
    february = logo[logo["cohort"] == pd.Timestamp("2024-02-01")]
    assert list(february["retention"]) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    # H (April): active Apr-Jun, churned in July.
    april = revenue_table[revenue_table["cohort"] == pd.Timestamp("2024-04-01")]
    assert list(april["retention"]) == [1.0, 1.0, 1.0, 0.0]
    # Only months with a first active customer are cohorts.
    assert sorted(logo["cohort"].unique()) == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-04-01"]))
    assert list(logo.columns) == [
        "cohort", "age", "month", "cohort_customers", "cohort_new_mrr", "active_customers", "mrr", "retention",
    ]

    # Cross-check with the roll-forward: a cohort's MRR at age 0 is that month's new MRR.
    age_zero = revenue_table[revenue_table["age"] == 0].set_index("cohort")["mrr"]
    new_mrr = revenue.mrr_movements(con).set_index("month")["new"]
    assert all(mrr == new_mrr[cohort] for cohort, mrr in age_zero.items())
    assert sum(age_zero) == sum(new_mrr)

    # The cohort x age matrix for heatmaps.
    matrix = cohorts.retention_table(con, kind="logo", pivot=True)
    assert list(matrix.index) == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-04-01"]))
    assert list(matrix.columns) == list(range(7))
    assert list(matrix.iloc[0]) == pytest.approx([n / 5 for n in JANUARY_ACTIVE])
    # Ages not observed yet (after July) are NaN: the triangle of a cohort heatmap.
    assert np.isnan(matrix.loc[pd.Timestamp("2024-02-01"), 6])
    assert matrix.loc[pd.Timestamp("2024-04-01")].isna().tolist() == [False] * 4 + [True] * 3
    # retention_matrix pivots a tidy table the same way.
    pd.testing.assert_frame_equal(cohorts.retention_matrix(logo), matrix)


def test_start_and_end_select_cohorts_and_cap_what_is_observed(con):
    table = cohorts.retention_table(con, kind="logo", start="2024-02-10", end="2024-05-31")
    # The January cohort is left out (not re-cohorted); observation stops in May.
    assert sorted(table["cohort"].unique()) == list(pd.to_datetime(["2024-02-01", "2024-04-01"]))
    assert table["month"].max() == pd.Timestamp("2024-05-01")
    assert list(table.loc[table["cohort"] == pd.Timestamp("2024-04-01"), "age"]) == [0, 1]


@pytest.mark.parametrize("kind", ["logos", "", None, "Revenue"])
def test_invalid_kind_names_the_parameter_and_allowed_values(kind):
    with pytest.raises(ValueError, match=r"kind must be one of 'logo', 'revenue'"):
        cohorts.retention_table(duckdb.connect(), kind=kind)


def test_invalid_dates_are_rejected():
    with pytest.raises(ValueError, match="start .* is after end"):
        cohorts.retention_table(duckdb.connect(), start="2024-05-01", end="2024-01-01")
