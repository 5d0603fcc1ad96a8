"""Point-in-time snapshots: no leakage from at or after as_of, labels and features by reference loops."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from conftest import customers_from_subscriptions
from helpers import dates, warehouse
from helpers.analytics import features
from helpers.domain import EventType
from sample_data import DATA_END, build_frames, random_frames

AS_OF = dt.date(2024, 3, 1)
AS_OF_TS = pd.Timestamp(AS_OF)
KEY_AND_FEATURES = ["customer_id", *features.FEATURES]


def snapshot_of(path, as_of=AS_OF, horizon_days=90) -> pd.DataFrame:
    with warehouse.get_connection(path=path) as con:
        return features.snapshot(con, as_of, horizon_days)


def rewrite_the_future(frames: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Add, change and delete rows dated at or after AS_OF, keeping the data valid."""
    rng = random.Random(seed)
    events = frames["usage_events"].copy()
    future = events["timestamp"] >= AS_OF_TS
    keep = ~future | pd.Series([rng.random() < 0.5 for _ in range(len(events))], index=events.index)
    events = events[keep].copy()
    changed = events["timestamp"] >= AS_OF_TS
    events.loc[changed, "event_type"] = EventType.FEATURE_LIMIT_HIT.value
    events.loc[changed, "feature_adoption_score"] = 0.01
    signups = frames["customers"].set_index("customer_id")["signup_date"]
    added = []
    for number, customer_id in enumerate(signups.index):
        start = max(AS_OF, signups[customer_id])
        added.append((f"X{number:04d}", customer_id, pd.Timestamp(start) + pd.Timedelta(hours=rng.randint(0, 2000)),
                      EventType.API_CALL.value, 0.99))
    added = pd.DataFrame(added, columns=events.columns)
    added = added[added["timestamp"] < pd.Timestamp(DATA_END)]
    events = pd.concat([events, added], ignore_index=True)

    subscriptions = frames["subscriptions"].copy().astype({"end_date": object})
    starts_in_future = subscriptions["start_date"] >= AS_OF
    subscriptions = subscriptions[~starts_in_future | (subscriptions.index % 2 == 0)].copy()
    for index, row in subscriptions.iterrows():
        if row["start_date"] < AS_OF and (row["end_date"] is None or pd.isna(row["end_date"]) or row["end_date"] >= AS_OF):
            # The future of an ongoing period: now it ends on as_of itself, later, or never.
            subscriptions.at[index, "end_date"] = rng.choice([AS_OF, AS_OF + dt.timedelta(days=rng.randint(1, 200)), None])
        elif row["start_date"] >= AS_OF:
            subscriptions.at[index, "mrr"] = row["mrr"] * 2
    subscriptions = subscriptions.reset_index(drop=True)

    tickets = frames["support_tickets"].copy().astype({"resolved_at": object})
    tickets = tickets[tickets["created_at"] < AS_OF_TS].copy()
    for index, row in tickets.iterrows():
        if row["resolved_at"] is None or pd.isna(row["resolved_at"]) or row["resolved_at"] >= AS_OF_TS:
            tickets.at[index, "resolved_at"] = rng.choice([None, AS_OF_TS, AS_OF_TS + pd.Timedelta(days=3)])

    # Current-state columns describe the data end: refresh them, keep signups.
    derived = customers_from_subscriptions(subscriptions, DATA_END).set_index("customer_id")
    customers = frames["customers"].copy()
    customers["mrr"] = customers["customer_id"].map(derived["mrr"]).fillna(0.0)
    customers["churn_date"] = customers["customer_id"].map(derived["churn_date"]).astype(object)
    customers["churn_date"] = customers["churn_date"].where(customers["churn_date"].notna(), None)
    customers["plan_tier"] = customers["customer_id"].map(derived["plan_tier"]).fillna(customers["plan_tier"])
    return {"customers": customers, "subscriptions": subscriptions, "usage_events": events, "support_tickets": tickets}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_changing_anything_at_or_after_as_of_changes_no_feature(tmp_path, seed):
    frames = random_frames(seed, n_customers=80)
    original = tmp_path / "original.duckdb"
    rewritten = tmp_path / "rewritten.duckdb"
    build_frames(original, frames)
    build_frames(rewritten, rewrite_the_future(frames, seed))
    before, after = snapshot_of(original), snapshot_of(rewritten)
    assert len(before) > 10
    pd.testing.assert_frame_equal(before[KEY_AND_FEATURES], after[KEY_AND_FEATURES])
    # The future did change: the labels tell it apart.
    assert not before["churned"].equals(after["churned"])


