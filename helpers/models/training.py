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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from helpers import config, files, registry, warehouse
from helpers.analytics.features import (
    FEATURES,
    LABEL,
    churn_events,
    snapshot,
    stacked_snapshots,
)
from helpers.analytics.survival import kaplan_meier
from helpers.dates import (
    add_months,
    month_start,
    month_starts,
    next_month_start,
    to_date,
)
from helpers.models.churn_model import TimeSplit, fit_baselines, fit_churn_model
from helpers.models.evaluation import (
    classification_metrics,
    concordance_index,
    reliability_table,
)
from helpers.models.model_card import render_model_card
from helpers.models.risk_model import (
    DAYS_PER_MONTH,
    fit_risk_model,
    is_held_out,
    km_calibration_gap,
    time_to_churn,
)

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


@dataclass
class ChurnEvaluation:
    """The churn model fitted on the training dates, scored out of time beside the baselines.

    Attributes:
        model: the churn model fitted on the training split.
        split: the as-of dates of both sides.
        predictions: one row per evaluation snapshot row: ids, ``churned``,
            ``mrr_current`` and one score column per model (``churn_model``, baselines).
        metrics: model name -> classification metrics and reliability table.
        train_rows, train_churn_rate: size and base rate of the training side.
    """

    model: Any
    split: TimeSplit
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    train_rows: int
    train_churn_rate: float


