"""Person-period rows: each snapshot row expanded into the months ahead it was observed for.

A snapshot row (customer, as_of) with features known at ``as_of`` becomes one
row per month k = 1..12 ahead in which the customer was still paying at the
month's start and whose window had closed by ``observed_until``; its label
says whether the customer stopped paying inside that month. A classifier of
that label on the features plus ``months_ahead`` is a discrete-time hazard
h(k | x at as_of), and S(k) = prod_{j<=k} (1 - h(j)) is the survival curve:
features stay those of the as-of date, the hazard of month k is learned from
what happened k months after such dates (not a one-month hazard iterated).

A month is 365.25 / 12 days. Churn on day d after ``as_of`` (d = 0 is
``as_of``) falls in month k when (k-1) * month <= d < k * month.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.analytics.features import FEATURES, LABEL

DAYS_PER_MONTH = 365.25 / 12
MAX_MONTHS = 12
PERIOD_FEATURES: tuple[str, ...] = ("months_ahead", "renewal_in_period")
HAZARD_FEATURES: tuple[str, ...] = FEATURES + PERIOD_FEATURES
# The snapshot features the period columns are computed from (``period_values``): moving one
# of them moves renewal_in_period too.
PERIOD_SOURCES: tuple[str, ...] = ("months_to_renewal", "is_annual")


def month_end_days(months: int = MAX_MONTHS) -> np.ndarray:
    """Whole days after as_of until each month k = 1..months has ended (churn day < this)."""
    return np.ceil(np.arange(1, months + 1) * DAYS_PER_MONTH).astype(int)


def attach_outcomes(snapshots: pd.DataFrame, churn_events: pd.DataFrame) -> pd.DataFrame:
    """Add ``days_to_churn``: days from as_of to the first churn on or after it (NaN: none in the data).

    Args:
        snapshots: stacked snapshots with ``customer_id`` and ``as_of`` (dates).
        churn_events: helpers.analytics.features.churn_events output.

    Returns:
        A new frame sharing the snapshots' columns (not copies) plus ``days_to_churn``.

    Raises:
        ValueError: a missing as_of or churn date, or customer ids of different kinds.
    """
    for frame, column in ((snapshots, "as_of"), (churn_events, "churn_date")):
        missing = int(pd.isna(frame[column]).sum())
        if missing:
            raise ValueError(f"{column} is missing in {missing} row(s): every row needs a date")
    kinds = {snapshots["customer_id"].dtype.kind, churn_events["customer_id"].dtype.kind}
    if len(churn_events) and len(kinds) > 1:
        raise ValueError(f"customer_id is of dtype {snapshots['customer_id'].dtype} in the snapshots and "
                         f"{churn_events['customer_id'].dtype} in the churn events: give both the same kind of id")
    # One integer key per (customer, day), customers coded together: the first churn on or after
    # a row is a binary search in the sorted churn keys (a merge by string ids took 4.5 s at a
    # million rows).
    codes, _ = pd.factorize(pd.concat([snapshots["customer_id"], churn_events["customer_id"]], ignore_index=True))
    row_codes, churn_codes = codes[:len(snapshots)].astype(np.int64), codes[len(snapshots):].astype(np.int64)
    row_days = _day_numbers(snapshots["as_of"])
    churn_days = _day_numbers(churn_events["churn_date"])
    first = min(row_days.min(initial=0), churn_days.min(initial=0))
    span = max(row_days.max(initial=0), churn_days.max(initial=0)) - first + 1
    churn_keys = np.sort(churn_codes * span + (churn_days - first))
    row_keys = row_codes * span + (row_days - first)
    found = np.searchsorted(churn_keys, row_keys, side="left")
    next_key = churn_keys[np.minimum(found, len(churn_keys) - 1)] if len(churn_keys) else row_keys - 1
    same_customer = (found < len(churn_keys)) & (next_key // span == row_codes)
    # A new frame sharing the snapshots' columns: copying them (hundreds of megabytes) is not needed to add one.
    out = snapshots.copy(deep=False)
    out["days_to_churn"] = np.where(same_customer, next_key - row_keys, np.nan)
    return out


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Whole days since 1970-01-01 of a column of dates or timestamps."""
    return pd.to_datetime(dates).to_numpy(dtype="datetime64[D]").astype(np.int64)


def renewal_in_period(months_to_renewal: np.ndarray, is_annual: np.ndarray, months_ahead: np.ndarray) -> np.ndarray:
    """1 when a renewal falls in month k: always for monthly plans, at the anniversary for annual ones."""
    annual_hit = (months_to_renewal >= months_ahead - 1) & (months_to_renewal < months_ahead)
    return np.where(is_annual > 0, annual_hit, True).astype(float)


def expand(frame: pd.DataFrame, months: int | np.ndarray = MAX_MONTHS) -> pd.DataFrame:
    """Each row repeated for months 1..months with the period covariates (for prediction).

    Args:
        frame: snapshot rows with FEATURES.
        months: one count for every row, or one per row (rows keep their order, months ascending).
    """
    counts = np.broadcast_to(np.asarray(months, dtype=int), (len(frame),))
    row, ahead = ragged_index(counts)
    repeated = frame.iloc[row][list(FEATURES)].reset_index(drop=True)
    for name, values in period_values(frame, row, ahead).items():
        repeated[name] = values
    return repeated