def test_changing_the_past_does_change_features(tmp_path):
    # The control: the comparison above can fail.
    frames = random_frames(4, n_customers=80)
    original = tmp_path / "original.duckdb"
    build_frames(original, frames)
    events = frames["usage_events"]
    frames["usage_events"] = events[~((events["timestamp"] < AS_OF_TS) & (events["timestamp"] >= AS_OF_TS - pd.Timedelta(days=20)))]
    changed = tmp_path / "changed.duckdb"
    build_frames(changed, frames)
    before, after = snapshot_of(original), snapshot_of(changed)
    assert not before["events_30d"].equals(after["events_30d"])


def reference_snapshot(frames: dict[str, pd.DataFrame], as_of: dt.date, horizon: int) -> pd.DataFrame:
    """Population, label and a few features by plain loops over the rows."""
    rows = []
    subscriptions = frames["subscriptions"]
    as_of_ts = pd.Timestamp(as_of)
    for customer in frames["customers"].itertuples():
        own = [s for s in subscriptions.itertuples() if s.customer_id == customer.customer_id]

        def paying_on(day, known_before=as_of):
            total = 0.0
            for s in own:
                end = s.end_date if (s.end_date is not None and not pd.isna(s.end_date) and s.end_date < known_before) else None
                if s.start_date <= day and (end is None or end > day):
                    total += s.mrr
            return total

        mrr_now = paying_on(as_of - dt.timedelta(days=1))
        if mrr_now <= 0 or not any(s.start_date < as_of for s in own):
            continue
        churned = 0
        for s in own:
            end = s.end_date
            if s.mrr > 0 and end is not None and not pd.isna(end) and as_of <= end < as_of + dt.timedelta(days=horizon):
                covered = any(o.mrr > 0 and o.start_date <= end and (o.end_date is None or pd.isna(o.end_date) or o.end_date > end) for o in own)
                churned = max(churned, 0 if covered else 1)
        events = [e for e in frames["usage_events"].itertuples() if e.customer_id == customer.customer_id and e.timestamp < as_of_ts]
        days_ago = [(as_of - e.timestamp.date()).days for e in events]
        tickets = [t for t in frames["support_tickets"].itertuples() if t.customer_id == customer.customer_id and t.created_at < as_of_ts]
        rows.append({
            "customer_id": customer.customer_id,
            "mrr_current": mrr_now,
            "events_30d": sum(1 for d in days_ago if d <= 30),
            "events_prev_30d": sum(1 for d in days_ago if 30 < d <= 60),
            "days_since_last_event": min(days_ago) if days_ago else (as_of - customer.signup_date).days,
            "tickets_90d": sum(1 for t in tickets if (as_of - t.created_at.date()).days <= 90),
            "open_tickets": sum(1 for t in tickets if t.resolved_at is None or pd.isna(t.resolved_at) or t.resolved_at >= as_of_ts),
            "tenure_days": (as_of - customer.signup_date).days,
            "churned": churned,
        })
    return pd.DataFrame(rows).sort_values("customer_id").reset_index(drop=True)


@pytest.mark.parametrize("as_of,horizon", [(dt.date(2023, 9, 1), 90), (AS_OF, 30), (dt.date(2024, 8, 1), 120)])
def test_population_label_and_features_match_a_reference_loop(tmp_path, as_of, horizon):
    frames = random_frames(7, n_customers=70)
    path = tmp_path / "w.duckdb"
    build_frames(path, frames)
    got = snapshot_of(path, as_of, horizon)
    expected = reference_snapshot(frames, as_of, horizon)
    assert list(got["customer_id"]) == list(expected["customer_id"])
    assert expected["churned"].sum() > 0
    for column in expected.columns[1:]:
        assert got[column].astype(float).tolist() == expected[column].astype(float).tolist(), column


def test_snapshot_has_every_declared_feature_and_one_row_per_customer(tmp_path):
    path = tmp_path / "w.duckdb"
    build_frames(path, random_frames(5))
    frame = snapshot_of(path)
    assert list(frame.columns) == ["customer_id", "as_of", *features.FEATURES, "churned"]
    assert frame["customer_id"].is_unique
    assert set(frame["churned"]) <= {0, 1}
    assert frame[list(features.NUMERIC_FEATURES)].notna().all().all()


