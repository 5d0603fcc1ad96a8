"""Train, evaluate and register the churn and risk models from ``params.yaml`` settings.

Dates left as ``auto`` are derived from the warehouse's data range: the churn
model is evaluated on the last twelve monthly snapshots whose label window
fits in the data, and trained on earlier snapshots whose windows end before
the first evaluation date. The risk model is evaluated on held-out customers
over the last twelve months of data. After evaluation each model is refitted
on every labelled snapshot (``refit_on_all``), with the same settings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from helpers import config, registry, warehouse
from helpers.churn_model import TimeSplit, fit_baselines, fit_churn_model
from helpers.evaluation import classification_metrics, concordance_index, reliability_table
from helpers.dates import add_months, to_date, month_start, month_starts, next_month_start
from helpers.features import FEATURES, LABEL, churn_events, snapshot, stacked_snapshots
from helpers.risk_model import (
    DAYS_PER_MONTH,
    fit_risk_model,
    is_held_out,
    km_calibration_gap,
    time_to_churn,
)
from helpers.survival import kaplan_meier

PARAMS_FILE = config.PROJECT_ROOT / "params.yaml"
MIN_HISTORY_MONTHS = 6
EVALUATION_MONTHS = 12


def load_params(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The pipeline parameters (``params.yaml`` at the project root by default)."""
    target = Path(path) if path else PARAMS_FILE
    with open(target, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _date_or_auto(value: Any, name: str) -> dt.date | None:
    """None for 'auto' (derive from the data), else the parsed date."""
    if value in (None, "auto"):
        return None
    return to_date(value, f"parameter {name}")


def churn_time_split(settings: dict[str, Any], data_start: dt.date, data_end: dt.date) -> TimeSplit:
    """Training and evaluation as-of dates (monthly) from settings, 'auto' derived from the data."""
    horizon = int(settings["horizon_days"])
    last_labelled = data_end + dt.timedelta(days=1) - dt.timedelta(days=horizon)
    test_end = _date_or_auto(settings.get("test_end"), "churn_model.test_end") or last_labelled
    test_start = _date_or_auto(settings.get("test_start"), "churn_model.test_start") or add_months(
        month_start(test_end), -(EVALUATION_MONTHS - 1)
    )
    train_end = _date_or_auto(settings.get("train_end"), "churn_model.train_end") or (
        test_start - dt.timedelta(days=horizon)
    )
    train_start = _date_or_auto(settings.get("train_start"), "churn_model.train_start") or add_months(
        month_start(data_start), MIN_HISTORY_MONTHS
    )
    return TimeSplit(
        train_dates=tuple(month_starts(train_start, train_end)),
        test_dates=tuple(month_starts(test_start, test_end)),
        horizon_days=horizon,
    )


def _scored(frame: pd.DataFrame, scores: np.ndarray) -> dict[str, Any]:
    metrics = classification_metrics(frame[LABEL], scores, frame["mrr_current"])
    metrics["reliability"] = reliability_table(frame[LABEL], scores).to_dict(orient="records")
    return metrics


def train_churn(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Fit, evaluate out of time against the baselines, then refit the churn model.

    Returns:
        The model to register and its metadata (split, metrics of model and baselines).
    """
    metadata = warehouse.read_metadata(con)
    split = churn_time_split(settings, metadata["data_start"], metadata["data_end"])
    horizon = split.horizon_days
    train = stacked_snapshots(con, split.train_dates, horizon)
    test = stacked_snapshots(con, split.test_dates, horizon)
    model = fit_churn_model(train, horizon, settings["params"])
    evaluation = {"churn_model": _scored(test, model.predict_proba(test))}
    for name, baseline in fit_baselines(train).items():
        evaluation[name] = _scored(test, baseline.predict_proba(test))
    as_of_range = [str(split.train_dates[0]), str(split.train_dates[-1])]
    if settings.get("refit_on_all", True):
        all_dates = month_starts(split.train_dates[0], split.test_dates[-1])
        model = fit_churn_model(stacked_snapshots(con, all_dates, horizon), horizon, settings["params"])
        as_of_range = [str(all_dates[0]), str(all_dates[-1])]
    return model, {
        "horizon_days": horizon,
        "as_of_range": as_of_range,
        "evaluation_split": {
            "train_as_of": [str(split.train_dates[0]), str(split.train_dates[-1])],
            "test_as_of": [str(split.test_dates[0]), str(split.test_dates[-1])],
            "train_rows": len(train),
            "test_rows": len(test),
            "train_churn_rate": float(train[LABEL].mean()),
            "test_churn_rate": float(test[LABEL].mean()),
        },
        "metrics": evaluation,
        "params": settings["params"],
        "features": list(FEATURES),
    }


def _customer_months(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Snapshots at each month start in [first, last], labelled "churned within that month"."""
    frames = [
        snapshot(con, month, (next_month_start(month) - month).days) for month in month_starts(first, last)
    ]
    return pd.concat(frames, ignore_index=True)


def train_risk(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Fit the hazard model, evaluate it on held-out customers, then refit it on everyone.

    Returns:
        The model to register and its metadata (concordance, Kaplan-Meier gap by month).
    """
    metadata = warehouse.read_metadata(con)
    data_start, data_end = metadata["data_start"], metadata["data_end"]
    months = int(settings.get("horizon_months", 12))
    evaluation_as_of = _date_or_auto(settings.get("evaluation_as_of"), "risk_model.evaluation_as_of") or add_months(
        next_month_start(data_end), -months
    )
    train_start = _date_or_auto(settings.get("train_start"), "risk_model.train_start") or add_months(
        month_start(data_start), MIN_HISTORY_MONTHS
    )
    rows = _customer_months(con, train_start, add_months(evaluation_as_of, -1))
    held_out_rows = is_held_out(rows["customer_id"], settings.get("holdout_share", 0.3))
    model = fit_risk_model(rows[~held_out_rows], settings["params"] | {"horizon_months": months})

    population = snapshot(con, evaluation_as_of, 1)
    population = population[is_held_out(population["customer_id"], settings.get("holdout_share", 0.3))]
    outcomes = time_to_churn(population, churn_events(con), evaluation_as_of, data_end)
    curves = model.survival_curves(population, months)
    km = kaplan_meier(outcomes["duration_months"], outcomes["churned"])
    gaps = km_calibration_gap(curves, km, months)
    follow_up = outcomes["duration_months"] <= months
    risk = 1.0 - curves[:, -1]
    evaluation = {
        "held_out_customers": int(len(population)),
        "evaluation_as_of": str(evaluation_as_of),
        "concordance": concordance_index(
            np.minimum(outcomes["duration_months"], months), outcomes["churned"] & follow_up, risk
        ),
        "km_max_gap": float(gaps["gap"].max()),
        "km_calibration": gaps.to_dict(orient="records"),
        "train_rows": int((~held_out_rows).sum()),
    }
    as_of_range = [str(train_start), str(add_months(evaluation_as_of, -1))]
    if settings.get("refit_on_all", True):
        last_month = add_months(next_month_start(data_end), -1)
        model = fit_risk_model(_customer_months(con, train_start, last_month), settings["params"] | {"horizon_months": months})
        as_of_range = [str(train_start), str(last_month)]
    return model, {
        "horizon_months": months,
        "as_of_range": as_of_range,
        "metrics": evaluation,
        "params": settings["params"],
        "features": list(FEATURES),
        "days_per_month": DAYS_PER_MONTH,
    }


def train_all(
    params: dict[str, Any],
    warehouse_path: str | os.PathLike | None = None,
    models_dir: str | os.PathLike | None = None,
    metrics_dir: str | os.PathLike | None = None,
) -> dict[str, dict[str, Any]]:
    """Train both models, register them and write their metrics files (for ``dvc metrics show``).

    Returns:
        The registered metadata of each model, by name.
    """
    with warehouse.get_connection(path=warehouse_path) as con:
        fingerprint = warehouse.read_metadata(con)["content_hash"]
        trained = {
            "churn_model": train_churn(con, params["churn_model"]),
            "risk_model": train_risk(con, params["risk_model"]),
        }
    trained_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    written = {}
    metrics_folder = Path(metrics_dir) if metrics_dir else config.PROJECT_ROOT / "metrics"
    metrics_folder.mkdir(parents=True, exist_ok=True)
    for name, (model, details) in trained.items():
        details = details | {"trained_at": trained_at, "data_fingerprint": fingerprint}
        written[name] = registry.save_model(name, model, details, Path(models_dir) if models_dir else None)
        summary = _headline_metrics(name, details["metrics"])
        (metrics_folder / f"{name}.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return written


def headline(name: str, metrics: dict[str, Any]) -> str:
    """One line of a model's key metrics, for the command line."""
    values = _headline_metrics(name, metrics)
    if name == "risk_model":
        return f"concordance {values['concordance']}, Kaplan-Meier max gap {values['km_max_gap']}"
    return ", ".join(f"{model} ROC-AUC {scores['roc_auc']}" for model, scores in values.items())


def _headline_metrics(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """The scalar metrics worth tracking across runs (no tables)."""
    if name == "risk_model":
        return {key: round(metrics[key], 4) for key in ("concordance", "km_max_gap")}
    keys = ("roc_auc", "pr_auc", "brier", "top_decile_lift", "top_decile_churned_mrr_share")
    return {model: {key: round(values[key], 4) for key in keys} for model, values in metrics.items()}
