"""Tables of the LTV and forecast report (06): forecast, backtest errors, LTV three ways, cohort projections."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.dates import add_months
from helpers.notebook.formatting import format_table

# Column of the comparison frame -> the method's name in the report (and its chart colour).
LTV_METHODS = {
    "vendor_ltv": "vendor formula",
    "sbg_ltv": "sBG (undiscounted)",
    "sbg_discounted_ltv": "sBG (discounted)",
    "model_ltv": "model survival (discounted)",
}


def backtest_origins(as_of: dt.date, origins: int, horizon: int) -> list[dt.date]:
    """The as-of dates of the backtest: ``origins`` monthly dates whose ``horizon`` months are all realized."""
    return [add_months(as_of, -(horizon + k)) for k in range(origins - 1, -1, -1)]


def forecast_table(forecast: pd.DataFrame) -> pd.DataFrame:
    """The forecast month by month: today's customers, new business, total and its interval, formatted."""
    columns = {"month": "month", "existing": "today's customers", "new_business": "new business",
               "forecast": "forecast MRR", "lower": "low", "upper": "high"}
    return format_table(forecast[list(columns)], money=["existing", "new_business", "forecast", "lower", "upper"],
                        months=["month"], index="month", rename=columns)


def backtest_error_table(errors: pd.DataFrame) -> pd.DataFrame:
    """Backtest errors by horizon, formatted: forecasts, bias, mean absolute (percentage) error, coverage."""
    columns = {"horizon": "months ahead", "forecasts": "forecasts", "mean_percentage_error": "bias",
               "mean_absolute_error": "mean absolute error", "mean_absolute_percentage_error": "MAPE",
               "coverage": "realized within interval"}
    return format_table(errors[list(columns)], counts=["forecasts"], money=["mean_absolute_error"],
                        percent=["mean_percentage_error", "mean_absolute_percentage_error", "coverage"],
                        index="horizon", rename=columns)


def ltv_comparison(vendor: pd.DataFrame, sbg: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """One row per segment: customers, ARPA and the LTV of each method (floats; NaN/inf where undefined).

    Args:
        vendor: ``ltv.vendor_ltv`` rows.
        sbg: ``ltv.sbg_ltv`` rows (the pooled row of each segment, cohort NaT, is used).
        customers: ``ltv.customer_ltv`` rows with a ``segment`` column, or None without models.
    """
    pooled = sbg[sbg["cohort"].isna()].set_index("segment")
    table = vendor.set_index("segment")[["arpa", "churn_rate_6m", "ltv"]].rename(columns={"ltv": "vendor_ltv"})
    table["sbg_ltv"] = pooled["ltv"]
    table["sbg_discounted_ltv"] = pooled["discounted_ltv"]
    table["model_ltv"] = customers.groupby("segment")["ltv"].mean() if customers is not None else np.nan
    return table.reset_index()


def ltv_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison formatted, with the methods named as in the chart; "n/a" where a value is undefined."""
    shown = comparison.replace([np.inf, -np.inf], np.nan)
    columns = {"segment": "segment", "arpa": "ARPA", "churn_rate_6m": "logo churn (6-month mean)",
               **LTV_METHODS}
    return format_table(shown[list(columns)], money=["arpa", *LTV_METHODS], percent=["churn_rate_6m"],
                        index="segment", rename=columns)


def ltv_chart_frame(comparison: pd.DataFrame) -> pd.DataFrame:
    """``segment`` and one column per method name, for ``plots.ltv_by_segment_chart``; methods with no value left out."""
    present = [column for column in LTV_METHODS if np.isfinite(comparison[column].astype(float)).any()]
    return comparison[["segment", *present]].rename(columns=LTV_METHODS)


def cohort_fit_table(sbg: pd.DataFrame, cohorts: int = 12) -> pd.DataFrame:
    """The most recent fitted cohorts: size, α, β, expected lifetime and LTV, formatted."""
    fitted = sbg[sbg["cohort"].notna()].sort_values("cohort").groupby("segment").tail(cohorts).sort_values(
        ["segment", "cohort"])
    shown = fitted.replace([np.inf, -np.inf], np.nan)
    columns = {"segment": "segment", "cohort": "cohort", "customers": "customers", "alpha": "α", "beta": "β",
               "expected_lifetime": "mean lifetime (months)", "discounted_lifetime": "discounted lifetime (months)",
               "discounted_ltv": "LTV (discounted)"}
    return format_table(shown[list(columns)], counts=["customers"], numbers={"alpha": 2, "beta": 2,
                        "expected_lifetime": 1, "discounted_lifetime": 1}, money=["discounted_ltv"],
                        months=["cohort"], index="segment", rename=columns)


def projected_against_actual(projection: pd.DataFrame, actual: pd.DataFrame, cohorts: int = 4) -> pd.DataFrame:
    """Curves for ``plots.projected_retention_chart``: an earlier projection beside the retention since observed.

    Args:
        projection: ``projection.project_retention`` rows made at an earlier as-of date (one segment).
        actual: ``projection.cohort_alive`` rows observed now (same segment), for the actual curves.
        cohorts: how many cohorts to show, spread evenly over those projected by their own fit.

    Returns:
        ``cohort, age, actual, projected, lower, upper, projected_from``.
    """
    own = projection[projection["model"] == "cohort"]
    names = sorted(own["cohort"].unique())
    if not names:
        return pd.DataFrame(columns=["cohort", "age", "actual", "projected", "lower", "upper", "projected_from"])
    chosen = [names[i] for i in np.unique(np.linspace(0, len(names) - 1, min(cohorts, len(names))).round().astype(int))]
    now = actual.assign(actual=actual["active_customers"] / actual["cohort_customers"])[["cohort", "age", "actual"]]
    parts = []
    for cohort in chosen:
        curve = own[own["cohort"] == cohort][["cohort", "age", "observed", "projected", "lower", "upper"]]
        last_seen = int(curve.loc[curve["observed"].notna(), "age"].max())
        curve = curve.merge(now[now["cohort"] == cohort], on=["cohort", "age"], how="left")
        parts.append(curve.assign(projected_from=last_seen).drop(columns="observed"))
    return pd.concat(parts, ignore_index=True)