def fit_and_evaluate_churn(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> ChurnEvaluation:
    """Fit the churn model and its baselines on the training dates; score the evaluation dates."""
    metadata = warehouse.read_metadata(con)
    split = churn_time_split(settings, metadata["data_start"], metadata["data_end"])
    train = stacked_snapshots(con, split.train_dates, split.horizon_days)
    test = stacked_snapshots(con, split.test_dates, split.horizon_days)
    model = fit_churn_model(train, split.horizon_days, settings["params"])
    predictions = test[["customer_id", "as_of", "plan_tier", LABEL, "mrr_current"]].copy()
    predictions["churn_model"] = model.predict_proba(test)
    baselines = fit_baselines(train)
    for name, baseline in baselines.items():
        predictions[name] = baseline.predict_proba(test)
    metrics = {name: _scored(test, predictions[name].to_numpy()) for name in ["churn_model", *baselines]}
    return ChurnEvaluation(model, split, predictions, metrics, len(train), float(train[LABEL].mean()))


def train_churn(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Fit, evaluate out of time against the baselines, then refit the churn model.

    Returns:
        The model to register and its metadata (split, metrics of model and baselines).
    """
    evaluation = fit_and_evaluate_churn(con, settings)
    split, horizon, model = evaluation.split, evaluation.split.horizon_days, evaluation.model
    if settings.get("refit_on_all", True):
        all_dates = month_starts(split.train_dates[0], split.test_dates[-1])
        model = fit_churn_model(stacked_snapshots(con, all_dates, horizon), horizon, settings["params"])
    return model, churn_details(evaluation, settings) | {"as_of_range": [str(day) for day in model.trained_as_of]}


def churn_details(evaluation: ChurnEvaluation, settings: dict[str, Any]) -> dict[str, Any]:
    """The churn model's registry metadata from its evaluation (as-of range: the evaluated fit's)."""
    split = evaluation.split
    return {
        "horizon_days": split.horizon_days,
        "as_of_range": [str(split.train_dates[0]), str(split.train_dates[-1])],
        "evaluation_split": {
            "train_as_of": [str(split.train_dates[0]), str(split.train_dates[-1])],
            "test_as_of": [str(split.test_dates[0]), str(split.test_dates[-1])],
            "train_rows": evaluation.train_rows,
            "test_rows": len(evaluation.predictions),
            "train_churn_rate": evaluation.train_churn_rate,
            "test_churn_rate": float(evaluation.predictions[LABEL].mean()),
        },
        "metrics": evaluation.metrics,
        "params": settings["params"],
        "features": list(FEATURES),
    }


def _customer_months(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Snapshots at each month start in [first, last], labelled "churned within that month"."""
    frames = [
        snapshot(con, month, (next_month_start(month) - month).days) for month in month_starts(first, last)
    ]
    return pd.concat(frames, ignore_index=True)


@dataclass
class RiskEvaluation:
    """The risk model fitted without the held-out customers, checked on them.

    Attributes:
        model: the hazard model fitted on the other customers' months before ``as_of``.
        as_of: the evaluation date; survival is followed from it to the data end.
        outcomes: held-out customers' ``duration_months`` and ``churned`` from ``as_of``.
        curves: their predicted survival, shape (customers, months).
        calibration: mean predicted survival against Kaplan-Meier by month.
        metrics: concordance, largest Kaplan-Meier gap, sizes.
    """

    model: Any
    as_of: dt.date
    train_start: dt.date
    outcomes: pd.DataFrame
    curves: np.ndarray
    calibration: pd.DataFrame
    metrics: dict[str, Any]


def fit_and_evaluate_risk(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> RiskEvaluation:
    """Fit the hazard model on customer-months before the evaluation date; check it on held-out customers."""
    metadata = warehouse.read_metadata(con)
    data_start, data_end = metadata["data_start"], metadata["data_end"]
    months = int(settings.get("horizon_months", 12))
    holdout = settings.get("holdout_share", 0.3)
    evaluation_as_of = _date_or_auto(settings.get("evaluation_as_of"), "risk_model.evaluation_as_of") or add_months(
        next_month_start(data_end), -months
    )
    train_start = _date_or_auto(settings.get("train_start"), "risk_model.train_start") or add_months(
        month_start(data_start), MIN_HISTORY_MONTHS
    )
    rows = _customer_months(con, train_start, add_months(evaluation_as_of, -1))
    held_out_rows = is_held_out(rows["customer_id"], holdout)
    model = fit_risk_model(rows[~held_out_rows], settings["params"] | {"horizon_months": months})

    population = snapshot(con, evaluation_as_of, 1)
    population = population[is_held_out(population["customer_id"], holdout)]
    outcomes = time_to_churn(population, churn_events(con), evaluation_as_of, data_end)
    curves = model.survival_curves(population, months)
    calibration = km_calibration_gap(curves, kaplan_meier(outcomes["duration_months"], outcomes["churned"]), months)
    within_horizon = outcomes["duration_months"] <= months
    metrics = {
        "held_out_customers": int(len(population)),
        "evaluation_as_of": str(evaluation_as_of),
        "concordance": concordance_index(
            np.minimum(outcomes["duration_months"], months),
            outcomes["churned"].astype(bool) & within_horizon,
            1.0 - curves[:, -1],
        ),
        "km_max_gap": float(calibration["gap"].max()),
        "km_calibration": calibration.to_dict(orient="records"),
        "train_rows": int((~held_out_rows).sum()),
    }
    return RiskEvaluation(model, evaluation_as_of, train_start, outcomes, curves, calibration, metrics)


def train_risk(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Fit the hazard model, evaluate it on held-out customers, then refit it on everyone.

    Returns:
        The model to register and its metadata (concordance, Kaplan-Meier gap by month).
    """
    evaluation = fit_and_evaluate_risk(con, settings)
    details = risk_details(evaluation, settings)
    if not settings.get("refit_on_all", True):
        return evaluation.model, details
    last_month = add_months(next_month_start(warehouse.data_end(con)), -1)
    rows = _customer_months(con, evaluation.train_start, last_month)
    model = fit_risk_model(rows, settings["params"] | {"horizon_months": details["horizon_months"]})
    return model, details | {"as_of_range": [str(evaluation.train_start), str(last_month)]}


def risk_details(evaluation: RiskEvaluation, settings: dict[str, Any]) -> dict[str, Any]:
    """The risk model's registry metadata from its evaluation (as-of range: the evaluated fit's)."""
    return {
        "horizon_months": int(settings.get("horizon_months", 12)),
        "as_of_range": [str(evaluation.train_start), str(add_months(evaluation.as_of, -1))],
        "metrics": evaluation.metrics,
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
        files.write_atomically(metrics_folder / f"{name}.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    card = render_model_card(written["churn_model"], written["risk_model"])
    files.write_atomically((Path(models_dir) if models_dir else config.models_dir()) / "model_card.md", card)
    return written


def record_untrained(
    reason: str, models_dir: str | os.PathLike | None = None, metrics_dir: str | os.PathLike | None = None
) -> None:
    """When the data cannot train a model: keep the models folder (registered models untouched) and say why.

    The metrics files (``dvc metrics show``) say ``trained: false`` and the reason instead of scores.
    """
    (Path(models_dir) if models_dir else config.models_dir()).mkdir(parents=True, exist_ok=True)
    metrics_folder = Path(metrics_dir) if metrics_dir else config.PROJECT_ROOT / "metrics"
    metrics_folder.mkdir(parents=True, exist_ok=True)
    for name in registry.MODEL_NAMES:
        text = json.dumps({"trained": False, "reason": reason}, indent=2) + "\n"
        files.write_atomically(metrics_folder / f"{name}.json", text)


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
