"""MRR forecast: existing customers' survival and expansion plus new business, with an interval, and its backtest.

Month h after the last complete month L before ``as_of``:

    existing(h) = Σ_a MRR_a · S(a + h) / S(a) · (1 + g)^h
    new(h)      = Σ_{j=1..h} N_j · S(h - j) · (1 + g)^(h - j)

MRR_a is the MRR in month L of the customers aged a months (since their
first paid month), S the segment's pooled sBG survival
(``projection.fit_pooled``; unsegmented, each plan's, summed), g the net
expansion per month of retained MRR (``projection.expansion_trend``) and N_j
the new-business MRR (new plus reactivation) of month L + j: the linear
trend of the trailing ``trend_months`` times ``scenario``. The interval is
the central ``level`` of simulated paths that draw (α, β) from the fit, g
and its monthly deviations, the trend's coefficients and residuals, and
which customers stay (independently, with their survival probability).
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from helpers.analytics.projection import (
    cohort_alive,
    expansion_rates,
    fit_pooled,
    last_observed_month,
    months_between,
    parameter_draws,
)
from helpers.analytics.revenue import mrr_movements, paying_by_age
from helpers.analytics.segments import ALL_CUSTOMERS, check_segment, with_segment_column
from helpers.checks import int_in_range
from helpers.dates import DateLike, add_months, to_date
from helpers.warehouse.engine import Connection

FORECAST_COLUMNS = ["month", "horizon", "existing", "new_business", "forecast", "lower", "upper"]
BACKTEST_COLUMNS = ["as_of", "month", "horizon", "forecast", "lower", "upper", "realized", "error",
                    "relative_error", "covered"]


def existing_mrr_by_age(con: Connection, as_of: DateLike, segment: str | None = None) -> pd.DataFrame:
    """MRR and customers paying in the last complete month before ``as_of``, by segment and age in months."""
    last = last_observed_month(as_of)
    return _by_age(_paying_customers(con, last, last, check_segment(segment)), last)


def new_business_history(con: Connection, as_of: DateLike, segment: str | None = None,
                         months: int = 12) -> pd.DataFrame:
    """New plus reactivation MRR and customers of each of the trailing ``months`` complete months, per segment."""
    last = last_observed_month(as_of)
    name = check_segment(segment)
    return _new_business(with_segment_column(mrr_movements(con, start=add_months(last, -(months - 1)), end=last,
                                                           segment=name), name))


def _paying_customers(con: Connection, first: dt.date, last: dt.date, name: str | None) -> pd.DataFrame:
    """``paying_by_age`` of months first..last with a ``segment`` column."""
    return with_segment_column(paying_by_age(con, start=first, end=last, segment=name), name)


def _by_age(paying: pd.DataFrame, last: dt.date) -> pd.DataFrame:
    """MRR and customers of month ``last`` by segment and age (months since the cohort month)."""
    frame = paying[paying["month"] == pd.Timestamp(last)]
    return pd.DataFrame({"segment": frame["segment"].to_numpy(), "age": frame["age"].to_numpy(dtype=int),
                         "mrr": frame["mrr"].astype(float).to_numpy(),
                         "customers": frame["customers"].to_numpy(dtype=int)})


def _new_business(movements: pd.DataFrame) -> pd.DataFrame:
    """New plus reactivation MRR and customers of each month of an ``mrr_movements`` frame with a segment column."""
    frame = movements.assign(new_mrr=(movements["new"] + movements["reactivation"]).astype(float),
                             new_customers=movements["new_customers"] + movements["reactivated_customers"])
    return frame[["segment", "month", "new_mrr", "new_customers"]]


@dataclass(frozen=True)
class _History:
    """What forecasts read from the warehouse, for last observed months up to ``last``.

    Every table is a function of calendar months only, so the forecast of an
    earlier last month reads the rows of the months up to it (``up_to``): the
    backtest reads the warehouse once, not once per origin.
    """

    last: dt.date
    everyone: pd.DataFrame  # cohort_alive of all customers
    strata: pd.DataFrame | None  # cohort_alive per stratum
    movements: pd.DataFrame  # mrr_movements per stratum, from trend_months before the first last month
    paying: pd.DataFrame  # _paying_customers per stratum, months first..last

    @classmethod
    def read(cls, con: Connection, first: dt.date, last: dt.date, strata: str | None,
             trend_months: int) -> "_History":
        """The tables for forecasts whose last observed month is between ``first`` and ``last``."""
        after = add_months(last, 1)  # the as-of date whose last observed month is ``last``
        return cls(
            last=last,
            everyone=cohort_alive(con, after, None),
            strata=cohort_alive(con, after, strata) if strata else None,
            movements=with_segment_column(
                mrr_movements(con, start=add_months(first, -(trend_months - 1)), end=last, segment=strata), strata),
            paying=_paying_customers(con, first, last, strata),
        )

    def up_to(self, last: dt.date) -> "_History":
        """The same tables as read for last observed month ``last`` alone."""
        if last == self.last:
            return self
        month = pd.Timestamp(last)

        def alive(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[months_between(frame["cohort"], last) >= frame["age"]].reset_index(drop=True)

        return _History(
            last=last, everyone=alive(self.everyone),
            strata=alive(self.strata) if self.strata is not None else None,
            movements=self.movements[pd.to_datetime(self.movements["month"]) <= month].reset_index(drop=True),
            paying=self.paying[pd.to_datetime(self.paying["month"]) <= month],
        )


def _survival_draws(pairs: np.ndarray, periods: int) -> np.ndarray:
    """S(t) for t = 0..periods - 1 under each (α, β) row: shape (draws, periods)."""
    a, b, t = pairs[:, :1], pairs[:, 1:], np.arange(periods)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.nan_to_num(np.exp(np.minimum(special.betaln(a, b + t) - special.betaln(a, b), 0.0)))


def _trend_draws(history: np.ndarray, horizon: int, scenario: float, draws: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """New-business MRR of months 1..horizon: the point (horizon,) and the draws (draws, horizon)."""
    n = len(history)
    design = np.column_stack([np.ones(n), np.arange(n)])
    coefficients, *_ = np.linalg.lstsq(design, history, rcond=None)
    residuals = history - design @ coefficients
    sigma = float(np.sqrt(residuals @ residuals / max(n - 2, 1)))
    covariance = sigma**2 * np.linalg.inv(design.T @ design)
    future = np.column_stack([np.ones(horizon), np.arange(n, n + horizon)])
    point = np.maximum(scenario * future @ coefficients, 0.0)
    drawn = rng.multivariate_normal(coefficients, covariance, size=draws) @ future.T
    noise = rng.standard_normal((draws, horizon)) * sigma
    return point, np.maximum(scenario * (drawn + noise), 0.0)


def _growth_draws(rate: float, error: float, spread: float, horizon: int, draws: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Cumulative growth factor of retained MRR after months 0..horizon: the point, then the draws.

    Each draw takes a mean rate (rate ± its standard error) and adds each
    month's own deviation (the spread of the observed monthly rates), so the
    draws' spread grows with the horizon as the realized path's does.
    """
    means = rate + rng.standard_normal((draws, 1)) * error
    monthly = np.vstack([np.full((1, horizon), rate), means + rng.standard_normal((draws, horizon)) * spread])
    return np.concatenate([np.ones((draws + 1, 1)), np.cumprod(1 + monthly, axis=1)], axis=1)


