"""Tests of the synthetic generator: every warehouse rule checked on the frames it writes.

Expected values are recomputed here with plain pandas (or the reference loop
in conftest), never read from the generator.
"""

from __future__ import annotations

import collections
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from helpers import warehouse

from helpers.warehouse import catalog, synthetic
from helpers.domain import TICKET_TOPICS, EventType, Industry, PlanTier, TicketPriority
from conftest import customers_from_subscriptions

SMALL = {"n_customers": 400, "seed": 7, "events_per_customer": 60.0}
SHORT_WINDOW = {"n_customers": 150, "seed": 3, "start": dt.date(2023, 3, 15), "end": dt.date(2024, 2, 10),
                "events_per_customer": 40.0}


def run(**kwargs) -> tuple[dict[str, pd.DataFrame], dict, collections.Counter]:
    """Generate into a collecting writer; returns frames per table, the info dict and write calls per table."""
    chunks: dict[str, list[pd.DataFrame]] = collections.defaultdict(list)
    info = synthetic.generate(lambda table, frame: chunks[table].append(frame), progress=False, **kwargs)
    frames = {table: pd.concat(parts, ignore_index=True) for table, parts in chunks.items()}
    return frames, info, collections.Counter({table: len(parts) for table, parts in chunks.items()})


@pytest.fixture(scope="module")
def small():
    return run(**SMALL)


@pytest.fixture(scope="module")
def short_window():
    return run(**SHORT_WINDOW)


def schema_columns() -> dict[str, list[str]]:
    """Column names of each raw table, in order, as DuckDB creates them from the schema."""
    with duckdb.connect() as con:
        con.execute(warehouse.schema_sql())
        rows = con.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'raw' order by table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[str]] = collections.defaultdict(list)
    for table, column in rows:
        columns[table].append(column)
    return dict(columns)


def test_tables_have_exactly_the_schema_columns(small):
    frames, _, _ = small
    expected = schema_columns()
    assert set(frames) == set(expected)
    for table, frame in frames.items():
        assert list(frame.columns) == expected[table], table


def test_same_seed_gives_identical_frames_and_another_seed_differs(small):
    frames, _, _ = small
    again, _, _ = run(**SMALL)
    for table in frames:
        pd.testing.assert_frame_equal(frames[table], again[table])
    other, _, _ = run(**{**SMALL, "seed": SMALL["seed"] + 1})
    assert not frames["subscriptions"].equals(other["subscriptions"])
    assert not frames["usage_events"].head(1000).equals(other["usage_events"].head(1000))


def test_return_value_counts_rows_and_tables_arrive_in_chunks(small):
    frames, info, writes = small
    assert info == {"data_start": synthetic.DEFAULT_START, "data_end": synthetic.DEFAULT_END, "seed": SMALL["seed"],
                    "n_customers": SMALL["n_customers"], "rows": {t: len(f) for t, f in frames.items()}}
    assert len(frames["customers"]) == SMALL["n_customers"]
    assert writes["usage_events"] > 12  # month by month, never all at once


@pytest.mark.parametrize("dataset", ["small", "short_window"])
def test_every_rule_holds(dataset, request):
    frames, info, _ = request.getfixturevalue(dataset)
    check_rules(frames, info["data_start"], info["data_end"])