@pytest.mark.parametrize("bad", [dict(as_of="last spring"), dict(as_of=dt.datetime(2024, 1, 1, 13)), dict(as_of=20240101),
                                 dict(horizon_days=0), dict(horizon_days=10.5), dict(horizon_days=10_000)])
def test_snapshot_rejects_bad_arguments(tmp_path, bad):
    path = tmp_path / "w.duckdb"
    build_frames(path, random_frames(5, n_customers=5))
    arguments = {"as_of": AS_OF, "horizon_days": 90} | bad
    with warehouse.get_connection(path=path) as con, pytest.raises(ValueError, match=next(iter(bad))):
        features.snapshot(con, **arguments)


def test_month_starts():
    assert dates.month_starts(dt.date(2024, 1, 15), dt.date(2024, 5, 1)) == [
        dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 4, 1), dt.date(2024, 5, 1)]
    assert dates.month_starts(dt.date(2023, 11, 1), dt.date(2024, 5, 1), step_months=3) == [
        dt.date(2023, 11, 1), dt.date(2024, 2, 1), dt.date(2024, 5, 1)]


def assert_same_rows(stacked: pd.DataFrame, singles: pd.DataFrame) -> None:
    """Same rows in the same order; integers exactly, averages up to floating-point summation order."""
    assert list(stacked.columns) == list(singles.columns)
    assert len(stacked) == len(singles) > 0
    for column in stacked.columns:
        got, want = stacked[column], singles[column]
        if pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-12, atol=1e-12, err_msg=column)
        else:
            assert got.tolist() == want.tolist(), column


def singles_of(con, as_of_dates, horizon_days):
    return pd.concat([features.snapshot(con, day, horizon_days) for day in sorted(as_of_dates)], ignore_index=True)


@pytest.mark.parametrize("seed", [3, 8])
def test_stacked_snapshots_equal_one_snapshot_per_date(tmp_path, seed):
    """Irregular dates: the first days of the data, mid-month, a day apart, a leap day, past the data end."""
    frames = random_frames(seed, n_customers=80)
    path = tmp_path / "w.duckdb"
    build_frames(path, frames)
    as_of_dates = [*dates.month_starts(dt.date(2023, 1, 1), dt.date(2025, 2, 1)),
                   dt.date(2023, 1, 2), dt.date(2023, 6, 17), dt.date(2023, 6, 18), dt.date(2024, 2, 29)]
    random.Random(seed).shuffle(as_of_dates)
    with warehouse.get_connection(path=path, read_only=True) as con:
        stacked = features.stacked_snapshots(con, as_of_dates, 60)
        singles = singles_of(con, as_of_dates, 60)
    assert stacked["as_of"].nunique() >= len(as_of_dates) - 2  # the first signups are on 2023-01-01
    assert singles["churned"].sum() > 0 and singles["days_since_last_event"].max() > 90
    assert_same_rows(stacked, singles)


@pytest.mark.parametrize("usage", [True, False], ids=["with usage", "billing only"])
def test_stacked_snapshots_equal_single_snapshots_on_a_simulated_company(tmp_path, usage):
    """Data from the independent simulator: annual plans, win-backs, scheduled cancellations, busy
    accounts; and an export without events or tickets."""
    from helpers.warehouse.ingest import ingest
    from simulators import simulate_company

    company = simulate_company(300, 30, "2023-01-01", seed=4, events=usage, tickets=usage)
    ingest(**company.write(tmp_path / "files"), warehouse_path=tmp_path / "w.duckdb", data_end=company.data_end)
    as_of_dates = dates.month_starts(dt.date(2023, 2, 1), company.data_end)
    with warehouse.get_connection(path=tmp_path / "w.duckdb", read_only=True) as con:
        stacked = features.stacked_snapshots(con, as_of_dates, 1)
        singles = singles_of(con, as_of_dates, 1)
    assert singles["is_annual"].sum() > 0 and singles["reactivated_before"].sum() > 0
    assert_same_rows(stacked, singles)


def test_stacked_snapshots_refuse_repeated_or_no_dates(tmp_path):
    path = tmp_path / "w.duckdb"
    build_frames(path, random_frames(5, n_customers=5))
    with warehouse.get_connection(path=path, read_only=True) as con:
        with pytest.raises(ValueError, match="repeats 2024-03-01"):
            features.stacked_snapshots(con, [AS_OF, dt.date(2024, 4, 1), AS_OF])
        with pytest.raises(ValueError, match="empty"):
            features.stacked_snapshots(con, [])
