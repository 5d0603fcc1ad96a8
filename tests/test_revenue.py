"""Tests of helpers.analytics.revenue: MRR by customer month, MRR movements and retention metrics.

Expected numbers are worked out by hand in the comments, or (for the dbt MRR
playbook data) by a plain Python loop over the subscription periods that
shares no code with the SQL under test.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
from collections import defaultdict
from decimal import Decimal

import duckdb
import pandas as pd
import pytest
from conftest import EXTERNAL_DIR, subscription_frame

from helpers import warehouse

from helpers.analytics import revenue
from helpers.warehouse.ingest import ingest

DBT_PERIODS = EXTERNAL_DIR / "dbt-mrr-playbook-subscription-periods.csv"

MONEY_COLUMNS = ["starting_mrr", "new", "reactivation", "expansion", "contraction", "churn", "ending_mrr"]

# The hand case. Months are snapshots on the 1st; end_date is exclusive.
HAND_ROWS = [
    # A never churns: 100 from January on.
    ("a1", "A", "starter", "2024-01-01", None, 100),
    # B starts mid-January, so it counts from February 1st; it ends on March
    # 1st (exclusive), so March does not count: active in February only.
    ("b1", "B", "starter", "2024-01-15", "2024-03-01", 50),
    # C: two overlapping subscriptions are summed (100 + 30 = 130 in February
    # and March); cancelling one of them in April is a contraction, not churn.
    ("c1", "C", "growth", "2024-01-01", None, 100),
    ("c2", "C", "growth", "2024-02-01", "2024-04-01", 30),
    # D: several changes within March (200 ends on the 10th, 120 and 10 start
    # on the 10th and 5th, 40 starts and ends within the month). Only the
    # snapshots count: March 1st = 200, April 1st = 120 + 10 = 130.
    ("d1", "D", "growth", "2024-01-01", "2024-03-10", 200),
    ("d2", "D", "growth", "2024-03-10", None, 120),
    ("d3", "D", "growth", "2024-03-20", "2024-03-25", 40),
    ("d4", "D", "growth", "2024-03-05", None, 10),
    # E signs up and cancels within February: never on a 1st, never counted.
    ("e1", "E", "starter", "2024-02-03", "2024-02-20", 75),
    # F returns after one inactive month (February).
    ("f1", "F", "starter", "2024-01-01", "2024-02-01", 60),
    ("f2", "F", "starter", "2024-03-01", "2024-04-01", 60),
    # G returns after three inactive months (February to April), at 90.
    ("g1", "G", "starter", "2024-01-01", "2024-02-01", 80),
    ("g2", "G", "starter", "2024-05-01", None, 90),
    # H holds the last end of the data (June 15th): active April to June,
    # churned in July, after the data end.
    ("h1", "H", "starter", "2024-04-01", "2024-06-15", 25),
]
HAND_DATA_END = dt.date(2024, 6, 30)

# Per customer and month (Jan..Jul 2024), from the comments above:
#   A 100 100 100 100 100 100 100
#   B   .  50   .   .   .   .   .
#   C 100 130 130 100 100 100 100
#   D 200 200 200 130 130 130 130
#   F  60   .  60   .   .   .   .
#   G  80   .   .   .  90  90  90
#   H   .   .   .  25  25  25   .
HAND_MOVEMENTS = pd.DataFrame(
    [
        # month, starting, new, reactivation, expansion, contraction, churn, ending
        # Jan: new A100 + C100 + D200 + F60 + G80 = 540.
        ("2024-01-01", 0, 540, 0, 0, 0, 0, 540),
        # Feb: new B 50; expansion C +30; churn F -60, G -80 = -140;
        # 540 + 50 + 30 - 140 = 480.
        ("2024-02-01", 540, 50, 0, 30, 0, -140, 480),
        # Mar: reactivation F 60; churn B -50; 480 + 60 - 50 = 490.
        ("2024-03-01", 480, 0, 60, 0, 0, -50, 490),
        # Apr: new H 25; contraction C -30, D -70 = -100; churn F -60;
        # 490 + 25 - 100 - 60 = 355.
        ("2024-04-01", 490, 25, 0, 0, -100, -60, 355),
        # May: reactivation G 90; 355 + 90 = 445.
        ("2024-05-01", 355, 0, 90, 0, 0, 0, 445),
        # Jun: nothing moves.
        ("2024-06-01", 445, 0, 0, 0, 0, 0, 445),
        # Jul: churn H -25; 445 - 25 = 420.
        ("2024-07-01", 445, 0, 0, 0, 0, -25, 420),
    ],
    columns=["month", *MONEY_COLUMNS],
)
HAND_COUNTS = pd.DataFrame(
    [
        # month, starting, active, new, reactivated, expanded, contracted, churned
        ("2024-01-01", 0, 5, 5, 0, 0, 0, 0),  # A C D F G
        ("2024-02-01", 5, 4, 1, 0, 1, 0, 2),  # +B, C up, -F -G
        ("2024-03-01", 4, 4, 0, 1, 0, 0, 1),  # +F back, -B
        ("2024-04-01", 4, 4, 1, 0, 0, 2, 1),  # +H, C and D down, -F
        ("2024-05-01", 4, 5, 0, 1, 0, 0, 0),  # +G back
        ("2024-06-01", 5, 5, 0, 0, 0, 0, 0),
        ("2024-07-01", 5, 4, 0, 0, 0, 0, 1),  # -H
    ],
    columns=[
        "month", "starting_customers", "active_customers", "new_customers", "reactivated_customers",
        "expanded_customers", "contracted_customers", "churned_customers",
    ],
)


@pytest.fixture
def hand_con(make_warehouse):
    path = make_warehouse(subscription_frame(HAND_ROWS), data_end=HAND_DATA_END)
    with warehouse.get_connection(path=path) as con:
        yield con


def _movements_of(con, customer_id: str) -> list[tuple[str, str, Decimal]]:
    frame = revenue.customer_movements(con)
    rows = frame[frame["customer_id"] == customer_id]
    return [(f"{row.month:%Y-%m}", row.movement, row.amount) for row in rows.itertuples()]


def _changes_of(con, customer_id: str) -> list[tuple[str, str, Decimal]]:
    return [movement for movement in _movements_of(con, customer_id) if movement[1] != "unchanged"]


def assert_roll_forward(movements: pd.DataFrame) -> None:
    """ending = starting + the five movements, exactly, in Decimal, every month; signs and chaining hold."""
    assert len(movements) > 0
    for row in movements.itertuples():
        values = [getattr(row, column) for column in MONEY_COLUMNS]
        assert all(isinstance(value, Decimal) for value in values), f"{row.month}: money is not Decimal"
        total = row.starting_mrr + row.new + row.reactivation + row.expansion + row.contraction + row.churn
        assert total == row.ending_mrr, f"{row.month:%Y-%m}: {total} != {row.ending_mrr}"
        assert row.new >= 0 and row.reactivation >= 0 and row.expansion >= 0
        assert row.contraction <= 0 and row.churn <= 0
        customers = row.starting_customers + row.new_customers + row.reactivated_customers - row.churned_customers
        assert customers == row.active_customers, f"{row.month:%Y-%m}: customer roll-forward"
    # Each month starts where the previous one ended.
    assert list(movements["starting_mrr"].iloc[1:]) == list(movements["ending_mrr"].iloc[:-1])


def test_mrr_by_customer_month_applies_the_monthly_snapshot(hand_con):
    frame = revenue.mrr_by_customer_month(hand_con)
    mrr = {(row.customer_id, f"{row.month:%Y-%m}"): row.mrr for row in frame.itertuples()}

    # B: mid-month start counts from the next 1st; end_date 2024-03-01 is exclusive.
    assert [month for customer, month in mrr if customer == "B"] == ["2024-02"]
    # C: overlapping subscriptions are summed, 100 + 30.
    assert mrr[("C", "2024-02")] == Decimal("130.00")
    # D: several changes in March; only the April 1st snapshot counts (120 + 10).
    assert mrr[("D", "2024-03")] == Decimal("200.00")
    assert mrr[("D", "2024-04")] == Decimal("130.00")
    # E started and ended within February: never active.
    assert not any(customer == "E" for customer, _ in mrr)
    # Only active months have rows, and money stays exact.
    assert all(isinstance(value, Decimal) and value > 0 for value in mrr.values())

    april = revenue.mrr_by_customer_month(hand_con, start="2024-04-20", end="2024-04-21")
    assert list(april["customer_id"]) == ["A", "C", "D", "H"]


def test_mrr_movements_match_the_hand_computation(hand_con):
    movements = revenue.mrr_movements(hand_con)

    # Default range: first subscription month to the month after the last end
    # (July, after the data end of June 30th), so H's churn is counted.
    expected = HAND_MOVEMENTS.assign(month=pd.to_datetime(HAND_MOVEMENTS["month"]))
    for column in MONEY_COLUMNS:
        expected[column] = [Decimal(value).quantize(Decimal("0.01")) for value in expected[column]]
    pd.testing.assert_frame_equal(movements[["month", *MONEY_COLUMNS]], expected)

    counts = HAND_COUNTS.assign(month=pd.to_datetime(HAND_COUNTS["month"]))
    pd.testing.assert_frame_equal(movements[counts.columns], counts, check_dtype=False)

    # Roll-forward identity, exact in Decimal, every month.
    assert_roll_forward(movements)


def test_customer_movements_cover_every_edge(hand_con):
    # A never churns: new once, then unchanged through July, the last month.
    a_movements = _movements_of(hand_con, "A")
    assert a_movements[0] == ("2024-01", "new", Decimal("100.00"))
    assert [(month, movement) for month, movement, _ in a_movements[1:]] == [
        (f"2024-{month:02d}", "unchanged") for month in range(2, 8)
    ]

    # C: +30 when the second subscription starts; -30 when it is cancelled
    # while the first runs on (contraction, not churn).
    assert _changes_of(hand_con, "C") == [
        ("2024-01", "new", Decimal("100.00")),
        ("2024-02", "expansion", Decimal("30.00")),
        ("2024-04", "contraction", Decimal("-30.00")),
    ]
    # D: four events within March net to one April movement, 130 - 200 = -70.
    assert _changes_of(hand_con, "D") == [
        ("2024-01", "new", Decimal("200.00")),
        ("2024-04", "contraction", Decimal("-70.00")),
    ]

    # F: inactive for one month (February), back in March, gone in April.
    assert _movements_of(hand_con, "F") == [
        ("2024-01", "new", Decimal("60.00")),
        ("2024-02", "churn", Decimal("-60.00")),
        ("2024-03", "reactivation", Decimal("60.00")),
        ("2024-04", "churn", Decimal("-60.00")),
    ]
    # G: inactive for three months (February to April), back in May at 90; new only once.
    assert _changes_of(hand_con, "G") == [
        ("2024-01", "new", Decimal("80.00")),
        ("2024-02", "churn", Decimal("-80.00")),
        ("2024-05", "reactivation", Decimal("90.00")),
    ]

    # H's last subscription ends 2024-06-15, after the June 1st snapshot: the
    # churn belongs to July, a month after the data end.
    assert _movements_of(hand_con, "H")[-1] == ("2024-07", "churn", Decimal("-25.00"))

    # E started and ended within February: no movement at all.
    assert _movements_of(hand_con, "E") == []


def test_start_and_end_select_months_without_reclassifying(hand_con):
    full = revenue.mrr_movements(hand_con)
    # Any day of a month selects the month.
    part = revenue.mrr_movements(hand_con, start=dt.date(2024, 3, 15), end="2024-04-02")
    assert list(part["month"]) == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")]
    # March still starts from February's 480 and F is still a reactivation.
    pd.testing.assert_frame_equal(part.reset_index(drop=True), full.iloc[2:4].reset_index(drop=True))
    # A range outside the history is empty, not an error.
    assert revenue.mrr_movements(hand_con, start="2030-01-01").empty
    # A result the caller left half-read on the connection does not get in the way.
    assert warehouse.data_end(hand_con) == HAND_DATA_END
    hand_con.execute("select 1 union all select 2").fetchone()
    assert len(revenue.mrr_movements(hand_con)) == len(full)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-05-01", "2024-04-01", "start .* is after end"),
        ("2024-05-20", "2024-05-10", "start .* is after end"),
        ("not a date", None, "start must be a date"),
        (20240101, None, "start must be a date"),
        (None, "2024-13-01", "end must be a date"),
    ],
)
def test_invalid_start_or_end_is_rejected(start, end, message):
    con = duckdb.connect()  # validation happens before any query
    for function in (revenue.mrr_movements, revenue.retention_metrics, revenue.mrr_by_customer_month):
        with pytest.raises(ValueError, match=message):
            function(con, start=start, end=end)


def test_retention_metrics_match_the_hand_computation(hand_con):
    metrics = revenue.retention_metrics(hand_con).set_index("month")
    february, april, june = (metrics.loc[pd.Timestamp(f"2024-{m}-01")] for m in ("02", "04", "06"))

    # February: 2 of the 5 January customers churned.
    assert february.logo_churn_rate == pytest.approx(2 / 5)
    # GRR = (540 + 0 - 140) / 540; NRR = (540 + 30 + 0 - 140) / 540.
    assert february.grr == pytest.approx(400 / 540)
    assert february.nrr == pytest.approx(430 / 540)
    # Quick ratio = (50 + 0 + 30) / -(0 - 140).
    assert february.quick_ratio == pytest.approx(80 / 140)
    # ARPA = 480 / 4 customers.
    assert february.arpa == Decimal("120.00")

    # April: 1 of 4 churned; GRR = NRR = (490 - 100 - 60) / 490; quick = 25 / 160.
    assert april.logo_churn_rate == pytest.approx(1 / 4)
    assert april.grr == pytest.approx(330 / 490)
    assert april.nrr == pytest.approx(330 / 490)
    assert april.quick_ratio == pytest.approx(25 / 160)
    assert april.arpa == Decimal("88.75")  # 355 / 4

    # June: nothing lost, so the quick ratio is undefined (0 / 0), not an error.
    assert june.grr == 1.0 and june.nrr == 1.0 and june.logo_churn_rate == 0.0
    assert math.isnan(june.quick_ratio)
    # January starts from nothing: every ratio over the previous month is undefined.
    january = metrics.iloc[0]
    assert all(math.isnan(january[column]) for column in ("logo_churn_rate", "grr", "nrr", "quick_ratio"))
    assert january.arpa == Decimal("108.00")  # 540 / 5
    # Seven months of history: no month has one 12 months before it.
    assert metrics["grr_ttm"].isna().all() and metrics["nrr_ttm"].isna().all()


def test_trailing_twelve_month_retention(make_warehouse):
    rows = [
        # P: 100 from Jan 2023, +50 from Jul 2023 -> 150 in Jan 2024.
        ("p1", "P", "growth", "2023-01-01", None, 100),
        ("p2", "P", "growth", "2023-07-01", None, 50),
        # Q: 200 until Jun 2023, back at 120 from Oct 2023 -> 120 in Jan 2024.
        ("q1", "Q", "growth", "2023-01-01", "2023-06-01", 200),
        ("q2", "Q", "growth", "2023-10-01", None, 120),
        # R: 300 through Dec 2023 -> 0 in Jan 2024.
        ("r1", "R", "growth", "2023-01-01", "2024-01-01", 300),
        # S: joins in Jun 2023, not active in Jan 2023, so outside the TTM base.
        ("s1", "S", "growth", "2023-06-01", None, 500),
    ]
    path = make_warehouse(subscription_frame(rows), data_end=dt.date(2024, 1, 31))
    with warehouse.get_connection(path=path) as con:
        metrics = revenue.retention_metrics(con).set_index("month")

    january = metrics.loc[pd.Timestamp("2024-01-01")]
    # Base = customers active Jan 2023: P 100, Q 200, R 300 = 600.
    # GRR TTM caps each at its base MRR: min(150, 100) + min(120, 200) + min(0, 300) = 220.
    assert january.grr_ttm == pytest.approx(220 / 600)
    # NRR TTM: 150 + 120 + 0 = 270 (Q's reactivated MRR counts as retained).
    assert january.nrr_ttm == pytest.approx(270 / 600)
    # Monthly: Dec 2023 = 150 + 120 + 300 + 500 = 1070; R churns 300.
    assert january.grr == pytest.approx(770 / 1070)
    # The history is Jan 2023 to the state on 1 Feb 2024 (data through 31 January); only Jan and
    # Feb 2024 have a month 12 months before them.
    assert len(metrics) == 14
    assert metrics["grr_ttm"].iloc[:-2].isna().all()


# --- the dbt MRR playbook's subscription periods, through the ingest path -------------------


def _month_on_or_after(day: dt.date) -> dt.date:
    first = day.replace(day=1)
    return first if day.day == 1 else _add_month(first)


def _add_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def reference_movements(periods: pd.DataFrame, data_end: dt.date) -> pd.DataFrame:
    """Monthly movements by a plain loop over customers and months (independent of the SQL)."""
    starts = [day.replace(day=1) for day in periods["start_date"]]
    # The last snapshot the data sees is on the first day of a month on or before the day after the data end.
    last_seen = (data_end + dt.timedelta(days=1)).replace(day=1)
    ends = [
        min(_month_on_or_after(day), last_seen) if day is not None else last_seen for day in periods["end_date"]
    ]
    months = [min(starts)]
    while months[-1] < max(ends):
        months.append(_add_month(months[-1]))

    totals: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[dt.date, str], int] = defaultdict(int)
    ending: dict[dt.date, Decimal] = defaultdict(Decimal)
    for _, group in periods.groupby("customer_id"):
        seen_active = False
        previous = Decimal(0)
        for month in months:
            current = sum(
                (
                    Decimal(str(row.monthly_amount))
                    for row in group.itertuples()
                    if row.start_date <= month and (row.end_date is None or month < row.end_date)
                ),
                Decimal(0),
            )
            if current > 0 and previous == 0:
                kind = "reactivation" if seen_active else "new"
            elif current == 0 and previous > 0:
                kind = "churn"
            elif current > previous > 0:
                kind = "expansion"
            elif 0 < current < previous:
                kind = "contraction"
            else:
                kind = None
            if kind:
                totals[(month, kind)] += current - previous
                counts[(month, kind)] += 1
            ending[month] += current
            seen_active = seen_active or current > 0
            previous = current

    rows = []
    for month in months:
        row = {"month": pd.Timestamp(month), "ending_mrr": ending[month]}
        for kind, count_column in zip(revenue.MOVEMENTS, ["new", "reactivated", "expanded", "contracted", "churned"]):
            row[kind] = totals[(month, kind)]
            row[f"{count_column}_customers"] = counts[(month, kind)]
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def dbt_periods() -> pd.DataFrame:
    if not DBT_PERIODS.is_file():
        pytest.skip(f"external data not available: {DBT_PERIODS}")
    periods = pd.read_csv(DBT_PERIODS, dtype={"subscription_id": str, "customer_id": str})
    for column in ("start_date", "end_date"):
        dates = pd.to_datetime(periods[column]).dt.date
        periods[column] = dates.where(dates.notna(), None)
    return periods


@pytest.fixture
def dbt_con(dbt_periods, tmp_path):
    customers = (
        dbt_periods.groupby("customer_id", as_index=False)["start_date"].min()
        .rename(columns={"start_date": "signup_date"})
        .assign(industry="Other", plan_tier="starter")
    )
    subscriptions = dbt_periods.rename(columns={"monthly_amount": "mrr"}).assign(plan_tier="starter")
    customers_csv, subscriptions_csv = tmp_path / "customers.csv", tmp_path / "subscriptions.csv"
    # mrr and churn_date are left out of the customers file: ingest derives them.
    customers[["customer_id", "industry", "plan_tier", "signup_date"]].to_csv(customers_csv, index=False)
    subscriptions[["subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr"]].to_csv(
        subscriptions_csv, index=False
    )
    path = tmp_path / "dbt.duckdb"
    # The playbook's periods run through January 2020 (last end date 2020-02-01, exclusive); with
    # subscriptions only, `auto` would stop at the last start (2020-01-01), so the data end is given.
    ingest(customers_csv, subscriptions_csv, warehouse_path=path, data_end=dt.date(2020, 1, 31))
    with warehouse.get_connection(path=path) as con:
        yield con


def test_dbt_playbook_movements_match_a_reference_loop_and_roll_forward(dbt_con, dbt_periods):
    movements = revenue.mrr_movements(dbt_con)
    expected = reference_movements(dbt_periods, warehouse.data_end(dbt_con))

    assert list(movements["month"]) == list(expected["month"])
    # Whole-history count and amount of every movement.
    count_columns = ["new_customers", "reactivated_customers", "expanded_customers",
                     "contracted_customers", "churned_customers"]
    for kind in revenue.MOVEMENTS:
        assert sum(movements[kind]) == sum(expected[kind]), kind
    for column in count_columns:
        assert movements[column].sum() == expected[column].sum(), column
    # The data has every kind of movement, so the comparison is not vacuous.
    assert all(expected[column].sum() > 0 for column in count_columns)
    # Total MRR in several months, and month by month for good measure.
    by_month = movements.set_index("month")["ending_mrr"]
    reference = expected.set_index("month")["ending_mrr"]
    for month in ("2018-01-01", "2018-12-01", "2019-06-01", "2020-01-01", "2020-02-01"):
        assert by_month[pd.Timestamp(month)] == reference[pd.Timestamp(month)], month
    pd.testing.assert_frame_equal(
        movements[["month", *revenue.MOVEMENTS, "ending_mrr", *count_columns]],
        expected[["month", *revenue.MOVEMENTS, "ending_mrr", *count_columns]],
        check_dtype=False,
    )
    assert_roll_forward(movements)


@pytest.mark.skipif(
    importlib.util.find_spec("helpers.warehouse.synthetic") is None,
    reason="helpers.warehouse.synthetic (the synthetic data generator) is not written yet",
)
def test_roll_forward_identity_on_synthetic_data(tmp_path):
    path = tmp_path / "synthetic.duckdb"
    # Few usage events: only the subscriptions matter here, and the build stays fast.
    warehouse.build_synthetic(path, n_customers=500, seed=11, events_per_customer=5, progress=False)
    with warehouse.get_connection(path=path) as con:
        movements = revenue.mrr_movements(con)
        metrics = revenue.retention_metrics(con)
    assert_roll_forward(movements)
    assert len(metrics) == len(movements)
    # Ratios stay within their ranges where defined.
    assert ((metrics["logo_churn_rate"].dropna() >= 0) & (metrics["logo_churn_rate"].dropna() <= 1)).all()
    assert (metrics["grr"].dropna() <= 1 + 1e-12).all()


def test_paying_by_age_counts_each_paying_customer_at_its_months_since_the_cohort(small_synthetic_warehouse):
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        got = revenue.paying_by_age(con, start="2024-06-01", end="2024-09-30", segment="current_plan")
        rows = revenue.customer_movements(con, start="2024-06-01", end="2024-09-30", segment="current_plan")
    # The same from the per-customer rows, by a plain loop.
    expected = defaultdict(lambda: [Decimal(0), 0])
    for row in rows.itertuples():
        if row.mrr > 0:
            month, cohort = row.month, row.cohort_month
            age = (month.year - cohort.year) * 12 + month.month - cohort.month
            expected[(row.segment, month, age)][0] += row.mrr
            expected[(row.segment, month, age)][1] += 1
    assert list(got.columns) == ["segment", "month", "age", "mrr", "customers"]
    assert {(r.segment, r.month, r.age): [r.mrr, r.customers] for r in got.itertuples()} == dict(expected)
    assert got["month"].nunique() == 4 and got["segment"].nunique() > 1
