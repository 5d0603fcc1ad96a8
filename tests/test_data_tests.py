"""Every declared data test fails on a fixture built to break exactly its rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import pandas as pd
import pytest

from helpers import warehouse
from helpers.warehouse import data_tests
from helpers.warehouse.catalog import CATALOG
from helpers.warehouse.data_tests import DATA_TESTS
from helpers.warehouse import WarehouseBuildError
from sample_data import build_frames, valid_frames

def set_value(table: str, column: str, value, row: int = 0) -> Callable[[dict], None]:
    def mutate(frames: dict[str, pd.DataFrame]) -> None:
        frame = frames[table].astype({column: object})
        frame.at[row, column] = value
        frames[table] = frame
    return mutate


def duplicate_first_row(table: str) -> Callable[[dict], None]:
    def mutate(frames: dict[str, pd.DataFrame]) -> None:
        frames[table] = pd.concat([frames[table], frames[table].iloc[[0]]], ignore_index=True)
    return mutate


d = dt.date
ts = dt.datetime

# test name -> how to break it. Other rules may fail as well (a null key is
# also an orphan); each case asserts its own rule is among the problems.
BREAKERS: dict[str, Callable[[dict], None]] = {
    "unique_customers_customer_id": duplicate_first_row("customers"),
    "unique_subscriptions_subscription_id": duplicate_first_row("subscriptions"),
    "unique_usage_events_event_id": duplicate_first_row("usage_events"),
    "unique_support_tickets_ticket_id": duplicate_first_row("support_tickets"),
    "accepted_values_customers_industry": set_value("customers", "industry", "Fintech"),
    "accepted_values_customers_plan_tier": set_value("customers", "plan_tier", "platinum"),
    "accepted_values_subscriptions_plan_tier": set_value("subscriptions", "plan_tier", "Starter"),
    "accepted_values_subscriptions_billing_interval": lambda frames: (
        frames["subscriptions"].insert(len(frames["subscriptions"].columns), "billing_interval", "month"),
        set_value("subscriptions", "billing_interval", "annual")(frames),
    ),
    "accepted_values_usage_events_event_type": set_value("usage_events", "event_type", "api_calls"),
    "accepted_values_support_tickets_priority": set_value("support_tickets", "priority", "urgent"),
    "range_customers_mrr": set_value("customers", "mrr", -1.0),
    "range_subscriptions_mrr": set_value("subscriptions", "mrr", -100.0),
    "range_usage_events_feature_adoption_score": set_value("usage_events", "feature_adoption_score", 1.2),
    "relationship_subscriptions_customer_id": set_value("subscriptions", "customer_id", "C9"),
    "relationship_usage_events_customer_id": set_value("usage_events", "customer_id", "C9"),
    "relationship_support_tickets_customer_id": set_value("support_tickets", "customer_id", "C9"),
    "ordered_customers_churn_date": set_value("customers", "churn_date", d(2024, 1, 1), row=1),
    "ordered_subscriptions_end_date": set_value("subscriptions", "end_date", d(2024, 2, 1), row=1),
    "ordered_support_tickets_resolved_at": set_value("support_tickets", "resolved_at", ts(2024, 1, 31)),
    "not_before_signup_subscriptions_start_date": set_value("subscriptions", "start_date", d(2024, 1, 9)),
    "not_before_signup_usage_events_timestamp": set_value("usage_events", "timestamp", ts(2024, 1, 9, 23)),
    "not_before_signup_support_tickets_created_at": set_value("support_tickets", "created_at", ts(2023, 12, 1)),
    "not_after_data_end_usage_events_timestamp": set_value("usage_events", "timestamp", ts(2025, 1, 1, 0)),
    "not_after_data_end_support_tickets_created_at": set_value("support_tickets", "created_at", ts(2025, 3, 1)),
    "consistent_customers_churn_date": set_value("customers", "churn_date", d(2024, 6, 1), row=0),
    "consistent_customers_mrr": set_value("customers", "mrr", 150.0, row=0),
}
NOT_NULL_COLUMNS = {
    "customers": ["customer_id", "industry", "plan_tier", "signup_date", "mrr"],
    "subscriptions": ["subscription_id", "customer_id", "plan_tier", "start_date", "mrr"],
    "usage_events": ["event_id", "customer_id", "timestamp", "event_type", "feature_adoption_score"],
    "support_tickets": ["ticket_id", "customer_id", "created_at", "priority", "topic"],
}
for _table, _columns in NOT_NULL_COLUMNS.items():
    for _column in _columns:
        BREAKERS[f"not_null_{_table}_{_column}"] = set_value(_table, _column, None, row=1)


def test_every_declared_rule_has_a_breaking_fixture():
    assert set(BREAKERS) == {test.name for test in DATA_TESTS}


def test_valid_fixture_passes_every_rule(tmp_path):
    path = tmp_path / "valid.duckdb"
    build_frames(path, valid_frames())
    assert warehouse.validate(path) == []


@pytest.mark.parametrize("test_name", sorted(BREAKERS))
def test_broken_fixture_is_refused_with_its_rule_named(tmp_path, test_name):
    frames = valid_frames()
    BREAKERS[test_name](frames)
    path = tmp_path / "broken.duckdb"
    with pytest.raises(WarehouseBuildError) as raised:
        build_frames(path, frames)
    failing = {problem.test.name: problem for problem in raised.value.problems}
    assert test_name in failing, f"{test_name} not reported; got {sorted(failing)}"
    problem = failing[test_name]
    assert problem.count >= 1
    assert problem.examples, "a problem must show example rows"
    assert test_name in str(raised.value)
    assert not path.exists(), "a refused build must not leave a warehouse behind"
    assert list(tmp_path.iterdir()) == [], "a refused build must not leave temporary files"


def test_validate_reports_count_and_example_keys_on_a_finished_warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    build_frames(path, valid_frames())
    # Rules DuckDB cannot enforce on write: consistency with subscriptions
    # and dates relative to another table.
    with duckdb.connect(str(path)) as con:
        con.execute("update raw.customers set mrr = 999 where customer_id in ('C1', 'C2')")
        con.execute("update raw.usage_events set \"timestamp\" = '2023-01-01' where event_id = 'E2'")
    problems = {problem.test.name: problem for problem in warehouse.validate(path)}
    assert set(problems) == {"consistent_customers_mrr", "not_before_signup_usage_events_timestamp"}
    mrr_problem = problems["consistent_customers_mrr"]
    assert mrr_problem.count == 2
    assert [example.key for example in mrr_problem.examples] == ["C1", "C2"]
    assert "subscriptions say 100.00" in mrr_problem.examples[0].value
    assert problems["not_before_signup_usage_events_timestamp"].examples[0].key == "E2"


def test_a_primary_key_answers_its_unique_and_not_null_tests(tmp_path):
    """On a finished warehouse DuckDB refuses a duplicate or missing key, so those tests are not scanned;
    the same tests on a table without the key (a build's staging tables) still find the rows."""
    path = tmp_path / "w.duckdb"
    build_frames(path, valid_frames())
    with duckdb.connect(str(path)) as con:
        assert data_tests._enforced_keys(con, "raw") == {(entry.name, entry.key) for entry in CATALOG}
        for entry in CATALOG:
            with pytest.raises(duckdb.ConstraintException):
                con.execute(f"insert into raw.{entry.name} select * from raw.{entry.name} limit 1")
            with pytest.raises(duckdb.ConstraintException):
                con.execute(f"update raw.{entry.name} set {entry.key} = null")
        con.execute("create schema copied")
        con.execute("create table copied.usage_events as select * from raw.usage_events "
                    "union all (select * from raw.usage_events limit 1)")
        assert data_tests._enforced_keys(con, "copied") == set()
        unique = [test for test in DATA_TESTS if test.name == "unique_usage_events_event_id"]
        problems = data_tests.run_data_tests(con, "copied", tests=tuple(unique))
    assert [(problem.test.name, problem.count) for problem in problems] == [("unique_usage_events_event_id", 2)]