def check_rules(frames: dict[str, pd.DataFrame], start: dt.date, end: dt.date) -> None:
    customers, subs = frames["customers"], frames["subscriptions"]
    events, tickets = frames["usage_events"], frames["support_tickets"]
    first_day, day_after_end = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)

    # Vocabularies come from helpers.domain.
    assert set(customers["industry"]) <= set(Industry.values())
    assert set(customers["plan_tier"]) <= set(PlanTier.values())
    assert set(subs["plan_tier"]) <= set(PlanTier.values())
    assert set(events["event_type"]) <= set(EventType.values())
    assert set(tickets["priority"]) <= set(TicketPriority.values())
    assert set(tickets["topic"]) <= set(TICKET_TOPICS)

    # Keys: unique, fixed width, right prefix; every reference resolves.
    for frame, key, prefix in ((customers, "customer_id", "C"), (subs, "subscription_id", "S"),
                               (events, "event_id", "E"), (tickets, "ticket_id", "T")):
        ids = frame[key]
        assert ids.is_unique, key
        assert ids.str.len().nunique() <= 1, key  # one width (an empty table has none)
        assert ids.str.match(rf"^{prefix}\d+$").all(), key
    for frame in (subs, events, tickets):
        assert frame["customer_id"].isin(customers["customer_id"]).all()
    assert customers["customer_id"].isin(subs["customer_id"]).all()  # every customer has a subscription

    # Subscriptions: ordered dates inside the window, money in cents, no overlaps.
    signup = subs["customer_id"].map(customers.set_index("customer_id")["signup_date"])
    assert (subs["start_date"] >= signup).all()
    assert (subs["start_date"] >= first_day).all()
    assert (subs["end_date"].isna() | (subs["end_date"] > subs["start_date"])).all()
    assert (subs["end_date"].isna() | (subs["end_date"] <= day_after_end)).all()
    for money in (subs["mrr"], customers["mrr"]):
        assert (money >= 0).all()
        assert np.allclose(money, money.round(2))
    ordered = subs.sort_values(["customer_id", "start_date"])
    following = ordered.groupby("customer_id")["start_date"].shift(-1)
    assert (following.isna() | (ordered["end_date"].notna() & (following >= ordered["end_date"]))).all()
    assert (subs.loc[subs["plan_tier"] == PlanTier.FREE.value, "mrr"] == 0).all()
    assert (subs.loc[subs["plan_tier"] != PlanTier.FREE.value, "mrr"] > 0).all()

    # Customers: state recomputed from the subscriptions by the reference loop.
    expected = customers_from_subscriptions(subs, pd.Timestamp(end)).set_index("customer_id")
    actual = customers.set_index("customer_id").loc[expected.index]
    assert (actual["plan_tier"] == expected["plan_tier"]).all()
    assert (actual["signup_date"] == expected["signup_date"]).all()
    assert np.allclose(actual["mrr"], expected["mrr"])
    churned = expected["churn_date"].notna()
    assert actual["churn_date"][~churned].isna().all()
    assert (actual["churn_date"][churned] == pd.to_datetime(expected["churn_date"][churned])).all()
    assert (actual["churn_date"].isna() | (actual["churn_date"] >= actual["signup_date"])).all()

    # Events and tickets: inside a subscription, never after the data end.
    assert_inside_subscriptions(events, "timestamp", subs)
    assert_inside_subscriptions(tickets, "created_at", subs)
    for moment in (events["timestamp"], tickets["created_at"]):
        assert ((moment >= first_day) & (moment < day_after_end)).all()
    assert events["feature_adoption_score"].between(0, 1).all()
    resolved = tickets["resolved_at"]
    assert (resolved.isna() | ((resolved >= tickets["created_at"]) & (resolved < day_after_end))).all()


def assert_inside_subscriptions(frame: pd.DataFrame, moment: str, subs: pd.DataFrame) -> None:
    """Every row falls in [start_date, end_date) of one of its customer's subscriptions."""
    matched = pd.merge_asof(
        frame[["customer_id", moment]].sort_values(moment),
        subs[["customer_id", "start_date", "end_date"]].sort_values("start_date"),
        left_on=moment, right_on="start_date", by="customer_id", direction="backward",
    )
    assert matched["start_date"].notna().all(), f"{moment} before any subscription"
    outside = matched["end_date"].notna() & (matched[moment] >= matched["end_date"])
    assert not outside.any(), matched[outside].head()


def test_event_volume_scales_with_events_per_customer(small):
    frames, _, _ = small
    per_customer = len(frames["usage_events"]) / SMALL["n_customers"]
    assert per_customer == pytest.approx(SMALL["events_per_customer"], rel=0.05)
    quadruple, _, _ = run(**{**SMALL, "events_per_customer": 4 * SMALL["events_per_customer"]})
    assert len(quadruple["usage_events"]) / len(frames["usage_events"]) == pytest.approx(4, rel=0.05)
    # Volume changes events only: the accounts' history is the same.
    pd.testing.assert_frame_equal(quadruple["subscriptions"], frames["subscriptions"])


