"""The test-side company simulator is self-consistent and its files are what the suite ingests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import warehouse
from helpers.domain import EventType, Industry, PlanTier, TicketPriority
from helpers.analytics.features import snapshot
from helpers.warehouse.ingest import ingest
from simulators.company import HORIZON_MONTHS, simulate_company
from simulators.small import monthly_summary, small_company

CUT = dt.date(2023, 7, 1)  # month 18 of the simulated company below; 12 months follow it


@pytest.fixture(scope="module")
def company():
    return simulate_company(3_000, 30, "2022-01-01", seed=11, data_end=CUT - dt.timedelta(days=1))


@pytest.fixture(scope="module")
def truth(company):
    return company.truth_at(CUT)


def test_monthly_summary_of_the_small_company_equals_the_hand_count():
    summary = monthly_summary(small_company().history, pd.date_range("2025-01-01", "2025-07-01", freq="MS"))
    expected = pd.DataFrame(
        [  # month, MRR, active, new, reactivated, churned, churned MRR
            ("2025-01-01", 2351.65, 8, 0, 0, 0, 0.0),
            ("2025-02-01", 2302.65, 7, 0, 0, 1, -49.0),     # C05 ended 1 Feb
            ("2025-03-01", 3010.05, 7, 1, 0, 1, -41.6),     # C04 upgraded, C06 converted, C11's annual ended
            ("2025-04-01", 2961.05, 6, 0, 0, 1, -49.0),     # C02 stopped 15 March
            ("2025-05-01", 2460.05, 7, 0, 1, 0, 0.0),       # C08 downgraded, C05 won back
            ("2025-06-01", 2460.05, 7, 0, 0, 0, 0.0),
            ("2025-07-01", 2659.05, 8, 1, 0, 0, 0.0),       # C10 started 20 June
        ],
        columns=["month", "mrr", "active_customers", "new_customers", "reactivated_customers",
                 "churned_customers", "churned_mrr"],
    )
    expected["month"] = pd.to_datetime(expected["month"]).dt.date
    pd.testing.assert_frame_equal(summary, expected)


@pytest.mark.parametrize("tables", ["all", "billing only"])
def test_the_small_company_is_ingested(tmp_path, tables):
    small = small_company(events=tables == "all", tickets=tables == "all")
    paths = small.write(tmp_path / "files")
    assert set(paths) == ({"customers", "subscriptions", "events", "tickets"} if tables == "all"
                          else {"customers", "subscriptions"})
    ingest(**paths, warehouse_path=tmp_path / "w.duckdb", data_end=small.data_end)
    with warehouse.get_connection(path=tmp_path / "w.duckdb") as con:
        mrr, open_ends = con.execute(
            "select (select sum(mrr) from raw.customers), "
            "(select count(*) from raw.subscriptions where end_date > date '2025-06-30')").fetchone()
    assert float(mrr) == 2659.05  # the MRR on the data end, C10 included
    assert open_ends == 1         # C03's annual plan, cancelled to end 2025-12-01


def test_simulated_files_are_ingested_with_the_data_end(tmp_path, company):
    paths = company.write(tmp_path / "files", fmt="parquet")
    built = ingest(**paths, warehouse_path=tmp_path / "w.duckdb", data_end=company.data_end)
    assert str(built["data_end"]) == str(company.data_end)
    with warehouse.get_connection(path=tmp_path / "w.duckdb") as con:
        counts = con.execute(
            "select (select count(*) from raw.customers), (select count(*) from raw.usage_events)").fetchone()
    assert counts == (len(company.customers), len(company.events))


def test_exports_hold_only_what_was_observable_on_the_data_end(company):
    end = company.data_end
    subs = company.subscriptions
    assert (subs["start_date"] <= end).all() and (company.customers["signup_date"] <= end).all()
    assert (company.events["timestamp"] < pd.Timestamp(end) + pd.Timedelta(days=1)).all()
    assert (company.tickets["resolved_at"].dropna() < pd.Timestamp(end) + pd.Timedelta(days=1)).all()
    future = subs[subs["end_date"].notna() & (subs["end_date"] > end)]
    assert len(future) > 0 and (future["billing_interval"] == "year").all()  # scheduled cancellations only
    # Every vocabulary value is the suite's own.
    assert set(company.customers["industry"]) <= set(Industry.values())
    assert set(subs["plan_tier"]) <= set(PlanTier.values())
    assert set(company.events["event_type"]) <= set(EventType.values())
    assert set(company.tickets["priority"]) <= set(TicketPriority.values())


def test_annual_plans_end_only_on_an_anniversary_of_their_start(company):
    annual = company.history[(company.history["billing_interval"] == "year") & company.history["end_date"].notna()]
    assert len(annual) > 20
    months = [(e.year - s.year) * 12 + e.month - s.month for s, e in zip(annual["start_date"], annual["end_date"])]
    assert all(m % 12 == 0 and m > 0 for m in months)
    assert (annual["start_date"].map(lambda d: d.day) == annual["end_date"].map(lambda d: d.day)).all()


def test_truth_covers_exactly_the_suites_population_and_is_a_probability(company, truth):
    realized = company.realized_at(CUT)
    assert sorted(truth["customer_id"]) == sorted(realized["customer_id"])
    probabilities = truth[[f"p_stop_{h}" for h in ("3m", "6m", "12m")]].to_numpy()
    assert (np.diff(probabilities, axis=1) >= 0).all()  # longer windows never less likely
    assert (truth["p_stop_90d"] <= truth["p_stop_6m"]).all()
    annual = truth[truth["billing_interval"] == "year"]
    assert (annual["p_stop_3m"] == 0).mean() > 0.5  # no renewal within 3 months for most annual plans


@pytest.mark.parametrize("horizon", list(HORIZON_MONTHS))
def test_monte_carlo_truth_agrees_with_realized_churn(company, truth, horizon):
    realized = company.realized_at(CUT).set_index("customer_id")[f"stopped_{horizon}"]
    p = truth.set_index("customer_id")[f"p_stop_{horizon}"]
    expected, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
    assert abs(realized.sum() - expected) < 3.5 * sd + 0.01 * expected, (realized.sum(), expected, sd)
    # The truth ranks customers: the riskiest fifth churns far more than the safest fifth.
    quintile = pd.qcut(p.rank(method="first"), 5, labels=False)
    rates = realized.groupby(quintile).mean()
    assert rates.iloc[-1] > 2 * rates.iloc[0]


def test_realized_churn_is_the_suites_label(tmp_path):
    small = simulate_company(500, 24, "2023-01-01", seed=5, events=False, tickets=False)
    paths = small.write(tmp_path / "files")
    ingest(**paths, warehouse_path=tmp_path / "w.duckdb", data_end=small.data_end)
    cut = dt.date(2023, 11, 1)
    realized = small.realized_at(cut).set_index("customer_id")
    with warehouse.get_connection(path=tmp_path / "w.duckdb") as con:
        for horizon, days in (("90d", 90), ("12m", 366)):
            labels = snapshot(con, cut, days).set_index("customer_id")
            assert sorted(labels.index) == sorted(realized.index)
            assert (labels["mrr_current"].round(2) == realized["mrr"].reindex(labels.index)).all()
            assert (labels["churned"] == realized[f"stopped_{horizon}"].reindex(labels.index)).all(), horizon


def test_export_vocabulary_maps_back_onto_the_suites(tmp_path):
    suite = simulate_company(300, 18, "2024-01-01", seed=3)
    export = simulate_company(300, 18, "2024-01-01", seed=3, vocabulary="export")
    mapping = yaml.safe_load(export.vocabulary_yaml)
    assert {"Growth", "Pro", "Enterprise Annual", "Healthcare", "login"} <= {
        name for section in mapping.values() for name in section}
    assert " growth " in set(export.subscriptions["plan_tier"])  # matched only by ignoring case and spaces

    def mapped(values, section):
        table = {name.strip().lower(): value for name, value in mapping[section].items()}
        return values.map(lambda value: table[value.strip().lower()])

    for frame, column, section in (("customers", "industry", "industry"), ("customers", "plan_tier", "plan_tier"),
                                   ("subscriptions", "plan_tier", "plan_tier"), ("events", "event_type", "event_type"),
                                   ("tickets", "priority", "priority")):
        assert mapped(getattr(export, frame)[column], section).tolist() == getattr(suite, frame)[column].tolist()
    export.write(tmp_path / "x")
    assert yaml.safe_load((tmp_path / "x" / "vocabulary.yaml").read_text()) == mapping


def test_the_simulation_is_seeded():
    first, second = (simulate_company(200, 12, "2024-01-01", seed=9) for _ in range(2))
    for name in ("customers", "subscriptions", "events", "tickets"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    pd.testing.assert_frame_equal(first.truth_at(dt.date(2024, 7, 1), paths=200),
                                  second.truth_at(dt.date(2024, 7, 1), paths=200))
    # Leaving the usage events and tickets out changes nothing else.
    billing_only = simulate_company(200, 12, "2024-01-01", seed=9, events=False, tickets=False)
    assert billing_only.events is None and billing_only.tickets is None
    pd.testing.assert_frame_equal(billing_only.subscriptions, first.subscriptions)
    pd.testing.assert_frame_equal(billing_only.customers, first.customers)