def period_values(frame: pd.DataFrame, row: np.ndarray, ahead: np.ndarray) -> dict[str, np.ndarray]:
    """The PERIOD_FEATURES of the person-months (frame row ``row``, month ``ahead``)."""
    return {
        "months_ahead": ahead.astype(float),
        "renewal_in_period": renewal_in_period(
            frame["months_to_renewal"].to_numpy(dtype=float)[row], frame["is_annual"].to_numpy(dtype=float)[row],
            ahead.astype(float),
        ),
    }


def observed_months(frame: pd.DataFrame, observed_until: dt.date, months: int = MAX_MONTHS) -> np.ndarray:
    """How many months ahead of each row's as_of are observed: alive at their start, closed by ``observed_until``."""
    close_days = (pd.Timestamp(observed_until) - pd.to_datetime(frame["as_of"])).dt.days.to_numpy()
    ends = month_end_days(months)
    closed = np.searchsorted(ends, close_days, side="right")  # months whose end <= close day
    churn_day = frame["days_to_churn"].to_numpy(dtype=float)
    # The month holding the churn day is the last one the customer is at risk in.
    churn_month = np.where(np.isnan(churn_day), months, np.searchsorted(ends, churn_day, side="right") + 1)
    return np.minimum(closed, churn_month)


def window_offset_days(ahead: np.ndarray) -> np.ndarray:
    """Whole days from as_of to the first day of month ``ahead``'s window (month 1: 0)."""
    return np.ceil((np.asarray(ahead) - 1) * DAYS_PER_MONTH).astype(int)


def ragged_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and month ahead (1-based) of each (row, k <= counts[row]) pair, row by row."""
    row = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    ahead = np.arange(len(row)) - np.repeat(starts, counts) + 1
    return row, ahead


def person_period_index(frame: pd.DataFrame, observed_until: dt.date, months: int = MAX_MONTHS
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The observed (snapshot row, month ahead) pairs and their labels, without copying features.

    Returns:
        ``row`` (position in ``frame``), ``ahead`` (1..months) and ``churned`` (0/1) arrays.
    """
    row, ahead = ragged_index(observed_months(frame, observed_until, months))
    churn_day = frame["days_to_churn"].to_numpy(dtype=float)[row]
    with np.errstate(invalid="ignore"):
        churned = (churn_day < month_end_days(months)[ahead - 1]).astype(int)
    return row, ahead, churned


def person_period_rows(
    frame: pd.DataFrame,
    observed_until: dt.date,
    months: int = MAX_MONTHS,
    max_rows: int | None = None,
    seed: int = 0,
    windows_from: dt.date | None = None,
) -> pd.DataFrame:
    """Training rows of the hazard: one per observed (snapshot row, month ahead).

    Args:
        frame: snapshots with FEATURES, ``as_of``, ``mrr_current`` and ``days_to_churn``.
        observed_until: outcomes on or after this day are unknown (exclusive end).
        months: months ahead to follow.
        max_rows: keep a uniform random sample of this many rows (hazards stay unbiased).
        seed: the sample's seed.
        windows_from: keep only the months whose window starts on or after this day (chosen
            before any feature is copied: the calibration months of years of snapshots).

    Returns:
        HAZARD_FEATURES, ``customer_id``, ``as_of`` and ``churned`` (stopped paying in that month).
    """
    row, ahead, churned = person_period_index(frame, observed_until, months)
    if windows_from is not None:
        as_of = pd.to_datetime(frame["as_of"]).to_numpy(dtype="datetime64[D]")[row]
        starts = as_of + window_offset_days(ahead).astype("timedelta64[D]")
        keep = starts >= np.datetime64(windows_from, "D")
        row, ahead, churned = row[keep], ahead[keep], churned[keep]
    if max_rows is not None and len(row) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(row), size=max_rows, replace=False))
        row, ahead, churned = row[keep], ahead[keep], churned[keep]
    rows = frame.iloc[row][["customer_id", "as_of", *FEATURES]].reset_index(drop=True)
    rows["months_ahead"] = ahead.astype(float)
    rows["renewal_in_period"] = renewal_in_period(
        rows["months_to_renewal"].to_numpy(dtype=float), rows["is_annual"].to_numpy(dtype=float), rows["months_ahead"].to_numpy()
    )
    rows[LABEL] = churned
    return rows


def churned_within(frame: pd.DataFrame, days: int) -> np.ndarray:
    """1 when the row's customer stopped paying within ``days`` of its as_of."""
    with np.errstate(invalid="ignore"):
        return (frame["days_to_churn"].to_numpy(dtype=float) < days).astype(int)


def horizon_days(months: int) -> int:
    """Whole days of the first ``months`` months after an as-of date."""
    return int(month_end_days(months)[-1])