def _segment_paths(mrr_by_age: pd.DataFrame, survival: np.ndarray, growth: np.ndarray,
                   new_business: np.ndarray, new_customer_mrr: float, horizon: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Existing and new-business MRR of months 1..horizon, one row per draw (row 0: the point forecast).

    survival: S(t) per draw; growth: cumulative growth factors after months 0..horizon
    per draw; new_business: MRR added in months 1..horizon per draw;
    new_customer_mrr: the MRR of one new customer. Draws add the churn of
    individual customers: each stays with probability p independently, so a
    group of MRR M at m per customer varies by M m p (1 - p) (normal approximation).
    """
    ages, mrr = mrr_by_age["age"].to_numpy(), mrr_by_age["mrr"].to_numpy()
    per_customer = mrr / np.maximum(mrr_by_age["customers"].to_numpy(), 1)
    steps = np.arange(1, horizon + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.clip(np.nan_to_num(survival[:, ages[:, None] + steps] / survival[:, ages][:, :, None]), 0.0, 1.0)
    existing = np.einsum("a,dah->dh", mrr, kept) * growth[:, 1:]
    existing_variance = np.einsum("a,dah->dh", mrr * per_customer, kept * (1 - kept)) * growth[:, 1:] ** 2
    new = np.zeros_like(existing)
    new_variance = np.zeros_like(existing)
    for h in steps:
        j = np.arange(1, h + 1)
        left, ratio = survival[:, h - j], growth[:, [h]] / growth[:, j]
        new[:, h - 1] = (new_business[:, j - 1] * left * ratio).sum(axis=1)
        new_variance[:, h - 1] = (new_business[:, j - 1] * new_customer_mrr * left * (1 - left) * ratio**2).sum(axis=1)
    noise = rng.standard_normal((2, *existing.shape))
    noise[:, 0] = 0.0  # the point forecast is the expectation
    spread = np.sqrt(np.maximum(existing_variance, 0.0)), np.sqrt(np.maximum(new_variance, 0.0))
    return existing + spread[0] * noise[0], new + spread[1] * noise[1]


def forecast_mrr(
    con: Connection,
    as_of: DateLike,
    horizon: int = 12,
    segment: str | None = None,
    scenario: float = 1.0,
    level: float = 0.9,
    trend_months: int = 24,
    draws: int = 2000,
    seed: int = 0,
    survival_by: str = "plan_at_first_payment",
) -> pd.DataFrame:
    """MRR of each of the ``horizon`` months after the last complete month before ``as_of``, with an interval.

    Survival, expansion and the new-business trend are fitted per value of
    ``segment`` or, unsegmented, per value of ``survival_by`` and summed: the
    plans churn at different rates and differ in MRR, so one logo curve for all
    would weigh a small customer's churn like a large one's. A value whose
    pooled curve cannot be fitted uses the curve of all customers.

    Args:
        con: an open warehouse connection or SparkSession.
        as_of: data strictly before it.
        horizon: months ahead (1..36).
        segment: None / "" for all customers, else a segment name (one forecast per value).
        scenario: multiplier of the new-business trend (1 = the trend; 0 = no new business).
        level: central probability of the interval.
        trend_months: trailing months of new business the trend is fitted on.
        draws, seed: simulation draws for the interval, seeded (deterministic).
        survival_by: the segment the unsegmented forecast is built from ("" for none).

    Returns:
        ``month, horizon, existing, new_business, forecast, lower, upper`` (floats,
        money per month), with ``segment`` first when segmented.
    """
    _check_options(horizon, scenario, level, trend_months, draws)
    name = check_segment(segment)
    strata = name or check_segment(survival_by)
    last = last_observed_month(as_of)
    history = _History.read(con, last, last, strata, trend_months)
    return _forecast(history, to_date(as_of, "as_of"), horizon, name, scenario, level, trend_months, draws, seed)


def _check_options(horizon: int, scenario: float, level: float, trend_months: int, draws: int) -> None:
    int_in_range(horizon, "horizon", minimum=1, maximum=36)
    int_in_range(trend_months, "trend_months", minimum=3)
    int_in_range(draws, "draws", minimum=100)
    if not (np.isfinite(scenario) and scenario >= 0):
        raise ValueError(f"scenario must be a multiplier >= 0 of the new-business trend (1 = trend); got {scenario!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.9; got {level!r}")


def _forecast(history: _History, as_of: dt.date, horizon: int, name: str | None, scenario: float, level: float,
              trend_months: int, draws: int, seed: int) -> pd.DataFrame:
    """``forecast_mrr`` from the tables it reads (``history``, whose last observed month is as_of's)."""
    last = history.last
    pooled = fit_pooled(history.everyone)
    if ALL_CUSTOMERS not in pooled:
        raise ValueError(f"no cohort has paid before as_of {as_of}: nothing to forecast from")
    everyone = pooled[ALL_CUSTOMERS]
    fits = fit_pooled(history.strata, strict=False) if history.strata is not None else {}
    recent_movements = history.movements[
        pd.to_datetime(history.movements["month"]) >= pd.Timestamp(add_months(last, -(trend_months - 1)))]
    trends = expansion_rates(recent_movements).set_index("segment")
    by_age = _by_age(history.paying, last)
    history_new = _new_business(recent_movements)
    rng = np.random.default_rng(seed)
    paths = {}
    for value in sorted(set(by_age["segment"]) | set(history_new["segment"])):
        recent = history_new[history_new["segment"] == value]
        series = recent["new_mrr"].to_numpy()
        if len(series) < 3:
            raise ValueError(f"segment {value!r}: fewer than 3 months of history before as_of "
                             f"{as_of}; the new-business trend needs at least 3")
        ages = by_age[by_age["segment"] == value]
        fit = fits.get(value, everyone)
        periods = int(ages["age"].max() if len(ages) else 0) + horizon + 1
        pairs = np.vstack([[fit.alpha, fit.beta], parameter_draws(fit, draws, seed)])
        rate, error, spread = (trends.loc[value, ["rate", "standard_error", "spread"]]
                               if value in trends.index else (0.0, 0.0, 0.0))
        growth = _growth_draws(rate, error, spread, horizon, draws, rng)
        point_new, drawn_new = _trend_draws(series, horizon, scenario, draws, rng)
        new_customer_mrr = float(series.sum() / max(recent["new_customers"].sum(), 1))
        paths[value] = _segment_paths(ages, _survival_draws(pairs, periods), growth,
                                      np.vstack([point_new, drawn_new]), new_customer_mrr, horizon, rng)
    if not name:
        paths = {ALL_CUSTOMERS: tuple(sum(part[i] for part in paths.values()) for i in range(2))}
    months = [pd.Timestamp(add_months(last, h)) for h in range(1, horizon + 1)]
    parts = []
    for value, (existing, new) in paths.items():
        total = existing + new
        lower, upper = np.quantile(total[1:], [(1 - level) / 2, (1 + level) / 2], axis=0)
        parts.append(pd.DataFrame({
            "segment": value, "month": months, "horizon": np.arange(1, horizon + 1),
            "existing": existing[0], "new_business": new[0], "forecast": total[0], "lower": lower, "upper": upper,
        }))
    result = pd.concat(parts, ignore_index=True)
    return result if name else result.drop(columns="segment")


def backtest_forecast(
    con: Connection,
    as_ofs: list[DateLike],
    realized_before: DateLike,
    horizon: int = 12,
    **forecast_options: Any,
) -> pd.DataFrame:
    """Forecasts made from past as-of dates beside the MRR then realized (unsegmented).

    The warehouse is read once for all the dates; each forecast uses only the
    months before its own as-of date, exactly as ``forecast_mrr`` made on that date.

    Args:
        con: an open warehouse connection or SparkSession.
        as_ofs: the dates the forecasts are made on (each uses only data before it).
        realized_before: months before it count as realized (e.g. the report's as_of).
        horizon: months ahead of each forecast.
        forecast_options: ``forecast_mrr``'s (scenario, level, trend_months, draws, seed,
            survival_by), with its defaults.

    Returns:
        ``as_of, month, horizon, forecast, lower, upper, realized, error`` (forecast -
        realized), ``relative_error`` (error / realized) and ``covered`` (realized in the
        interval), one row per forecast month already realized.
    """
    return forecast_with_backtest(con, realized_before, as_ofs, horizon, forecast_today=False,
                                  **forecast_options)[1]


def forecast_with_backtest(
    con: Connection,
    as_of: DateLike,
    origins: list[DateLike],
    horizon: int = 12,
    forecast_today: bool = True,
    **forecast_options: Any,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """``forecast_mrr`` at ``as_of`` and ``backtest_forecast`` of ``origins`` realized before it, from one read.

    The forecast, the past forecasts and the realized MRR all come from the tables
    read once, for the months from the earliest origin's to the latest of the one
    before ``as_of`` and the origins' (a report shows both).

    Args:
        con: an open warehouse connection or SparkSession.
        as_of: today's forecast date; months before it count as realized.
        origins: the dates of the past forecasts.
        horizon: months ahead of each forecast.
        forecast_today: False for the backtest alone (the first result is then None).
        forecast_options: ``forecast_mrr``'s (scenario, level, trend_months, draws, seed,
            survival_by), with its defaults; unsegmented.

    Returns:
        ``(forecast_mrr(con, as_of, ...), backtest_forecast(con, origins, as_of, ...))``.
    """
    # forecast_mrr's own defaults: one place says what a forecast is made with.
    bound = inspect.signature(forecast_mrr).bind(con, None, horizon, **forecast_options)
    bound.apply_defaults()
    options = bound.arguments
    if check_segment(options["segment"]):
        raise ValueError("the forecast backtest is unsegmented: leave segment out")
    scenario, level, trend_months = options["scenario"], options["level"], options["trend_months"]
    draws, seed, survival_by = options["draws"], options["seed"], options["survival_by"]
    _check_options(horizon, scenario, level, trend_months, draws)
    dates = [to_date(origin, "as_of") for origin in origins]
    if not dates and not forecast_today:
        return None, pd.DataFrame(columns=BACKTEST_COLUMNS)
    today = to_date(as_of, "as_of")
    last_realized = last_observed_month(today)
    lasts = [last_observed_month(day) for day in dates]
    history = _History.read(con, min(lasts + [last_realized]), max(lasts + [last_realized]),
                            check_segment(survival_by), trend_months)
    forecast = (_forecast(history.up_to(last_realized), today, horizon, None, scenario, level, trend_months,
                          draws, seed) if forecast_today else None)
    # Realized MRR of each month: the strata's ending MRR summed (exact decimals).
    realized = history.movements.groupby("month", as_index=False)["ending_mrr"].sum()
    realized = realized[pd.to_datetime(realized["month"]) <= pd.Timestamp(last_realized)]
    actual = pd.DataFrame({"month": pd.to_datetime(realized["month"]),
                           "realized": realized["ending_mrr"].astype(float)})
    rows = []
    for origin, last in zip(dates, lasts):
        try:
            past = _forecast(history.up_to(last), origin, horizon, None, scenario, level, trend_months,
                             draws, seed)
        except ValueError:  # too little history before this origin: no forecast was possible then
            continue
        past.insert(0, "as_of", pd.Timestamp(origin))
        rows.append(past.merge(actual, on="month", how="inner"))
    if not rows:
        return forecast, pd.DataFrame(columns=BACKTEST_COLUMNS)
    frame = pd.concat(rows, ignore_index=True)
    frame["error"] = frame["forecast"] - frame["realized"]
    frame["relative_error"] = frame["error"] / frame["realized"]
    frame["covered"] = (frame["lower"] <= frame["realized"]) & (frame["realized"] <= frame["upper"])
    return forecast, frame[BACKTEST_COLUMNS]


def backtest_errors(backtest: pd.DataFrame) -> pd.DataFrame:
    """Error of the backtest by horizon: forecasts, mean error (bias), mean absolute error, coverage.

    Returns:
        ``horizon, forecasts, mean_error, mean_absolute_error, mean_percentage_error,
        mean_absolute_percentage_error, coverage`` (percentages as fractions).
    """
    grouped = backtest.assign(absolute=backtest["error"].abs(), absolute_relative=backtest["relative_error"].abs())
    return grouped.groupby("horizon", as_index=False).agg(
        forecasts=("error", "size"),
        mean_error=("error", "mean"),
        mean_absolute_error=("absolute", "mean"),
        mean_percentage_error=("relative_error", "mean"),
        mean_absolute_percentage_error=("absolute_relative", "mean"),
        coverage=("covered", "mean"),
    )
