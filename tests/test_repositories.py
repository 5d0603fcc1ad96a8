"""Repositories against real warehouse files: every seed method, upsert, sampling, windows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from helpers import warehouse
from helpers.domain import Customer, EventType, PlanTier, UsageEvent
from helpers.repositories import MAX_SAMPLE_SIZE, DuckDBCustomerRepository, DuckDBUsageRepository
from sample_data import build_frames, valid_frames
from simulators import small_company

from helpers.warehouse.ingest import ingest

DATA_END = dt.date(2024, 12, 31)


def many_customers(n: int) -> dict[str, pd.DataFrame]:
    """n customers, each with one subscription and a few events, MRR rising with the id."""
    ids = [f"C{i:04d}" for i in range(n)]
    signup = [dt.date(2024, 1, 1) + dt.timedelta(days=i % 200) for i in range(n)]
    churned = [i % 3 == 0 for i in range(n)]
    churn = [s + dt.timedelta(days=90) if c else None for s, c in zip(signup, churned)]
    mrr = [float(10 + i) for i in range(n)]
    frames = {
        "customers": pd.DataFrame({
            "customer_id": ids, "industry": "Other", "plan_tier": "starter", "signup_date": signup,
            "mrr": [0.0 if c else m for c, m in zip(churned, mrr)], "churn_date": churn,
        }),
        "subscriptions": pd.DataFrame({
            "subscription_id": [f"S{i:04d}" for i in range(n)], "customer_id": ids, "plan_tier": "starter",
            "start_date": signup, "end_date": churn, "mrr": mrr,
        }),
    }
    events = []
    for i, (customer_id, start) in enumerate(zip(ids, signup)):
        for k in range(i % 5):
            events.append((f"E{i:04d}{k}", customer_id, dt.datetime.combine(start, dt.time(12)) + dt.timedelta(days=3 * k),
                           EventType.values()[k], 0.1 * k))
    frames["usage_events"] = pd.DataFrame(events, columns=["event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"])
    return frames


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.duckdb"
    build_frames(path, valid_frames())
    return path


@pytest.fixture
def large(tmp_path):
    path = tmp_path / "large.duckdb"
    frames = many_customers(300)
    build_frames(path, frames)
    return path, frames


def test_get_by_id_returns_an_entity_with_exact_money(small):
    customer = DuckDBCustomerRepository(small).get_by_id("C1")
    assert customer == Customer("C1", "FinTech", "starter", dt.date(2024, 1, 10), Decimal("100.00"), None)
    assert isinstance(customer.mrr.amount, Decimal)
    assert customer.plan_tier is PlanTier.STARTER


def test_get_by_id_returns_none_for_unknown_ids(small):
    assert DuckDBCustomerRepository(small).get_by_id("nobody") is None


def test_get_all_active_is_unchurned_customers_by_mrr_descending(large):
    path, frames = large
    expected = frames["customers"][frames["customers"]["churn_date"].isna()]
    expected = sorted(zip(expected["mrr"], expected["customer_id"]), key=lambda pair: (-pair[0], pair[1]))
    active = DuckDBCustomerRepository(path).get_all_active()
    assert [c.customer_id for c in active] == [customer_id for _, customer_id in expected]
    assert all(c.churn_date is None for c in active)


@pytest.mark.parametrize("bad", [0, -1, MAX_SAMPLE_SIZE + 1, 1.5, "3", None, True])
def test_get_sample_rejects_bad_sizes(small, bad):
    with pytest.raises(ValueError, match="n must be"):
        DuckDBCustomerRepository(small).get_sample(bad)


def test_get_sample_is_reproducible_and_sized(large):
    path, frames = large
    repository = DuckDBCustomerRepository(path)
    first = repository.get_sample(25)
    assert len(first) == 25
    assert len({c.customer_id for c in first}) == 25
    assert [c.customer_id for c in repository.get_sample(25)] == [c.customer_id for c in first]
    assert set(c.customer_id for c in first) <= set(frames["customers"]["customer_id"])
    # Not simply the first rows.
    assert [c.customer_id for c in first] != sorted(frames["customers"]["customer_id"])[:25]
    # Larger than the table: every customer once.
    assert len(repository.get_sample(MAX_SAMPLE_SIZE)) == 300


def test_save_inserts_then_updates_in_place(small):
    repository = DuckDBCustomerRepository(small)
    with warehouse.get_connection(path=small) as con:
        hash_before = warehouse.read_metadata(con)["content_hash"]
    new = Customer("C3", "EdTech", "free", dt.date(2024, 7, 1), Decimal("0"), None)
    repository.save(new)
    assert repository.get_by_id("C3") == new
    changed = Customer("C3", "EdTech", "growth", dt.date(2024, 7, 1), Decimal("450.10"), None)
    repository.save(changed)
    assert repository.get_by_id("C3") == changed
    # C1 is referenced by subscriptions, events and tickets: the upsert still works.
    repository.save(Customer("C1", "LegalTech", "starter", dt.date(2024, 1, 10), Decimal("100"), None))
    assert repository.get_by_id("C1").industry.value == "LegalTech"
    with warehouse.get_connection(path=small) as con:
        assert con.execute("select count(*) from raw.customers").fetchone()[0] == 3
        metadata = warehouse.read_metadata(con)
    assert metadata["content_hash"] != hash_before
    assert metadata["row_counts"]["customers"] == 3


def test_save_refuses_what_is_not_a_customer(small):
    with pytest.raises(TypeError):
        DuckDBCustomerRepository(small).save({"customer_id": "C9"})


def test_customers_frame(small):
    repository = DuckDBCustomerRepository(small)
    assert list(repository.customers_frame()["customer_id"]) == ["C1", "C2"]
    assert list(repository.customers_frame(active_only=True)["customer_id"]) == ["C1"]


def test_get_events_for_customer_newest_first_and_since(large):
    path, frames = large
    repository = DuckDBUsageRepository(path)
    events = repository.get_events_for_customer("C0004")
    expected = frames["usage_events"][frames["usage_events"]["customer_id"] == "C0004"].sort_values("timestamp", ascending=False)
    assert [e.event_id for e in events] == list(expected["event_id"])
    assert all(isinstance(e, UsageEvent) for e in events)
    since = expected["timestamp"].iloc[1].to_pydatetime()
    assert [e.event_id for e in repository.get_events_for_customer("C0004", since=since)] == list(expected["event_id"].iloc[:2])
    assert repository.get_events_for_customer("nobody") == []


def reference_count(events: pd.DataFrame, customer_id: str, days: int, as_of: dt.date) -> int:
    start = dt.datetime.combine(as_of - dt.timedelta(days=days), dt.time())
    end = dt.datetime.combine(as_of, dt.time())
    return sum(
        1 for row in events.itertuples()
        if row.customer_id == customer_id and start <= row.timestamp.to_pydatetime() < end
    )


def test_event_count_last_n_days_matches_a_reference_loop(large):
    path, frames = large
    repository = DuckDBUsageRepository(path)
    events = frames["usage_events"]
    for customer_id, days, as_of in [("C0004", 5, dt.date(2024, 1, 8)), ("C0004", 30, dt.date(2024, 1, 14)),
                                     ("C0009", 7, dt.date(2024, 1, 20)), ("C0001", 1, dt.date(2024, 1, 2))]:
        assert repository.get_event_count_last_n_days(customer_id, days, as_of) == reference_count(events, customer_id, days, as_of)


def test_event_window_bounds_are_half_open(large):
    path, _ = large
    repository = DuckDBUsageRepository(path)
    # C0001 has one event, 2024-01-02 12:00. As of 2024-01-02 it is in the future;
    # as of 2024-01-03 with 1 day it is inside [2024-01-02, 2024-01-03).
    assert repository.get_event_count_last_n_days("C0001", 1, dt.date(2024, 1, 2)) == 0
    assert repository.get_event_count_last_n_days("C0001", 1, dt.date(2024, 1, 3)) == 1


def test_as_of_defaults_to_the_data_end_not_the_clock(large):
    path, frames = large
    repository = DuckDBUsageRepository(path)
    with warehouse.get_connection(path=path) as con:
        end = warehouse.data_end(con)
    default = repository.get_event_count_last_n_days("C0199", 30)
    explicit = repository.get_event_count_last_n_days("C0199", 30, end + dt.timedelta(days=1))
    assert default == explicit == reference_count(frames["usage_events"], "C0199", 30, end + dt.timedelta(days=1))


@pytest.mark.parametrize("days", [0, -3, 2.5, "7", None])
def test_event_count_rejects_bad_windows(small, days):
    with pytest.raises(ValueError, match="days"):
        DuckDBUsageRepository(small).get_event_count_last_n_days("C1", days, DATA_END)


def test_bulk_counts_equal_the_single_customer_counts(large):
    path, frames = large
    as_of = dt.date(2024, 3, 1)
    with DuckDBUsageRepository(path) as repository:
        bulk = repository.event_counts_last_n_days(60, as_of).set_index("customer_id")["events"]
        # Customers who signed up on or after as_of are not in the frame.
        eligible = frames["customers"][frames["customers"]["signup_date"] < as_of]["customer_id"]
        assert list(bulk.index) == sorted(eligible)
        for customer_id in ["C0004", "C0033", "C0059"]:
            assert bulk[customer_id] == reference_count(frames["usage_events"], customer_id, 60, as_of)


def test_context_manager_holds_one_connection(large):
    path, _ = large
    with DuckDBUsageRepository(path) as repository:
        held = repository._held
        repository.get_event_count_last_n_days("C0004", 30, dt.date(2024, 2, 1))
        repository.event_counts_last_n_days(30, dt.date(2024, 2, 1))
        assert repository._held is held
    assert repository._held is None


def test_daily_activity_aggregates_in_sql(large):
    path, frames = large
    activity = DuckDBUsageRepository(path).daily_activity()
    assert activity["events"].sum() == len(frames["usage_events"])
    expected = frames["usage_events"].assign(day=frames["usage_events"]["timestamp"].dt.date).groupby(["day", "event_type"]).size()
    got = activity.assign(day=pd.to_datetime(activity["day"]).dt.date).set_index(["day", "event_type"])["events"]
    assert got.sort_index().tolist() == expected.sort_index().tolist()
    customers = {}
    for event in frames["usage_events"].itertuples():
        customers.setdefault((event.timestamp.date(), event.event_type), set()).add(event.customer_id)
    active = activity.assign(day=pd.to_datetime(activity["day"]).dt.date).set_index(["day", "event_type"])
    assert active["active_customers"].to_dict() == {key: len(ids) for key, ids in customers.items()}
    assert active["active_customers"].max() > 1  # several customers share a day and type


def test_daily_activity_without_active_customers_leaves_only_that_column_out(large):
    path, _ = large
    repository = DuckDBUsageRepository(path)
    full = repository.daily_activity("2024-01-01", "2024-03-31")
    light = repository.daily_activity("2024-01-01", "2024-03-31", active_customers=False)
    assert list(light.columns) == ["day", "event_type", "events", "mean_adoption_score"]
    pd.testing.assert_frame_equal(light, full.drop(columns="active_customers"))
    assert len(light) > 0


# --- arguments are checked before any query runs ------------------------------


@pytest.mark.parametrize(("bad", "error"), [(None, TypeError), (42, TypeError), (b"C1", TypeError), (["C1"], TypeError),
                                            ("", ValueError), ("   ", ValueError)])
def test_customer_ids_must_be_non_empty_strings(small, bad, error):
    """None once matched every customer (the query's id filter is optional) and returned the first."""
    customers, usage = DuckDBCustomerRepository(small), DuckDBUsageRepository(small)
    calls = [
        lambda: customers.get_by_id(bad),
        lambda: usage.get_events_for_customer(bad),
        lambda: usage.get_event_count_last_n_days(bad, 30, DATA_END),
    ]
    for call in calls:
        with pytest.raises(error, match="customer_id must be a"):
            call()


BAD_DATES = [42, 20240101, 1.5, "yesterday", "2024-13-01", "", object(), pd.NaT]


def date_id(value) -> str:
    """A test id that is the same in every process (an object's default text holds its address)."""
    return "object" if type(value) is object else str(value)


@pytest.mark.parametrize("bad", BAD_DATES + [dt.datetime(2024, 3, 1, 12)], ids=date_id)
def test_bad_as_of_is_named_like_bad_days(small, bad):
    repository = DuckDBUsageRepository(small)
    with pytest.raises(ValueError, match="^as_of must be a date such as 2024-01-31"):
        repository.get_event_count_last_n_days("C1", 30, bad)
    with pytest.raises(ValueError, match="^as_of must be a date"):
        repository.event_counts_last_n_days(30, bad)


@pytest.mark.parametrize("bad", BAD_DATES, ids=date_id)
def test_bad_since_is_named(small, bad):
    with pytest.raises(ValueError, match="^since must be a date or timestamp"):
        DuckDBUsageRepository(small).get_events_for_customer("C1", since=bad)


@pytest.mark.parametrize("bad", BAD_DATES, ids=date_id)
@pytest.mark.parametrize("argument", ["start", "end"])
def test_bad_daily_activity_bounds_are_named(small, bad, argument):
    with pytest.raises(ValueError, match=f"^{argument} must be a date"):
        DuckDBUsageRepository(small).daily_activity(**{argument: bad})


def test_daily_activity_refuses_bounds_in_the_wrong_order(small):
    with pytest.raises(ValueError, match=r"start \(2024-03-02\) is after end \(2024-03-01\)"):
        DuckDBUsageRepository(small).daily_activity(dt.date(2024, 3, 2), dt.date(2024, 3, 1))


def test_dates_may_be_given_as_iso_text(small):
    repository = DuckDBUsageRepository(small)
    assert repository.get_event_count_last_n_days("C1", 30, "2024-01-12") == \
        repository.get_event_count_last_n_days("C1", 30, dt.date(2024, 1, 12)) == 1
    assert [e.event_id for e in repository.get_events_for_customer("C1", since="2024-01-11T09:00")] == ["E1"]
    assert repository.get_events_for_customer("C1", since="2024-01-11T09:00:01") == []
    activity = repository.daily_activity("2024-03-01", "2024-03-01")
    assert list(activity["event_type"]) == ["report_view"]


def test_an_aware_since_is_compared_in_utc(small):
    """Timestamps are stored in UTC: 14:30 at +05:30 is 09:00 UTC, the time of C1's event."""
    repository = DuckDBUsageRepository(small)
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert [e.event_id for e in repository.get_events_for_customer("C1", dt.datetime(2024, 1, 11, 14, 30, tzinfo=india))] == ["E1"]
    assert repository.get_events_for_customer("C1", dt.datetime(2024, 1, 11, 14, 31, tzinfo=india)) == []


# --- money stays exact ---------------------------------------------------------


def test_every_customer_path_returns_decimal_mrr(small):
    repository = DuckDBCustomerRepository(small)
    frame = repository.customers_frame()
    assert list(frame["mrr"]) == [Decimal("100.00"), Decimal("0.00")]
    assert all(type(value) is Decimal for value in frame["mrr"])
    entities = [repository.get_by_id("C1"), *repository.get_all_active(), *repository.get_sample(2)]
    assert all(type(customer.mrr.amount) is Decimal for customer in entities)


def test_an_amount_float_cannot_hold_survives_the_frame(small):
    """1234567890.11 has no exact float; Decimal keeps the cents as stored."""
    repository = DuckDBCustomerRepository(small)
    repository.save(Customer("C3", "EdTech", "growth", dt.date(2024, 7, 1), Decimal("1234567890.11"), None))
    frame = repository.customers_frame().set_index("customer_id")
    assert frame.loc["C3", "mrr"] == Decimal("1234567890.11")
    assert repository.get_by_id("C3").mrr.amount == Decimal("1234567890.11")



def test_a_scheduled_cancellation_is_active_until_its_end_date(tmp_path):
    """An export showing C03's scheduled end (2025-12-01, after the data end 2025-06-30) as its churn_date."""
    company = small_company()
    company.customers.loc[company.customers["customer_id"] == "C03", "churn_date"] = dt.date(2025, 12, 1)
    path = tmp_path / "w.duckdb"
    ingest(**company.write(tmp_path / "files"), warehouse_path=path)
    with warehouse.get_connection(path=path) as con:
        assert con.execute("select churn_date from raw.customers where customer_id = 'C03'").fetchone()[0] == \
            dt.date(2025, 12, 1)
        paying = {row[0] for row in con.execute(
            "select customer_id from raw.customers where churn_date is null or churn_date > $end",
            {"end": warehouse.data_end(con)},
        ).fetchall()}
    active = {customer.customer_id for customer in DuckDBCustomerRepository(path).get_all_active()}
    assert "C03" in active
    assert active == paying