def paid_churn_dates(subs: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, date) where a paid subscription ends and no subscription continues it."""
    continued = set(zip(subs["customer_id"], subs["start_date"]))
    ends = subs[subs["end_date"].notna() & (subs["mrr"] > 0)]
    return ends[[(c, d) not in continued for c, d in zip(ends["customer_id"], ends["end_date"])]]


def tickets_per_month(tickets: pd.DataFrame, windows: pd.DataFrame) -> float:
    """Mean tickets per customer-month over windows (customer_id, lo, hi)."""
    joined = tickets.merge(windows, on="customer_id")
    inside = joined[(joined["created_at"] >= joined["lo"]) & (joined["created_at"] < joined["hi"])]
    months = ((windows["hi"] - windows["lo"]).dt.days / 30.44).sum()
    return len(inside) / months


def test_tickets_rise_in_the_90_days_before_churn(small):
    frames, info, _ = small
    subs, tickets, customers = frames["subscriptions"], frames["support_tickets"], frames["customers"]
    signup = customers.set_index("customer_id")["signup_date"]
    churns = paid_churn_dates(subs)
    before_churn = pd.DataFrame({"customer_id": churns["customer_id"].to_numpy(),
                                 "lo": (churns["end_date"] - pd.Timedelta(days=90)).to_numpy(),
                                 "hi": churns["end_date"].to_numpy()})
    before_churn = before_churn[before_churn["lo"] >= before_churn["customer_id"].map(signup)]
    day_after_end = pd.Timestamp(info["data_end"]) + pd.Timedelta(days=1)
    retained = customers[customers["churn_date"].isna() & (customers["mrr"] > 0)
                         & (customers["signup_date"] <= day_after_end - pd.Timedelta(days=90))]
    last_90_days = pd.DataFrame({"customer_id": retained["customer_id"],
                                 "lo": day_after_end - pd.Timedelta(days=90), "hi": day_after_end})
    assert len(before_churn) > 30 and len(last_90_days) > 30
    assert tickets_per_month(tickets, before_churn) > 1.3 * tickets_per_month(tickets, last_90_days)


def test_history_has_reactivations_expansions_contractions_and_conversions(small):
    subs = small[0]["subscriptions"].sort_values(["customer_id", "start_date"])
    previous = subs.groupby("customer_id")[["end_date", "mrr", "plan_tier"]].shift(1)
    has_previous = previous["mrr"].notna()
    change = has_previous & (previous["end_date"] == subs["start_date"])
    reactivation = has_previous & (previous["end_date"] < subs["start_date"])
    was_free = previous["plan_tier"] == PlanTier.FREE.value
    assert reactivation.sum() > 0
    assert (change & ~was_free & (subs["mrr"] > previous["mrr"])).sum() > 0  # expansions
    assert (change & (subs["mrr"] < previous["mrr"])).sum() > 0  # contractions
    assert (change & was_free & (subs["mrr"] > 0)).sum() > 0  # free-to-paid conversions
    # Reactivations leave at least one month start without a subscription.
    gap_starts = pd.to_datetime(previous["end_date"][reactivation]) + pd.offsets.MonthBegin(0)
    assert (gap_starts < subs["start_date"][reactivation]).all()
    # Plan changes fall mostly, not only, on the 1st.
    on_first = (subs["start_date"][change | reactivation].dt.day == 1).mean()
    assert 0.5 < on_first < 1


def test_paid_monthly_logo_churn_is_plausible(small):
    subs = small[0]["subscriptions"]
    months = pd.date_range("2023-01-01", "2025-12-01", freq="MS")
    paying = [set(subs.loc[(subs["start_date"] <= m) & (subs["end_date"].isna() | (subs["end_date"] > m))
                           & (subs["mrr"] > 0), "customer_id"]) for m in months]
    churned = sum(len(before - after) for before, after in zip(paying, paying[1:]))
    exposed = sum(len(before) for before in paying[:-1])
    assert 0.01 < churned / exposed < 0.05


def test_progress_bar_goes_to_stderr_only_when_asked(capsys):
    synthetic.generate(lambda table, frame: None, n_customers=5, events_per_customer=5.0, progress=True)
    assert "synthetic" in capsys.readouterr().err
    synthetic.generate(lambda table, frame: None, n_customers=5, events_per_customer=5.0, progress=False)
    assert capsys.readouterr().err == ""


def test_one_customer_and_a_short_window_still_write_every_table():
    frames, info, _ = run(n_customers=1, start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 2),
                          events_per_customer=1.0)
    assert set(frames) == set(catalog.COLUMNS)
    assert info["rows"]["customers"] == 1
    check_rules(frames, info["data_start"], info["data_end"])


def test_a_generated_warehouse_passes_the_warehouse_data_tests(tmp_path):
    path = tmp_path / "synthetic.duckdb"
    warehouse.build_synthetic(path=path, n_customers=120, seed=11, events_per_customer=20.0, progress=False)
    assert warehouse.validate(path) == []


@pytest.mark.parametrize("argument, value", [
    ("n_customers", 0),
    ("n_customers", 2.5),
    ("n_customers", True),
    ("seed", -1),
    ("seed", "42"),
    ("start", "2022-01-01"),
    ("end", dt.datetime(2025, 12, 31)),
    ("start", dt.date(2026, 1, 1)),
    ("events_per_customer", 0),
    ("events_per_customer", float("nan")),
    ("events_per_customer", "many"),
    ("write", None),
])
def test_invalid_arguments_raise_value_error_naming_the_parameter(argument, value):
    kwargs = {"write": lambda table, frame: None, "n_customers": 5, "progress": False, argument: value}
    with pytest.raises(ValueError, match=argument):
        synthetic.generate(**kwargs)
