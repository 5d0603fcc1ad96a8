"""Ingest of real exports: the data end, vocabularies, dates, time zones, money and unreadable files.

Each refusal names the file, row, column and value (or what the path is) and
leaves the existing warehouse byte-identical: every check runs before the replace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from simulators import monthly_summary, small_company

from helpers import warehouse
from helpers.cli import main
from helpers.warehouse import WarehouseBuildError, raw_data
from helpers.warehouse.ingest import IngestError, ingest

CUSTOMERS = "customer_id,industry,plan_tier,signup_date\nC1,FinTech,starter,2024-01-10\nC2,Other,growth,2024-02-01\n"
SUBSCRIPTIONS = (
    "subscription_id,customer_id,plan_tier,start_date,end_date,mrr\n"
    "S1,C1,starter,2024-01-10,,100\nS2,C2,growth,2024-02-01,2024-06-01,300.50\n"
)
TICKETS = (
    "ticket_id,customer_id,created_at,priority,topic,resolved_at\n"
    "T1,C1,2024-02-01 08:00:00,high,billing,2024-02-02 08:00:00\n"
)
DATA_END = dt.date(2024, 12, 31)


def recorded_inputs(path: Path) -> dict:
    """What the build metadata of a warehouse records about its inputs."""
    with warehouse.get_connection(path=path, read_only=True) as con:
        return warehouse.read_metadata(con)["inputs"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "input"
    folder.mkdir()
    paths = {"customers": folder / "customers.csv", "subscriptions": folder / "subscriptions.csv",
             "tickets": folder / "tickets.csv"}
    for path, text in zip(paths.values(), (CUSTOMERS, SUBSCRIPTIONS, TICKETS)):
        path.write_text(text)
    return paths


@pytest.fixture
def existing(tmp_path, inputs) -> Path:
    path = tmp_path / "warehouse.duckdb"
    ingest(**inputs, warehouse_path=path, data_end=DATA_END)
    return path


def refused(existing: Path, inputs: dict[str, Path], *fragments: str, error=IngestError) -> str:
    before = digest(existing)
    with pytest.raises(error) as raised:
        ingest(**inputs, warehouse_path=existing, data_end=DATA_END)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    assert "ignore_errors" not in message and "Possible Solution" not in message
    assert digest(existing) == before, "a refused ingest must leave the warehouse byte-identical"
    return message


# --- the data end -----------------------------------------------------------------------------


def test_auto_data_end_is_the_latest_activity_not_a_scheduled_end_date(tmp_path):
    company = small_company()  # C03's annual plan ends 2025-12-01, after the export on 2025-06-30
    metadata = ingest(**company.write(tmp_path / "files"), warehouse_path=tmp_path / "w.duckdb")
    assert metadata["data_end"] == dt.date(2025, 6, 30)
    choice = recorded_inputs(tmp_path / "w.duckdb")["data_end"]
    assert choice["chosen"] == "auto" and choice["end_dates_after"] == 1 and choice["latest_end_date"] == "2025-12-01"
    note = metadata["notes"][0]
    assert "2025-06-30" in note and "1 subscription end date(s) lie after it" in note
    assert "--data-end" in note and "data.data_end" in note
    with warehouse.get_connection(path=tmp_path / "w.duckdb") as con:
        c03 = con.execute("select mrr, churn_date from raw.customers where customer_id = 'C03'").fetchone()
    # Paying until its end date: 8,990.40 a year is 749.20 a month, no churn yet.
    assert c03 == (Decimal("749.20"), None)


def test_an_export_showing_the_scheduled_end_as_churn_date_is_accepted(tmp_path):
    company = small_company()
    company.customers.loc[company.customers["customer_id"] == "C03", "churn_date"] = dt.date(2025, 12, 1)
    metadata = ingest(**company.write(tmp_path / "files"), warehouse_path=tmp_path / "w.duckdb")
    assert metadata["data_end"] == dt.date(2025, 6, 30)


def test_an_explicit_data_end_wins_and_errors_that_depend_on_it_name_it(tmp_path):
    paths = small_company().write(tmp_path / "files")
    with pytest.raises(WarehouseBuildError) as raised:
        ingest(**paths, warehouse_path=tmp_path / "w.duckdb", data_end=dt.date(2025, 6, 15))
    message = str(raised.value)
    assert "not_after_data_end_usage_events_timestamp" in message
    assert "Data end used: 2025-06-15 (given)" in message and "data.data_end" in message
    metadata = ingest(**paths, warehouse_path=tmp_path / "w.duckdb", data_end=dt.date(2025, 7, 31))
    assert metadata["data_end"] == dt.date(2025, 7, 31)
    assert recorded_inputs(tmp_path / "w.duckdb")["data_end"]["chosen"] == "given"


# --- vocabularies -------------------------------------------------------------------------------


def test_unmapped_values_are_listed_at_once_with_a_skeleton_that_works_once_filled(tmp_path):
    company = small_company(vocabulary="export")
    paths = company.write(tmp_path / "files")
    with pytest.raises(IngestError) as raised:
        ingest(**paths, warehouse_path=tmp_path / "w.duckdb")
    message = str(raised.value)
    expected_counts = company.subscriptions["plan_tier"].value_counts()
    assert f"'Enterprise Annual' in {expected_counts['Enterprise Annual']} row(s)" in message
    for value in ("'Healthcare'", "'login'", "'Urgent'", "plan_tier:", "industry:", "event_type:", "priority:"):
        assert value in message
    assert "' growth '" not in message  # matching ignores case and surrounding spaces
    # The skeleton, filled in from the test's own mapping, is a working vocabulary file.
    skeleton = message.split("fill in each value:\n", 1)[1]
    truth = yaml.safe_load(company.vocabulary_yaml)
    filled = {name: {key: truth[name][key] for key in entries}
              for name, entries in yaml.safe_load(skeleton).items()}
    (tmp_path / "vocabulary.yaml").write_text(yaml.safe_dump(filled))
    metadata = ingest(**paths, warehouse_path=tmp_path / "w.duckdb", vocabulary_file=tmp_path / "vocabulary.yaml")
    assert metadata["data_end"] == dt.date(2025, 6, 30)
    # Recorded, not silent: the rows whose spelling (spaces aside) was not the suite's.
    spelled = company.subscriptions.merge(company.history, on="subscription_id", suffixes=("", "_suite"))
    respelled = int((spelled["plan_tier"].str.strip() != spelled["plan_tier_suite"]).sum())
    assert recorded_inputs(tmp_path / "w.duckdb")["vocabulary"]["rewritten"]["subscriptions.plan_tier"] == respelled
    with warehouse.get_connection(path=tmp_path / "w.duckdb") as con:
        tiers = dict(con.execute("select plan_tier, count(*) from raw.subscriptions group by 1").fetchall())
    assert tiers == company.history["plan_tier"].value_counts().to_dict()


def test_a_vocabulary_mapping_onto_an_unknown_value_is_refused(tmp_path, inputs):
    (tmp_path / "vocabulary.yaml").write_text("plan_tier:\n  Pro: platinum\n")
    with pytest.raises(IngestError, match="'Pro' maps to 'platinum', which is not one of free, starter"):
        ingest(**inputs, warehouse_path=tmp_path / "w.duckdb", vocabulary_file=tmp_path / "vocabulary.yaml")


# --- dates, time zones and money ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["9999-01-01", "2263-01-01", "1600-03-01", "infinity", "0044-03-15 (BC)"])
def test_dates_outside_1900_to_2200_are_refused_before_the_replace(existing, inputs, value):
    inputs["customers"].write_text(CUSTOMERS.replace("2024-02-01", value))
    refused(existing, inputs, "customers.csv", "column signup_date", "row 2", repr(value), "outside 1900-01-01 to 2200-12-31")


def test_offsets_are_converted_to_utc_and_order_is_checked_in_real_time(tmp_path, existing, inputs):
    # Created 10:00 at +05:00 (05:00 UTC); resolved 06:00 UTC: after creation in real time.
    inputs["tickets"].write_text(TICKETS.replace("2024-02-01 08:00:00,high,billing,2024-02-02 08:00:00",
                                                 "2024-02-01 10:00:00+05:00,high,billing,2024-02-01 06:00:00"))
    path = tmp_path / "tz.duckdb"
    ingest(**inputs, warehouse_path=path, data_end=DATA_END)
    with warehouse.get_connection(path=path) as con:
        assert con.execute("select created_at from raw.support_tickets").fetchone()[0] == dt.datetime(2024, 2, 1, 5)
    # Resolved 09:00 at +05:00 (04:00 UTC): before its creation in real time, though later on the clock.
    inputs["tickets"].write_text(TICKETS.replace("2024-02-02 08:00:00", "2024-02-01 09:00:00+05:00"))
    refused(existing, inputs, "ordered_support_tickets_resolved_at", "row 1", error=WarehouseBuildError)


def test_time_zone_aware_parquet_gives_the_same_warehouse_whatever_the_machine_zone(tmp_path, inputs):
    tickets = tmp_path / "tickets.parquet"
    frame = pd.read_csv(inputs["tickets"], parse_dates=["created_at", "resolved_at"])
    for column in ("created_at", "resolved_at"):
        frame[column] = frame[column].dt.tz_localize("America/New_York")  # 08:00 EST = 13:00 UTC
    frame.to_parquet(tickets)
    script = (
        "import sys, datetime as dt; from helpers.warehouse.ingest import ingest; from helpers import warehouse\n"
        "m = ingest(sys.argv[1], sys.argv[2], tickets=sys.argv[3], warehouse_path=sys.argv[4], "
        "data_end=dt.date(2024, 12, 31))\n"
        "with warehouse.get_connection(path=sys.argv[4], read_only=True) as con:\n"
        "    print(m['content_hash'], con.execute('select created_at from raw.support_tickets').fetchone()[0])\n"
    )
    outputs = []
    for zone in ("UTC", "Asia/Kolkata"):
        result = subprocess.run(
            [sys.executable, "-c", script, str(inputs["customers"]), str(inputs["subscriptions"]), str(tickets),
             str(tmp_path / f"{zone.replace('/', '_')}.duckdb")],
            env={**os.environ, "TZ": zone}, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.strip())
    assert outputs[0] == outputs[1]
    assert outputs[0].endswith("2024-02-01 13:00:00")


@pytest.mark.parametrize("value, reason", [
    ("123.456", "more than two decimals"),
    ("0.005", "more than two decimals"),
    ("1e15", "beyond DECIMAL(12,2)"),
    ("12345678901.00", "beyond DECIMAL(12,2)"),
])
def test_money_is_never_rounded_silently(existing, inputs, value, reason):
    inputs["subscriptions"].write_text(SUBSCRIPTIONS.replace("300.50", value))
    refused(existing, inputs, "subscriptions.csv", "column mrr", "row 2", repr(value), reason)


def test_a_customer_mrr_off_by_a_fraction_of_a_cent_does_not_pass(existing, inputs):
    inputs["customers"].write_text("customer_id,industry,plan_tier,signup_date,mrr,churn_date\n"
                                   "C1,FinTech,starter,2024-01-10,100.004,\nC2,Other,growth,2024-02-01,0,2024-06-01\n")
    refused(existing, inputs, "customers.csv", "column mrr", "row 1", "'100.004'", "more than two decimals")


# --- files that cannot be read as they are -------------------------------------------------------------


def test_a_truncated_last_row_is_named(existing, inputs):
    inputs["subscriptions"].write_text(SUBSCRIPTIONS + "S3,C2,gro")
    refused(existing, inputs, "subscriptions.csv", "last row (row 3) is cut short", "3 of 6 fields")


def test_a_duplicated_column_is_named(existing, inputs):
    inputs["customers"].write_text(CUSTOMERS.replace("signup_date", "signup_date,plan_tier").replace(
        "2024-01-10", "2024-01-10,growth").replace("2024-02-01", "2024-02-01,starter"))
    refused(existing, inputs, "customers.csv", "'plan_tier' appear more than once")


def test_a_non_utf8_byte_is_located(existing, inputs):
    inputs["customers"].write_bytes(CUSTOMERS.replace("Other", "Caf\xe9").encode("latin-1"))
    refused(existing, inputs, "customers.csv", "row 2", "0xe9", "not UTF-8")


def test_a_five_megabyte_line_is_explained(existing, inputs):
    inputs["customers"].write_text(CUSTOMERS.replace("Other", "x" * 5_000_000))
    refused(existing, inputs, "customers.csv", "longer than 2 MB", "line breaks")


def test_a_row_with_an_extra_field_is_located(existing, inputs):
    inputs["subscriptions"].write_text(SUBSCRIPTIONS.replace("2024-01-10,,100", "2024-01-10,,100,extra"))
    refused(existing, inputs, "subscriptions.csv", "row 1 (line 2) has 7 field(s) where the header has 6")


def test_a_folder_a_fifo_and_a_dangling_link_say_what_they_are(tmp_path, existing, inputs):
    inputs["tickets"] = tmp_path / "a_folder.csv"
    inputs["tickets"].mkdir()
    refused(existing, inputs, "a_folder.csv", "is a folder")
    inputs["tickets"] = tmp_path / "a_pipe.csv"
    os.mkfifo(inputs["tickets"])
    refused(existing, inputs, "a_pipe.csv", "named pipe (FIFO)")
    inputs["tickets"] = tmp_path / "a_link.csv"
    inputs["tickets"].symlink_to(tmp_path / "gone.csv")
    refused(existing, inputs, "a_link.csv", "symbolic link", "does not exist")


def test_the_small_company_files_give_the_independent_monthly_figures(tmp_path):
    """The warehouse built from export files holds what the plain-loop summary computes."""
    company = small_company()
    path = tmp_path / "w.duckdb"
    ingest(**company.write(tmp_path / "files", fmt="parquet"), warehouse_path=path)
    months = pd.date_range("2024-12-01", "2025-07-01", freq="MS")
    expected = monthly_summary(company.subscriptions, months)
    with warehouse.get_connection(path=path) as con:
        total = con.execute(
            "select sum(mrr) from raw.subscriptions where start_date <= date '2025-07-01' "
            "and (end_date is null or end_date > date '2025-07-01')").fetchone()[0]
    assert total == Decimal(str(expected["mrr"].iloc[-1])).quantize(Decimal("0.01"))


# --- data: in params.yaml -------------------------------------------------------------------------


def write_params(folder: Path, data: dict) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump({"data": data}))
    return path


@pytest.mark.parametrize("data, fragments", [
    ({"source": "file"}, ["data.source is 'file'", "synthetic, files"]),
    ({"source": "files", "files": {"customers": "c.csv"}}, ["data.files needs subscriptions"]),
    ({"source": "files", "files": {"customers": "c.csv", "subscriptions": "s.csv", "usage": "u.csv"}},
     ["unknown key(s) usage", "events"]),
    ({"source": "files", "files": {"customers": "c.csv", "subscriptions": "s.csv"}, "data_end": "June"},
     ["data.data_end is 'June'", "2025-06-30"]),
])
def test_bad_data_parameters_name_the_key(tmp_path, data, fragments):
    with pytest.raises(IngestError) as raised:
        raw_data.read_data_source(write_params(tmp_path, data))
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_the_inputs_record_changes_exactly_when_a_file_does(tmp_path, inputs):
    params = write_params(tmp_path, {"source": "files", "files": {
        "customers": "input/customers.csv", "subscriptions": "input/subscriptions.csv", "events": None}})
    record = tmp_path / "inputs.json"
    first = raw_data.write_inputs(params, record)
    assert first["files"]["customers"]["sha256"] == digest(inputs["customers"]) and "events" not in first["files"]
    stamp = record.stat().st_mtime_ns
    raw_data.write_inputs(params, record)
    assert record.stat().st_mtime_ns == stamp  # unchanged inputs: DVC sees the same record
    inputs["customers"].write_text(CUSTOMERS + "C3,Other,free,2024-03-01\n")
    assert raw_data.write_inputs(params, record)["files"]["customers"]["sha256"] != first["files"]["customers"]["sha256"]


def test_the_generator_never_writes_over_a_warehouse_built_from_files(existing, capsys):
    before = digest(existing)
    assert main(["generate", "--customers", "20", "--warehouse", str(existing), "--no-progress"]) == 2
    assert "built from your files" in capsys.readouterr().err
    assert digest(existing) == before
