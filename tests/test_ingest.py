"""Ingesting the user's CSV/Parquet files: happy paths and every kind of bad input.

Each bad input must raise an error naming the file, row, column and value,
exit non-zero from the CLI, and leave the existing warehouse byte-identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from helpers import warehouse
from helpers.cli import main
from helpers.warehouse.ingest import IngestError, ingest
from helpers.warehouse import WarehouseBuildError

CUSTOMERS_CSV = """customer_id,industry,plan_tier,signup_date
C1,FinTech,starter,2024-01-10
C2,HR Tech,growth,2024-02-01
C3,Other,enterprise,2024-03-15
"""
SUBSCRIPTIONS_CSV = """subscription_id,customer_id,plan_tier,start_date,end_date,mrr
S1,C1,starter,2024-01-10,,100
S2,C2,growth,2024-02-01,2024-06-01,300.50
S3,C3,enterprise,2024-03-15,2024-09-01,2000
S4,C3,enterprise,2024-09-01,,2500
"""
EVENTS_CSV = """event_id,customer_id,timestamp,event_type,feature_adoption_score
E1,C1,2024-01-11 09:00:00,api_call,0.5
E2,C2,2024-03-01 17:30:00,report_view,0.2
E3,C3,2024-10-02 08:00:00,monitoring_run,0.9
"""
TICKETS_CSV = """ticket_id,customer_id,created_at,priority,topic,resolved_at
T1,C1,2024-02-01 08:00:00,high,billing,2024-02-02 08:00:00
T2,C2,2024-05-01 12:00:00,low,bug,
"""
DATA_END = dt.date(2024, 12, 31)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "input"
    folder.mkdir()
    return {
        "customers": write(folder, "customers.csv", CUSTOMERS_CSV),
        "subscriptions": write(folder, "subscriptions.csv", SUBSCRIPTIONS_CSV),
        "events": write(folder, "events.csv", EVENTS_CSV),
        "tickets": write(folder, "tickets.csv", TICKETS_CSV),
    }


@pytest.fixture
def existing(tmp_path, files) -> Path:
    """A warehouse already ingested, which every failed ingest must leave untouched."""
    path = tmp_path / "warehouse.duckdb"
    ingest(**files, warehouse_path=path, data_end=DATA_END)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ingest_builds_a_valid_warehouse_and_derives_customer_state(existing):
    assert warehouse.validate(existing) == []
    with warehouse.get_connection(path=existing) as con:
        rows = con.execute("select customer_id, mrr, churn_date from raw.customers order by 1").fetchall()
        metadata = warehouse.read_metadata(con)
    # Derived from the subscriptions as of 2024-12-31: C1 and C3 active, C2 ended 2024-06-01.
    assert rows == [
        ("C1", Decimal("100.00"), None),
        ("C2", Decimal("0.00"), dt.date(2024, 6, 1)),
        ("C3", Decimal("2500.00"), None),
    ]
    assert metadata["source"] == "ingested"
    assert metadata["row_counts"] == {"customers": 3, "subscriptions": 4, "usage_events": 3, "support_tickets": 2}
    assert metadata["inputs"]["derived"] == ["mrr", "churn_date"]


def test_data_end_defaults_to_the_latest_date_in_the_files(tmp_path, files):
    path = tmp_path / "w.duckdb"
    ingest(files["customers"], files["subscriptions"], warehouse_path=path)
    with warehouse.get_connection(path=path) as con:
        # Latest date: S3's end_date 2024-09-01 (events and tickets not given).
        assert warehouse.data_end(con) == dt.date(2024, 9, 1)


def test_parquet_inputs_are_read_like_csv(tmp_path, files):
    customers = tmp_path / "customers.parquet"
    pd.read_csv(files["customers"]).to_parquet(customers)
    subscriptions = tmp_path / "subscriptions.parquet"
    frame = pd.read_csv(files["subscriptions"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame.to_parquet(subscriptions)
    path = tmp_path / "w.duckdb"
    ingest(customers, subscriptions, warehouse_path=path, data_end=DATA_END)
    with warehouse.get_connection(path=path) as con:
        assert con.execute("select sum(mrr) from raw.subscriptions").fetchone()[0] == Decimal("4900.50")


def test_given_customer_state_is_checked_against_subscriptions(tmp_path, files):
    customers = write(
        tmp_path, "customers_with_state.csv",
        "customer_id,industry,plan_tier,signup_date,mrr,churn_date\n"
        "C1,FinTech,starter,2024-01-10,100,\n"
        "C2,HR Tech,growth,2024-02-01,0,2024-06-01\n"
        "C3,Other,enterprise,2024-03-15,2000,\n",  # C3 pays 2500 at the data end
    )
    with pytest.raises(WarehouseBuildError) as raised:
        ingest(customers, files["subscriptions"], warehouse_path=tmp_path / "w.duckdb", data_end=DATA_END)
    message = str(raised.value)
    assert "consistent_customers_mrr" in message
    assert "customers_with_state.csv" in message and "row 3" in message and "subscriptions say 2500.00" in message


def replace_line(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def assert_refused(existing: Path, files: dict[str, Path], error_type, *fragments: str) -> str:
    before = digest(existing)
    with pytest.raises(error_type) as raised:
        ingest(**files, warehouse_path=existing, data_end=DATA_END)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    assert digest(existing) == before, "a refused ingest must leave the warehouse byte-identical"
    assert sorted(p.name for p in existing.parent.iterdir()) == ["input", "warehouse.duckdb"]
    return message


def test_missing_column(existing, files):
    files["events"].write_text(EVENTS_CSV.replace(",event_type", ",kind"))
    assert_refused(existing, files, IngestError, "events.csv", "missing column(s) event_type", "found: event_id")


def test_wrong_type(existing, files):
    replace_line(files["subscriptions"], "S2,C2,growth,2024-02-01,2024-06-01,300.50", "S2,C2,growth,2024-02-01,2024-06-01,lots")
    assert_refused(existing, files, IngestError, "subscriptions.csv", "column mrr", "row 2", "'lots'", "DECIMAL(12,2)")


def test_wrong_date(existing, files):
    replace_line(files["customers"], "C3,Other,enterprise,2024-03-15", "C3,Other,enterprise,15/03/2024")
    assert_refused(existing, files, IngestError, "customers.csv", "column signup_date", "row 3", "'15/03/2024'")


def test_unknown_vocabulary_value(existing, files):
    replace_line(files["events"], "api_call", "api_calls")
    assert_refused(
        existing, files, IngestError,
        "events.csv", "column event_type", "first row 1", "'api_calls'", "one of evidence_upload",
    )


def test_duplicate_key(existing, files):
    files["tickets"].write_text(TICKETS_CSV + "T1,C2,2024-05-02 12:00:00,low,bug,\n")
    assert_refused(existing, files, WarehouseBuildError, "tickets.csv", "unique_support_tickets_ticket_id", "row 1", "row 3")


def test_orphan_event(existing, files):
    files["events"].write_text(EVENTS_CSV + "E4,C404,2024-05-02 12:00:00,api_call,0.1\n")
    assert_refused(existing, files, WarehouseBuildError, "events.csv", "relationship_usage_events_customer_id", "row 4", "'C404'")


def test_negative_mrr(existing, files):
    replace_line(files["subscriptions"], "S1,C1,starter,2024-01-10,,100", "S1,C1,starter,2024-01-10,,-100")
    assert_refused(existing, files, WarehouseBuildError, "subscriptions.csv", "range_subscriptions_mrr", "row 1", "'-100.0'")


def test_score_outside_unit_interval(existing, files):
    replace_line(files["events"], "monitoring_run,0.9", "monitoring_run,1.7")
    assert_refused(existing, files, WarehouseBuildError, "events.csv", "feature_adoption_score", "row 3", "'1.7'", "[0, 1]")


def test_dates_out_of_order(existing, files):
    replace_line(files["subscriptions"], "S2,C2,growth,2024-02-01,2024-06-01", "S2,C2,growth,2024-06-01,2024-02-01")
    assert_refused(existing, files, WarehouseBuildError, "subscriptions.csv", "ordered_subscriptions_end_date", "row 2", "end_date > start_date")


def test_event_before_signup(existing, files):
    replace_line(files["events"], "E1,C1,2024-01-11 09:00:00", "E1,C1,2023-01-11 09:00:00")
    assert_refused(existing, files, WarehouseBuildError, "events.csv", "not_before_signup_usage_events_timestamp", "row 1")


def test_empty_file(existing, files):
    files["tickets"].write_text("")
    assert_refused(existing, files, IngestError, "tickets.csv", "empty")


def test_header_only_file(existing, files):
    files["tickets"].write_text(TICKETS_CSV.splitlines()[0] + "\n")
    assert_refused(existing, files, IngestError, "tickets.csv", "no data rows")


def test_file_not_found(existing, files):
    files["events"] = files["events"].with_name("no_such_events.csv")
    assert_refused(existing, files, IngestError, "no_such_events.csv", "not found", "--events")


def test_unsupported_file_type(existing, files):
    files["customers"] = write(files["customers"].parent, "customers.xlsx", "not really excel")
    assert_refused(existing, files, IngestError, "customers.xlsx", "unsupported file type")


def test_several_bad_columns_are_reported_together(existing, files):
    replace_line(files["events"], "0.5", "half")
    replace_line(files["tickets"], "2024-05-01 12:00:00", "May 1st")
    message = assert_refused(existing, files, IngestError, "2 column(s)")
    assert "events.csv, column feature_adoption_score" in message
    assert "tickets.csv, column created_at" in message


def test_cli_ingest_exits_non_zero_and_explains(existing, files, capsys):
    replace_line(files["customers"], "C2,HR Tech,growth", "C2,Robotics,growth")
    before = digest(existing)
    code = main([
        "ingest", "--customers", str(files["customers"]), "--subscriptions", str(files["subscriptions"]),
        "--warehouse", str(existing), "--data-end", "2024-12-31",
    ])
    assert code == 2
    err = capsys.readouterr().err
    assert "customers.csv" in err and "'Robotics'" in err and "row 2" in err
    assert digest(existing) == before


def test_cli_ingest_in_a_separate_process(tmp_path, files):
    path = tmp_path / "cli.duckdb"
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "ingest", "--customers", str(files["customers"]),
         "--subscriptions", str(files["subscriptions"]), "--events", str(files["events"]),
         "--tickets", str(files["tickets"]), "--warehouse", str(path), "--data-end", "2024-12-31"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ingested" in result.stdout
    assert warehouse.validate(path) == []
