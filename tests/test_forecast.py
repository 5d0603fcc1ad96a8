"""Tests of the sBG projection, the MRR forecast and its backtest, and LTV, against known answers.

The known answers come from a company simulated here: monthly cohorts whose
customers each cancel with their own probability θ ~ Beta(α, β) (the sBG
process itself) and pay a constant MRR, so survival, expected MRR and
lifetime are closed-form in the true α and β, computed here with scipy.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import special

from helpers import warehouse
from helpers.analytics import forecast, ltv, projection, revenue
from helpers.dates import add_months

ALPHA, BETA = 2.0, 12.0
PER_MONTH, MRR = 120, 100
START, MONTHS = dt.date(2023, 1, 1), 36
AS_OF = dt.date(2025, 1, 1)  # 24 months observed, 12 realized afterwards


def true_survival(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.exp(special.betaln(ALPHA, BETA + t) - special.betaln(ALPHA, BETA))


def simulate_subscriptions(seed: int = 3) -> pd.DataFrame:
    """One subscription per customer from its cohort month to its churn month (exclusive); None while paying."""
    rng = np.random.default_rng(seed)
    data_end_month = add_months(START, MONTHS)
    rows = []
    for c in range(MONTHS):
        start = add_months(START, c)
        churn = rng.beta(ALPHA, BETA, PER_MONTH)
        lifetimes = rng.geometric(churn)  # months paid, >= 1
        for i, months in enumerate(lifetimes):
            end = add_months(start, int(months))
            rows.append((f"s{c}-{i}", f"c{c:02d}-{i:03d}", "starter", start, end if end < data_end_month else None, MRR))
    return pd.DataFrame(rows, columns=["subscription_id", "customer_id", "plan_tier", "start_date", "end_date", "mrr"])


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    subscriptions = simulate_subscriptions()
    folder = tmp_path_factory.mktemp("sbg-company")
    customers = (subscriptions.groupby("customer_id", as_index=False)
                 .agg(signup_date=("start_date", "min"), churn_date=("end_date", "max"))
                 .assign(industry="Other", plan_tier="starter", mrr=0.0))
    paying = subscriptions["end_date"].isna()
    customers.loc[customers["customer_id"].isin(subscriptions.loc[paying, "customer_id"]), "mrr"] = float(MRR)
    customers.loc[customers["mrr"] > 0, "churn_date"] = None
    from helpers.warehouse import BuildSpec, write_staging

    def load(con):
        write_staging(con, "customers", customers[["customer_id", "industry", "plan_tier", "signup_date", "mrr",
                                                   "churn_date"]])
        write_staging(con, "subscriptions", subscriptions)
        return BuildSpec(source="test", data_end=dt.date(2025, 12, 31))

    path = folder / "warehouse.duckdb"
    warehouse.build(load, path)
    with warehouse.get_connection(path=path) as con:
        yield con, subscriptions


def alive_by_loop(subscriptions: pd.DataFrame, cohort: dt.date, age: int) -> int:
    month = add_months(cohort, age)
    members = subscriptions[subscriptions["start_date"] == cohort]
    return int(sum(end is None or end > month for end in members["end_date"]))


def test_cohort_alive_counts_match_a_loop(simulated):
    con, subscriptions = simulated
    alive = projection.cohort_alive(con, AS_OF)
    for cohort, age in [(dt.date(2023, 1, 1), 0), (dt.date(2023, 1, 1), 23), (dt.date(2024, 6, 1), 5)]:
        row = alive[(alive["cohort"] == pd.Timestamp(cohort)) & (alive["age"] == age)]
        assert int(row["alive"].iloc[0]) == alive_by_loop(subscriptions, cohort, age)
    assert alive["age"].max() == 23  # December 2024 is the last month known on AS_OF


def test_pooled_fit_recovers_the_true_survival(simulated):
    con, _ = simulated
    fit = projection.fit_pooled(projection.cohort_alive(con, AS_OF))["all"]
    ages = np.arange(1, 37)
    # 36 months: a year beyond the oldest cohort's 23 observed months.
    np.testing.assert_allclose(fit.survival(ages), true_survival(ages), atol=0.03)


def test_projection_band_covers_the_true_curve_of_the_oldest_cohort(simulated):
    con, _ = simulated
    projected = projection.project_retention(con, AS_OF, horizon=12, level=0.9)
    oldest = projected[(projected["cohort"] == pd.Timestamp(START)) & (projected["age"] > 23)]
    assert len(oldest) == 12 and (oldest["model"] == "cohort").all()
    truth = true_survival(oldest["age"])
    assert ((oldest["lower"] <= truth) & (truth <= oldest["upper"])).all()
    # No expansion in this company: revenue retention is projected like logo retention.
    np.testing.assert_allclose(oldest["projected_revenue"], oldest["projected"] / oldest["projected"].iloc[0]
                               * oldest["projected_revenue"].iloc[0], rtol=1e-9)


def test_forecast_matches_the_known_expected_mrr_and_covers_the_realized(simulated):
    con, subscriptions = simulated
    result = forecast.forecast_mrr(con, AS_OF, horizon=12, survival_by="", level=0.9)
    last = add_months(AS_OF, -1)
    expected = []
    for h in range(1, 13):
        existing = sum(
            alive_by_loop(subscriptions, add_months(START, c), (MONTHS - 13) - c)
            * true_survival((MONTHS - 13) - c + h) / true_survival((MONTHS - 13) - c)
            for c in range(MONTHS - 12)
        )
        new = PER_MONTH * true_survival(np.arange(h)).sum()
        expected.append(MRR * (existing + new))
    np.testing.assert_allclose(result["forecast"], expected, rtol=0.04)
    assert result["month"].iloc[0] == pd.Timestamp(add_months(last, 1))
    realized = forecast.backtest_forecast(con, [AS_OF], realized_before="2026-01-01", survival_by="")
    assert len(realized) == 12
    assert realized["covered"].iloc[-1]
    # The realized MRR of month 12 by a loop over the subscriptions.
    month = add_months(last, 12)
    paying = subscriptions[(subscriptions["start_date"] <= month)
                           & subscriptions["end_date"].map(lambda end: end is None or end > month)]
    assert realized["realized"].iloc[-1] == pytest.approx(MRR * len(paying))


def test_forecast_on_the_default_like_data_covers_the_realized_mrr_a_year_on(small_synthetic_warehouse):
    # The fixture's data end 2025-12-31: the forecast made on 2025-01-01 for December 2025.
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        backtest = forecast.backtest_forecast(con, ["2025-01-01"], realized_before="2026-01-01", horizon=12)
    last = backtest[backtest["horizon"] == 12].iloc[0]
    assert last["month"] == pd.Timestamp("2025-12-01")
    assert last["lower"] <= last["realized"] <= last["upper"]
    errors = forecast.backtest_errors(backtest)
    assert errors["horizon"].tolist() == list(range(1, 13))


def test_the_backtest_reads_once_and_forecasts_as_each_date_would_have(small_synthetic_warehouse):
    """One read for all origins, sliced per origin: equal to forecast_mrr run on each date by itself."""
    origins = ["2022-01-01", "2023-03-01", "2024-07-01", "2025-01-01"]  # the first has no history: skipped
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        backtest = forecast.backtest_forecast(con, origins, realized_before="2026-01-01", horizon=6, draws=300)
        expected = []
        for origin in origins:
            try:
                one = forecast.forecast_mrr(con, origin, horizon=6, draws=300)
            except ValueError:
                continue
            expected.append(one.assign(as_of=pd.Timestamp(origin)))
    expected = pd.concat(expected, ignore_index=True)
    assert sorted(backtest["as_of"].unique()) == [pd.Timestamp(day) for day in origins[1:]]
    merged = backtest.merge(expected, on=["as_of", "month"], suffixes=("", "_alone"))
    assert len(merged) == len(backtest) == 3 * 6
    for column in ("forecast", "lower", "upper"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_alone"], rtol=1e-12, err_msg=column)


def test_the_backtest_on_the_simulated_company_forecasts_as_each_date_would_have(simulated):
    """The same equality on the sBG simulator's company (known survival), not the default generator's data."""
    con, subscriptions = simulated
    origins = [add_months(AS_OF, -months) for months in (9, 6, 3, 0)]
    backtest = forecast.backtest_forecast(con, origins, realized_before="2026-01-01", survival_by="", draws=300)
    assert sorted(backtest["as_of"].unique()) == [pd.Timestamp(day) for day in origins]
    for origin in origins:
        alone = forecast.forecast_mrr(con, origin, survival_by="", draws=300)
        made = backtest[backtest["as_of"] == pd.Timestamp(origin)].set_index("month")
        for column in ("forecast", "lower", "upper"):
            np.testing.assert_allclose(made[column], alone.set_index("month").loc[made.index, column], rtol=1e-12)
    # Realized MRR is what the simulator's subscriptions billed (a loop over them), month by month.
    for month, realized in backtest.groupby("month")["realized"].first().items():
        day = month.date()
        paying = subscriptions[(subscriptions["start_date"] <= day)
                               & subscriptions["end_date"].map(lambda end, day=day: end is None or end > day)]
        assert realized == pytest.approx(MRR * len(paying))


def test_backtest_errors_by_hand():
    frame = pd.DataFrame({"horizon": [1, 1, 2], "error": [10.0, -30.0, 5.0], "relative_error": [0.1, -0.3, 0.05],
                          "covered": [True, False, True]})
    errors = forecast.backtest_errors(frame)
    assert errors["mean_error"].tolist() == [-10.0, 5.0]
    assert errors["mean_absolute_error"].tolist() == [20.0, 5.0]
    assert errors["mean_absolute_percentage_error"].tolist() == pytest.approx([0.2, 0.05])
    assert errors["coverage"].tolist() == [0.5, 1.0]


def test_forecast_refuses_bad_arguments(simulated):
    con, _ = simulated
    with pytest.raises(ValueError, match="scenario must be a multiplier >= 0"):
        forecast.forecast_mrr(con, AS_OF, scenario=-1)
    with pytest.raises(ValueError, match="horizon must be an int between 1 and 36"):
        forecast.forecast_mrr(con, AS_OF, horizon=0)
    with pytest.raises(ValueError, match="segment must be one of"):
        forecast.forecast_mrr(con, AS_OF, segment="plan; drop")
    with pytest.raises(ValueError, match="level must be in"):
        forecast.backtest_forecast(con, [AS_OF], "2026-01-01", level=1.5)
    with pytest.raises(ValueError, match="unsegmented"):
        forecast.backtest_forecast(con, [AS_OF], "2026-01-01", segment="plan_tier")
    with pytest.raises(TypeError, match="levels"):
        forecast.backtest_forecast(con, [AS_OF], "2026-01-01", levels=0.8)


def test_vendor_and_sbg_ltv_against_the_truth(simulated):
    con, subscriptions = simulated
    vendor = ltv.vendor_ltv(con, AS_OF).iloc[0]
    last = add_months(AS_OF, -1)
    rates = []
    for k in range(6, 0, -1):  # the six months before December 2024, by a loop
        month, before = add_months(last, -k), add_months(last, -k - 1)
        active_before = subscriptions[(subscriptions["start_date"] <= before)
                                      & subscriptions["end_date"].map(lambda e: e is None or e > before)]
        churned = active_before["end_date"].map(lambda e: e is not None and e <= month).sum()
        rates.append(churned / len(active_before))
    assert vendor["churn_rate_6m"] == pytest.approx(np.mean(rates))
    assert vendor["arpa"] == MRR and vendor["ltv"] == pytest.approx(MRR / np.mean(rates))
    table = ltv.sbg_ltv(con, AS_OF, annual_discount=0.1)
    pooled = table[table["cohort"].isna()].iloc[0]
    d = 1.1 ** (1 / 12) - 1
    t = np.arange(0, 5000)
    true_discounted = float((true_survival(t) / (1 + d) ** t).sum())
    assert pooled["discounted_lifetime"] == pytest.approx(true_discounted, rel=0.08)
    assert pooled["expected_lifetime"] == pytest.approx((ALPHA + BETA - 1) / (ALPHA - 1), rel=0.15)
    assert pooled["discounted_ltv"] == pytest.approx(MRR * pooled["discounted_lifetime"])


def test_customer_ltv_sums_a_constant_hazard_curve():
    q, d = 0.95, 1.1 ** (1 / 12) - 1
    scores = pd.DataFrame({"customer_id": ["a"], "mrr": [200.0], "survival_3m": [q**3], "survival_6m": [q**6],
                           "survival_12m": [q**12]})
    value = ltv.customer_ltv(scores, annual_discount=0.1).iloc[0]
    expected = sum((q / (1 + d)) ** t for t in range(121))
    assert value["discounted_lifetime"] == pytest.approx(expected)
    assert value["ltv"] == pytest.approx(200 * expected)
    with pytest.raises(ValueError, match="lack survival_3m, survival_6m, survival_12m"):
        ltv.customer_ltv(scores[["customer_id", "mrr"]])


def test_customer_survival_is_piecewise_constant_hazard_between_the_scored_months():
    # Monthly hazards that change at 3 and 6 months, different per customer; the curve
    # through S(3), S(6), S(12) is then exact, and past 12 months the last hazard goes on.
    hazards = {"a": (0.02, 0.05, 0.10), "b": (0.30, 0.01, 0.04), "c": (0.0, 0.0, 0.5)}
    def reference(h: tuple[float, float, float], t: int) -> float:
        survival = 1.0
        for month in range(1, t + 1):
            survival *= 1 - (h[0] if month <= 3 else h[1] if month <= 6 else h[2])
        return survival
    scores = pd.DataFrame([{"customer_id": name, "mrr": 100.0, "survival_3m": reference(h, 3),
                            "survival_6m": reference(h, 6), "survival_12m": reference(h, 12)}
                           for name, h in hazards.items()])
    curves = ltv.survival_from_scores(scores, months=30)
    assert curves.shape == (3, 31)
    for row, h in enumerate(hazards.values()):
        np.testing.assert_allclose(curves[row], [reference(h, t) for t in range(31)], rtol=1e-12, err_msg=str(h))


def test_sbg_ltv_of_the_latest_cohorts_equals_those_rows_of_every_cohort(simulated):
    con, _ = simulated
    every = ltv.sbg_ltv(con, AS_OF, annual_discount=0.1)
    fitted = every[every["cohort"].notna()]
    assert len(fitted) > 3  # enough cohorts for the latest two to be a strict part
    latest = ltv.sbg_ltv(con, AS_OF, annual_discount=0.1, cohorts=2)
    expected = pd.concat([every[every["cohort"].isna()], fitted.sort_values("cohort").groupby("segment").tail(2)])
    pd.testing.assert_frame_equal(latest, expected.sort_values(["segment", "cohort"], na_position="first")
                                  .reset_index(drop=True))
    with pytest.raises(ValueError, match="latest"):
        ltv.sbg_ltv(con, AS_OF, cohorts=0)


def test_todays_forecast_and_the_backtest_from_one_read_equal_the_two_calls(small_synthetic_warehouse):
    origins = ["2024-07-01", "2025-01-01"]
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        today, past = forecast.forecast_with_backtest(con, "2026-01-01", origins, horizon=6, draws=300)
        alone = forecast.forecast_mrr(con, "2026-01-01", horizon=6, draws=300)
        backtest = forecast.backtest_forecast(con, origins, realized_before="2026-01-01", horizon=6, draws=300)
        # Realized MRR from the plan strata summed equals the unsegmented roll-forward, month by month.
        movements = revenue.mrr_movements(con, end=dt.date(2025, 12, 1))
    pd.testing.assert_frame_equal(today, alone)
    pd.testing.assert_frame_equal(past, backtest)
    ending = movements.assign(month=pd.to_datetime(movements["month"])).set_index("month")["ending_mrr"]
    for month, realized in past.groupby("month")["realized"].first().items():
        assert realized == float(ending.loc[month]), month
    assert len(past) == 2 * 6


def test_one_read_on_the_simulated_company_gives_the_forecast_and_what_was_billed(simulated):
    """The same on the sBG simulator's company: today's forecast as alone, realized MRR as billed (a loop)."""
    con, subscriptions = simulated
    origins = [add_months(AS_OF, -months) for months in (6, 3)]
    today, past = forecast.forecast_with_backtest(con, "2026-01-01", origins, survival_by="", draws=300)
    pd.testing.assert_frame_equal(today, forecast.forecast_mrr(con, "2026-01-01", survival_by="", draws=300))
    assert sorted(past["as_of"].unique()) == [pd.Timestamp(day) for day in origins]
    for month, realized in past.groupby("month")["realized"].first().items():
        day = month.date()
        paying = subscriptions[(subscriptions["start_date"] <= day)
                               & subscriptions["end_date"].map(lambda end, day=day: end is None or end > day)]
        assert realized == pytest.approx(MRR * len(paying))
