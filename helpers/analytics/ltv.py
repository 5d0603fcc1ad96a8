"""Lifetime value three ways: the vendors' formula, sBG expected lifetime x ARPA, and per customer from survival curves.

- ``vendor_ltv``: ARPA / the average monthly logo churn rate of the six
  months before (ChartMogul's documented definition; docs/metrics.md).
- ``sbg_ltv``: ARPA x the sBG expected lifetime of a new customer of each
  cohort (and each segment's pooled curve), discounted (E[DEL], Fader &
  Hardie 2010) and, where finite, undiscounted (E[T] = (α + β - 1) / (α - 1)).
- ``customer_ltv``: each paying customer's MRR x the discounted sum of its
  survival curve from the time-to-churn model's scores (survival at 3, 6
  and 12 months), a residual value of customers already on the books.
ARPA is the segment's MRR per paying customer in the last complete month, the
same in every method, so their differences come from the retention model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.analytics.projection import (
    cohort_alive,
    fit_cohorts,
    fit_pooled,
    last_observed_month,
)
from helpers.analytics.revenue import retention_metrics
from helpers.analytics.segments import check_segment, with_segment_column
from helpers.dates import DateLike, add_months
from helpers.warehouse.engine import Connection

# Yearly rate at which future MRR is discounted (a common cost of capital for SaaS valuations).
ANNUAL_DISCOUNT = 0.10

# Survival columns of helpers.models.scoring.score_customers, by month.
SURVIVAL_COLUMNS = {3: "survival_3m", 6: "survival_6m", 12: "survival_12m"}

# Months a per-customer survival curve is summed over (its tail beyond is negligible when discounted).
CUSTOMER_HORIZON_MONTHS = 120


def monthly_discount(annual: float) -> float:
    """The monthly rate equivalent to ``annual`` (compounded): (1 + annual)^(1/12) - 1."""
    if not (np.isfinite(annual) and annual > 0):
        raise ValueError(f"annual_discount must be a positive yearly rate, e.g. 0.1; got {annual!r}")
    return (1 + annual) ** (1 / 12) - 1


def _arpa(con: Connection, as_of: DateLike, segment: str | None) -> pd.DataFrame:
    """``segment, month, arpa, churn_rate_6m, customers``: ARPA of the last month, churn of the six before."""
    last = last_observed_month(as_of)
    metrics = with_segment_column(retention_metrics(con, start=add_months(last, -6), end=last, segment=segment),
                                  segment)
    rows = []
    for value, group in metrics.groupby("segment", sort=True):
        group = group.sort_values("month")
        latest = group[group["month"] == pd.Timestamp(last)]
        before = group[group["month"] < pd.Timestamp(last)]
        arpa = latest["arpa"].iloc[0] if len(latest) else None
        rows.append({"segment": value, "month": pd.Timestamp(last),
                     "arpa": float(arpa) if arpa is not None else np.nan,
                     "churn_rate_6m": float(before["logo_churn_rate"].mean()) if len(before) else np.nan})
    return pd.DataFrame(rows, columns=["segment", "month", "arpa", "churn_rate_6m"])


def vendor_ltv(con: Connection, as_of: DateLike, segment: str | None = None) -> pd.DataFrame:
    """The vendors' LTV: ARPA of the last complete month / mean logo churn of the six months before it.

    Returns:
        ``segment, month, arpa, churn_rate_6m, ltv`` (NaN where no customer churned:
        the formula has no value then, as ChartMogul notes).
    """
    table = _arpa(con, as_of, check_segment(segment))
    churn = table["churn_rate_6m"].where(table["churn_rate_6m"] > 0)
    return table.assign(ltv=table["arpa"] / churn)


def _lifetimes(fit, discount: float) -> tuple[float, float]:
    """(discounted expected lifetime E[DEL], undiscounted E[T] or inf) of a new customer, in months."""
    mean = (fit.alpha + fit.beta - 1) / (fit.alpha - 1) if fit.alpha > 1 else float("inf")
    return fit.expected_lifetime(discount), mean


def sbg_ltv(
    con: Connection,
    as_of: DateLike,
    segment: str | None = None,
    annual_discount: float = ANNUAL_DISCOUNT,
    min_age: int = 6,
    cohorts: int | None = None,
) -> pd.DataFrame:
    """LTV of a new customer from the sBG model: ARPA x expected lifetime, per cohort and per segment.

    Args:
        con: an open warehouse connection or SparkSession.
        as_of: data strictly before it.
        segment: None / "" for all customers, else a segment name.
        annual_discount: yearly discount rate of future MRR.
        min_age: cohorts observed for fewer months are left out (their fit says little).
        cohorts: fit only each segment's most recent ``cohorts`` cohorts that can be fitted
            (None: every cohort; the segments' pooled rows are there either way).

    Returns:
        ``segment, cohort`` (NaT for the segment's pooled curve of all cohorts),
        ``customers, alpha, beta, expected_lifetime, discounted_lifetime`` (months),
        ``arpa, ltv`` (undiscounted; inf when α <= 1, the mean lifetime being infinite)
        and ``discounted_ltv``.
    """
    name = check_segment(segment)
    discount = monthly_discount(annual_discount)
    alive = cohort_alive(con, as_of, name)
    arpa = _arpa(con, as_of, name).set_index("segment")["arpa"]
    sizes = alive[alive["age"] == 0].set_index(["segment", "cohort"])["cohort_customers"]
    rows = []
    # A lower bar than the forecast's: a small segment still gets a (wide) curve.
    for value, fit in fit_pooled(alive, min_at_risk=10, strict=False).items():
        discounted, mean = _lifetimes(fit, discount)
        rows.append({"segment": value, "cohort": pd.NaT,
                     "customers": int(sizes.loc[value].sum()) if value in sizes.index.get_level_values(0) else 0,
                     "alpha": fit.alpha, "beta": fit.beta, "expected_lifetime": mean,
                     "discounted_lifetime": discounted})
    for (value, cohort), fit in fit_cohorts(alive, min_age, latest=cohorts).items():
        discounted, mean = _lifetimes(fit, discount)
        rows.append({"segment": value, "cohort": cohort, "customers": int(sizes.loc[(value, cohort)]),
                     "alpha": fit.alpha, "beta": fit.beta, "expected_lifetime": mean,
                     "discounted_lifetime": discounted})
    table = pd.DataFrame(rows, columns=["segment", "cohort", "customers", "alpha", "beta", "expected_lifetime",
                                        "discounted_lifetime"])
    table["arpa"] = table["segment"].map(arpa).astype(float)
    table["ltv"] = table["arpa"] * table["expected_lifetime"]
    table["discounted_ltv"] = table["arpa"] * table["discounted_lifetime"]
    return table.sort_values(["segment", "cohort"], na_position="first").reset_index(drop=True)


def survival_from_scores(scores: pd.DataFrame, months: int = CUSTOMER_HORIZON_MONTHS) -> np.ndarray:
    """Each scored customer's survival at months 0..months, shape (customers, months + 1).

    Log-linear between the scored points (1 at month 0, then 3, 6 and 12
    months: a constant hazard within each interval); past 12 months the
    hazard of months 6-12 goes on.

    Raises:
        ValueError naming the missing columns when the scores have no survival curve.
    """
    missing = [column for column in SURVIVAL_COLUMNS.values() if column not in scores.columns]
    if missing:
        raise ValueError(f"the scores lack {', '.join(missing)}: per-customer LTV needs the risk model's survival "
                         f"curve (helpers.models.scoring.score_customers with a trained risk_model)")
    knots = np.array([0, *SURVIVAL_COLUMNS])
    values = np.column_stack([np.ones(len(scores)), *(scores[c].to_numpy(float) for c in SURVIVAL_COLUMNS.values())])
    with np.errstate(divide="ignore"):
        logs = np.log(np.clip(values, 1e-12, 1.0))
    # Every customer has the same knots, so each month's interval and offset in it are shared:
    # one array operation per month instead of one interpolation per customer.
    slopes = np.diff(logs, axis=1) / np.diff(knots)
    t = np.arange(months + 1)
    interval = np.minimum(np.searchsorted(knots, t, side="right") - 1, len(knots) - 2)
    # Past the last knot the last interval's hazard carries on.
    return np.exp(logs[:, interval] + slopes[:, interval] * (t - knots[interval]))


def customer_ltv(scores: pd.DataFrame, annual_discount: float = ANNUAL_DISCOUNT) -> pd.DataFrame:
    """Each scored customer's value: MRR x Σ_{t=0..120} S(t) / (1 + d)^t, from the model's survival curve.

    Args:
        scores: ``helpers.models.scoring.score_customers`` rows (``customer_id, mrr,
            survival_3m, survival_6m, survival_12m``; other columns are kept).
        annual_discount: yearly discount rate.

    Returns:
        The scores with ``discounted_lifetime`` (months) and ``ltv`` added.
    """
    discount = monthly_discount(annual_discount)
    if "mrr" not in scores.columns:
        raise ValueError("the scores lack column mrr (helpers.models.scoring.score_customers gives it)")
    curves = survival_from_scores(scores)
    weights = (1 + discount) ** -np.arange(curves.shape[1])
    lifetime = curves @ weights
    return scores.assign(discounted_lifetime=lifetime, ltv=scores["mrr"].astype(float).to_numpy() * lifetime)
