"""Tests of segmented analytics: segments add up to the whole, names are checked, derived plans match a loop."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from helpers import warehouse
from helpers.analytics import cohorts, revenue, segments, survival

AS_OF = "2026-01-01"


@pytest.fixture(scope="module")
def con(small_synthetic_warehouse):
    with warehouse.get_connection(path=small_synthetic_warehouse) as connection:
        yield connection


@pytest.mark.parametrize("segment", ["plan_at_first_payment", "current_plan", "industry"])
def test_segment_movements_sum_to_the_total_for_every_month(con, segment):
    total = revenue.mrr_movements(con)
    parts = revenue.mrr_movements(con, segment=segment)
    assert parts["segment"].nunique() > 1
    # Every segment has every month of the history, so the sums line up row by row.
    assert (parts.groupby("segment").size() == len(total)).all()
    summed = parts.drop(columns="segment").groupby("month", as_index=False).sum()
    assert summed["month"].tolist() == total["month"].tolist()
    for column in total.columns.drop("month"):
        # Decimal money: equal to the cent, not approximately.
        assert summed[column].tolist() == total[column].tolist(), column


def test_segment_cohorts_and_tenure_partition_the_customers(con):
    whole = cohorts.retention_table(con, "logo")
    parts = cohorts.retention_table(con, "logo", segment="industry")
    summed = parts.groupby(["cohort", "age"], as_index=False)[["cohort_customers", "active_customers"]].sum()
    merged = whole.merge(summed, on=["cohort", "age"], suffixes=("", "_parts"))
    assert len(merged) == len(whole)
    assert (merged["active_customers"] == merged["active_customers_parts"]).all()
    assert (merged["cohort_customers"] == merged["cohort_customers_parts"]).all()
    assert cohorts.retention_matrix(parts).index.names == ["segment", "cohort"]
    tenure = survival.tenure_table(con, AS_OF, segment="industry")
    assert len(tenure) == len(survival.tenure_table(con, AS_OF))
    customers = con.sql("select customer_id, industry from raw.customers").df()
    assert tenure[["customer_id", "industry"]].merge(customers, on="customer_id", suffixes=("", "_raw")).eval(
        "industry == industry_raw").all()


def test_plan_at_first_payment_matches_a_plain_loop(con):
    subscriptions = con.sql("select * from raw.subscriptions").df()
    expected = {}
    for row in subscriptions.sort_values(["start_date", "subscription_id"]).itertuples():
        if row.mrr > 0 and row.customer_id not in expected:
            expected[row.customer_id] = row.plan_tier
    got = segments.customer_segments(con, "plan_at_first_payment").set_index("customer_id")["segment"]
    assert {k: v for k, v in got.items() if v != "(never paid)"} == expected
    retention = revenue.retention_metrics(con, segment="plan_at_first_payment")
    assert set(retention["segment"]) <= set(expected.values())


def test_segmented_kaplan_meier_gives_one_curve_per_value(con):
    curves = survival.tenure_curves(con, AS_OF, segment="plan_at_first_payment")
    tenure = survival.tenure_table(con, AS_OF, segment="plan_at_first_payment")
    assert sorted(curves["group"].unique()) == sorted(tenure["plan_at_first_payment"].unique())
    for group, curve in curves.groupby("group"):
        assert curve["at_risk"].iloc[0] == (tenure["plan_at_first_payment"] == group).sum()


@pytest.mark.parametrize("segment", ["plan_tier; drop table raw.customers", "customer_id", "Industry", 7])
def test_segment_names_are_checked_before_any_sql(segment):
    empty = duckdb.connect()  # no tables: any SQL would fail with a different error
    for call in (
        lambda: revenue.mrr_movements(empty, segment=segment),
        lambda: revenue.retention_metrics(empty, segment=segment),
        lambda: cohorts.retention_table(empty, segment=segment),
        lambda: survival.tenure_table(empty, AS_OF, segment=segment),
    ):
        with pytest.raises(ValueError, match="segment must be one of plan_at_first_payment, current_plan"):
            call()


def test_no_segment_keeps_the_unsegmented_columns(con):
    assert "segment" not in revenue.mrr_movements(con, segment="").columns
    assert list(revenue.mrr_movements(con, segment="industry").columns)[0] == "segment"
    assert pd.Index(segments.segment_names()).is_unique


def test_with_segment_column_names_all_customers_only_when_unsegmented():
    plain = segments.with_segment_column(pd.DataFrame({"mrr": [1.0, 2.0]}), None)
    assert list(plain.columns) == ["segment", "mrr"] and set(plain["segment"]) == {segments.ALL_CUSTOMERS}
    split = pd.DataFrame({"segment": ["starter", "growth"], "mrr": [1.0, 2.0]})
    assert segments.with_segment_column(split.copy(), "plan_tier").equals(split)
