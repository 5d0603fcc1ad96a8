"""Retention projection: the sBG model fitted per monthly cohort and segment from the warehouse.

The data of a fit are a cohort's customers still paying at ages 0, 1, ..., n
months, from ``cohorts.retention_table`` observed up to the last complete
month before ``as_of``. The sBG model counts a customer lost once; a
customer who stops paying and comes back would make the count rise, so the
count fitted is its running minimum (``alive``), which ignores returns.

Cohorts with fewer than ``min_age`` observed months, or no loss yet, get the
segment's pooled curve instead: the age-by-age retention rates of all its
cohorts chained (as Kaplan-Meier chains them), fitted as one cohort.
Revenue retention is projected from the logo projection times the
segment's observed net expansion per retained customer (``expansion_trend``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from helpers.analytics.cohorts import retention_table
from helpers.analytics.revenue import mrr_movements
from helpers.analytics.sbg import LOG_BOUNDS, SBGFit, fit_sbg
from helpers.analytics.segments import check_segment, with_segment_column
from helpers.checks import int_in_range
from helpers.dates import DateLike, add_months, month_start, to_date
from helpers.warehouse.engine import Connection


def last_observed_month(as_of: DateLike) -> dt.date:
    """First day of the last complete month before ``as_of``: the last monthly snapshot known then."""
    day = to_date(as_of, "as_of")
    if day is None:
        raise ValueError("as_of is required: the date the projection is made on (data strictly before it)")
    return add_months(month_start(day), -1)


def months_between(first: pd.Series | dt.date, last: dt.date) -> pd.Series | int:
    """Whole months from ``first`` to ``last`` (both first days of months)."""
    last_ts = pd.Timestamp(last)
    if isinstance(first, pd.Series):
        first_ts = pd.to_datetime(first)
        return (last_ts.year - first_ts.dt.year) * 12 + (last_ts.month - first_ts.dt.month)
    first_ts = pd.Timestamp(first)
    return (last_ts.year - first_ts.year) * 12 + (last_ts.month - first_ts.month)


def cohort_alive(con: Connection, as_of: DateLike, segment: str | None = None) -> pd.DataFrame:
    """Each cohort's customers still paying by age, as known on ``as_of``, per segment.

    Args:
        con: an open warehouse connection or SparkSession.
        as_of: data strictly before it; the last month is the last complete one.
        segment: None / "" for all customers (segment ``'all'``), else a segment name.

    Returns:
        ``segment, cohort, age, cohort_customers, active_customers, alive, mrr,
        cohort_new_mrr``; alive is the running minimum of active_customers.
    """
    name = check_segment(segment)
    table = with_segment_column(retention_table(con, "logo", end=last_observed_month(as_of), segment=name), name)
    table = table.sort_values(["segment", "cohort", "age"]).reset_index(drop=True)
    table["alive"] = table.groupby(["segment", "cohort"])["active_customers"].cummin()
    columns = ["segment", "cohort", "age", "cohort_customers", "active_customers", "alive", "mrr", "cohort_new_mrr"]
    return table[columns]


def pooled_curve(alive: pd.DataFrame, min_at_risk: int = 30) -> pd.DataFrame:
    """Per segment, the share still paying by age with every cohort's rates chained.

    The rate at age k is the cohorts' customers alive at k over those alive at
    k - 1, over the cohorts observed at age k; ages stop where fewer than
    ``min_at_risk`` customers are left to observe.

    Returns:
        ``segment, age, at_risk`` (customers alive at age - 1 in the cohorts
        observed at age), ``share`` (1 at age 0) and ``size``: the customers of
        the cohorts observed at age 1 (the weight of the fit).
    """
    frame = alive.sort_values(["segment", "cohort", "age"]).copy()
    frame["previous"] = frame.groupby(["segment", "cohort"])["alive"].shift(1)
    later = frame[frame["age"] > 0]
    sums = later.groupby(["segment", "age"], as_index=False)[["alive", "previous"]].sum()
    sums = sums[sums["previous"] >= min_at_risk]
    rows = []
    for segment_value, group in sums.groupby("segment", sort=True):
        group = group.sort_values("age")
        # Stop at the first gap: a chained curve needs every age.
        ages = group["age"].to_numpy()
        keep = ages == np.arange(1, len(ages) + 1)
        group = group[np.cumprod(keep).astype(bool)]
        rates = (group["alive"] / group["previous"]).to_numpy()
        size = float(group["previous"].iloc[0]) if len(group) else 0.0
        rows.append(pd.DataFrame({
            "segment": segment_value,
            "age": np.arange(len(rates) + 1),
            "at_risk": np.concatenate([[size], group["previous"].to_numpy()]),
            "share": np.concatenate([[1.0], np.cumprod(rates)]),
            "size": size,
        }))
    columns = ["segment", "age", "at_risk", "share", "size"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def fit_pooled(alive: pd.DataFrame, min_at_risk: int = 30, strict: bool = True) -> dict[str, SBGFit]:
    """One sBG fit per segment on its pooled curve (``pooled_curve``).

    Args:
        alive: ``cohort_alive`` rows.
        min_at_risk: ages with fewer customers left to observe end the curve.
        strict: raise for a segment that cannot be fitted (else leave it out).

    Raises:
        ValueError naming the segment when its curve is too short or shows no loss (strict only).
    """
    fits = {}
    curves = pooled_curve(alive, min_at_risk)
    for segment_value in sorted(alive["segment"].unique()):
        curve = curves[curves["segment"] == segment_value]
        try:
            with one_blas_thread():
                fit = fit_sbg(curve["share"].to_numpy(), size=float(curve["size"].iloc[0]) if len(curve) else None)
        except ValueError as error:
            if len(curve) >= 3 and curve["share"].iloc[-1] == 1.0:
                # Nobody lost yet: sBG has nothing to fit; a small geometric churn is the honest answer.
                fits[segment_value] = geometric_fit(np.zeros(len(curve) - 1), float(curve["size"].iloc[0]))
                continue
            if not strict:
                continue
            sparse = pooled_curve(alive[alive["segment"] == segment_value], 1)
            if len(sparse) >= 2:
                # Too few customers per age for sBG to tell α from β: constant churn over every
                # customer-month observed (wide interval from its posterior), not a refusal.
                counts = sparse["share"].to_numpy() * float(sparse["size"].iloc[0])
                fits[segment_value] = geometric_fit(-np.diff(counts), float(counts[-1]))
                continue
            raise ValueError(f"segment {segment_value!r}: its pooled retention curve cannot be fitted ({error}); "
                             f"choose a coarser segment or an as_of with more history") from None
        fits[segment_value] = fit
    return fits


def fit_cohorts(alive: pd.DataFrame, min_age: int = 6, min_customers: int = 10,
                latest: int | None = None) -> dict[tuple[str, pd.Timestamp], SBGFit]:
    """One sBG fit per (segment, cohort) with ``min_age`` observed months, ``min_customers`` and some loss.

    Smaller cohorts are left to the pooled curve: two parameters from a handful
    of customers land on the edge of the parameter space more often than not.

    Args:
        latest: fit only each segment's ``latest`` most recent cohorts that can be fitted
            (None: every cohort); the fits are those of the full run.
    """
    int_in_range(min_age, "min_age", minimum=2)
    int_in_range(min_customers, "min_customers", minimum=1)
    if latest is not None:
        int_in_range(latest, "latest", minimum=1)
    fits: dict[tuple[str, pd.Timestamp], SBGFit] = {}
    with one_blas_thread():
        for segment_value, cohorts in alive.groupby("segment", sort=True):
            fitted = 0
            # Newest first: a report showing the latest cohorts fits those only (each fit stands alone).
            for cohort, group in sorted(cohorts.groupby("cohort"), key=lambda item: item[0], reverse=True):
                if latest is not None and fitted == latest:
                    break
                if int(group["cohort_customers"].iloc[0]) >= min_customers:
                    fitted += _fit_cohort(fits, segment_value, cohort, group, min_age)
    return dict(sorted(fits.items()))


def one_blas_thread():
    """Limit BLAS to one thread: its threads spin on the 2 x 2 algebra of an sBG fit, 10x slower when busy."""
    return threadpool_limits(limits=1, user_api="blas")


def _fit_cohort(fits: dict, segment_value: str, cohort: pd.Timestamp, group: pd.DataFrame, min_age: int) -> bool:
    """Add the cohort's fit to ``fits`` when it has enough months, some loss and a usable information matrix.

    Returns:
        Whether it was added.
    """
    counts = group.sort_values("age")["alive"].to_numpy()
    if len(counts) <= min_age or counts[0] <= 0 or counts[-1] == counts[0]:
        return False
    try:
        fit = fit_sbg(counts)
        fit.parameter_draws(2)  # refuses a fit on the edge of the parameter space
    except ValueError:
        return False  # a cohort sBG cannot pin down falls back to the pooled curve
    fits[(segment_value, cohort)] = fit
    return True


# Beyond this α or β the fit has no heterogeneity left to measure: churn is geometric.
GEOMETRIC_EDGE = 1e4


def geometric_fit(lost: np.ndarray, survivors: float) -> SBGFit:
    """A near-geometric sBG (α + β = GEOMETRIC_EDGE) at the churn rate (losses + 1/2) / (exposure + 1).

    For a curve sBG cannot fit because nobody was lost: the half-event keeps
    the rate above zero (Jeffreys' prior on a rate), so "no churn seen in
    300 customer-months" projects a small churn, not none.
    """
    lost = np.asarray(lost, dtype=float)
    exposure = float((lost.sum() + survivors - np.concatenate([[0.0], np.cumsum(lost)[:-1]])).sum())
    rate = (lost.sum() + 0.5) / (exposure + 1.0)
    return SBGFit(rate * GEOMETRIC_EDGE, (1 - rate) * GEOMETRIC_EDGE, float("nan"), len(lost),
                  tuple(float(v) for v in lost), float(survivors))


def parameter_draws(fit: SBGFit, draws: int, seed: int = 0) -> np.ndarray:
    """(α, β) draws of a fit, shape (draws, 2): from its information matrix, or geometric at the edge.

    A curve with the same churn at every age fits β → ∞ (no heterogeneity):
    its information matrix is singular or meaningless there. Such a fit keeps
    its α + β and draws the churn rate α / (α + β) from its Beta posterior
    (events + 1/2, survivals + 1/2) instead.
    """
    if max(fit.alpha, fit.beta) < GEOMETRIC_EDGE:
        try:
            with np.errstate(over="ignore"):  # a flat likelihood draws huge values; clipped below
                return np.clip(fit.parameter_draws(draws, seed=seed), *np.exp(LOG_BOUNDS))
        except ValueError:
            pass
    lost = np.asarray(fit.churned, dtype=float)
    exposure = float((lost.sum() + fit.survivors - np.concatenate([[0.0], np.cumsum(lost)[:-1]])).sum())
    rates = np.random.default_rng(seed).beta(lost.sum() + 0.5, exposure - lost.sum() + 0.5, size=draws)
    total = fit.alpha + fit.beta
    return np.column_stack([rates * total, (1 - rates) * total])


def survival_band(fit: SBGFit, ages: np.ndarray, level: float, draws: int = 1000) -> pd.DataFrame:
    """``period, survival, lower, upper`` of a fit (``SBGFit.projected_survival``, edge fits included)."""
    pairs = parameter_draws(fit, draws)
    with np.errstate(over="ignore", invalid="ignore"):
        log_s = special.betaln(pairs[:, :1], pairs[:, 1:] + ages) - special.betaln(pairs[:, :1], pairs[:, 1:])
        curves = np.nan_to_num(np.exp(np.minimum(log_s, 0.0)))
    lower, upper = np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return pd.DataFrame({"period": ages, "survival": fit.survival(ages), "lower": lower, "upper": upper})


def expansion_trend(con: Connection, as_of: DateLike, segment: str | None = None, months: int = 12) -> pd.DataFrame:
    """Net expansion per month of the MRR of retained customers, over the trailing ``months``, per segment.

    rate = (expansion + contraction) / (starting MRR + churn), summed over the
    months; ``spread`` is the standard deviation of the monthly rates and
    ``standard_error`` = spread / sqrt(months).

    Returns:
        ``segment, rate, standard_error, spread, months``.
    """
    int_in_range(months, "months", minimum=2)
    last = last_observed_month(as_of)
    name = check_segment(segment)
    return expansion_rates(with_segment_column(
        mrr_movements(con, start=add_months(last, -(months - 1)), end=last, segment=name), name))


def expansion_rates(movements: pd.DataFrame) -> pd.DataFrame:
    """``expansion_trend`` of the months of an ``mrr_movements`` frame that has a ``segment`` column."""
    frame = movements.assign(
        change=(movements["expansion"] + movements["contraction"]).astype(float),
        retained=(movements["starting_mrr"] + movements["churn"]).astype(float),
    )
    rows = []
    for segment_value, group in frame.groupby("segment", sort=True):
        group = group[group["retained"] > 0]
        monthly = group["change"] / group["retained"]
        rate = float(group["change"].sum() / group["retained"].sum()) if len(group) else 0.0
        spread = float(monthly.std(ddof=1)) if len(group) > 1 else 0.0
        rows.append({"segment": segment_value, "rate": rate, "standard_error": spread / np.sqrt(max(len(group), 1)),
                     "spread": spread, "months": len(group)})
    return pd.DataFrame(rows, columns=["segment", "rate", "standard_error", "spread", "months"])


def project_retention(
    con: Connection,
    as_of: DateLike,
    segment: str | None = None,
    horizon: int = 24,
    level: float = 0.9,
    min_age: int = 6,
) -> pd.DataFrame:
    """Observed and projected logo and revenue retention of every cohort, ``horizon`` months past its last age.

    Args:
        con: an open warehouse connection or SparkSession.
        as_of: data strictly before it.
        segment: None / "" for all customers, else a segment name.
        horizon: months to project past each cohort's last observed age.
        level: central probability of the bands (parameter uncertainty of the fit).
        min_age: cohorts observed for fewer months use the segment's pooled fit.

    Returns:
        One row per segment, cohort and age: ``segment, cohort, age, cohort_customers,
        observed`` (logo retention; NaN when projected), ``projected, lower, upper,
        observed_revenue, projected_revenue, model`` ("cohort" or "pooled").
    """
    int_in_range(horizon, "horizon", minimum=1, maximum=120)
    alive = cohort_alive(con, as_of, segment)
    cohort_fits, pooled_fits = fit_cohorts(alive, min_age), fit_pooled(alive)
    trend = expansion_trend(con, as_of, segment).set_index("segment")["rate"]
    parts = []
    for (segment_value, cohort), group in alive.groupby(["segment", "cohort"], sort=True):
        group = group.sort_values("age")
        size, observed_age = float(group["cohort_customers"].iloc[0]), int(group["age"].iloc[-1])
        ages = np.arange(observed_age + horizon + 1)
        fit = cohort_fits.get((segment_value, cohort))
        model = "cohort"
        if fit is None:
            fit, model = pooled_fits.get(segment_value), "pooled"
        if fit is None:
            continue
        band = survival_band(fit, ages, level)
        last_share = float(group["alive"].iloc[-1]) / size
        if model == "pooled":
            # The pooled curve, conditioned on the cohort's last age, projects forward only.
            band[["survival", "lower", "upper"]] *= last_share / float(fit.survival(observed_age))
            band.loc[band["period"] < observed_age, ["survival", "lower", "upper"]] = np.nan
        observed = np.full(len(ages), np.nan)
        observed[: len(group)] = group["active_customers"].to_numpy() / size
        revenue = np.full(len(ages), np.nan)
        new_mrr = float(group["cohort_new_mrr"].iloc[0])
        revenue[: len(group)] = group["mrr"].astype(float).to_numpy() / new_mrr if new_mrr else np.nan
        growth = (1 + float(trend.get(segment_value, 0.0))) ** np.maximum(ages - observed_age, 0)
        base = band["survival"].to_numpy() / max(float(band["survival"].iloc[observed_age]), 1e-12)
        projected_revenue = revenue[observed_age] * base * growth
        parts.append(pd.DataFrame({
            "segment": segment_value, "cohort": cohort, "age": ages, "cohort_customers": int(size),
            "observed": observed, "projected": band["survival"].to_numpy(),
            "lower": band["lower"].to_numpy(), "upper": band["upper"].to_numpy(),
            "observed_revenue": revenue, "projected_revenue": np.where(ages >= observed_age, projected_revenue, np.nan),
            "model": model,
        }))
    if not parts:
        raise ValueError(f"no cohort before as_of {to_date(as_of, 'as_of')} could be projected; need more history")
    return pd.concat(parts, ignore_index=True)
