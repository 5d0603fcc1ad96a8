"""Train, select out of time, and register the time-to-churn model behind ``churn_model`` and ``risk_model``.

One pass builds the monthly snapshots (features at each as-of date, days to
the next churn). Candidates (boosted trees, regularised logistic regression,
the life-table base rate, the recency rule) are fitted on person-months
before the calibration cut, calibrated on the months after it, and compared
on as-of dates after the test cut on the monthly-hazard log loss (the
survival likelihood, a proper scoring rule) with Brier and ROC-AUC per
horizon. The winner is refitted on all the data with the same recipe and
registered twice: ``churn_model`` (the horizon view) and ``risk_model`` (the
curve view) hold the same fitted curve and the same ``fit_id``. Guardrails
are recorded in plain words; a learned model that loses to a baseline, too
few churners or too little history stop training.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import config, files, registry, threads, warehouse
from helpers.analytics.features import FEATURES, churn_events, stacked_snapshots
from helpers.analytics.survival import kaplan_meier
from helpers.dates import add_months, month_start, month_starts, to_date
from helpers.models import guardrails
from helpers.models.churn_model import ChurnModel, reference_values
from helpers.models.drift import feature_profile
from helpers.models.evaluation import concordance_index
from helpers.models.hazard import CANDIDATES, with_boosting_rounds
from helpers.models.model_card import render_model_card
from helpers.models.person_period import (
    DAYS_PER_MONTH,
    MAX_MONTHS,
    attach_outcomes,
)
from helpers.models.risk_model import RiskModel, km_calibration_gap
from helpers.models.selection import (
    Split,
    calibration_rows,
    evaluate_curve,
    fit_curve,
    plan_split,
    training_rows,
)
from helpers.models.time_to_churn import survival_at_days

HEADLINE_KEYS = ("hazard_log_loss", "integrated_brier_score")


def _date_or_auto(value: Any, name: str) -> dt.date | None:
    """None for 'auto' (derive from the data), else the parsed date."""
    if value in (None, "auto"):
        return None
    return to_date(value, f"parameter {name}")


def split_for(data_start: dt.date, data_end: dt.date, settings: dict[str, Any]) -> Split:
    """The out-of-time split of this data range under the ``churn_model`` settings."""
    months = settings.get("evaluation_months", "auto")
    return plan_split(
        data_start, data_end, _date_or_auto(settings.get("test_start"), "churn_model.test_start"),
        None if months in (None, "auto") else int(months), int(settings.get("calibration_months", 3)),
    )


def load_snapshots(con: Any, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Monthly snapshots from ``first`` to ``last`` with days to the next churn.

    One stacked query; DuckDB's cache is then emptied (``warehouse.release_buffers``)
    for the fits that follow.
    """
    frame = stacked_snapshots(con, month_starts(first, last), 1)
    events = churn_events(con)
    warehouse.release_buffers(con)  # the fits that follow need the memory, not DuckDB's cache
    return attach_outcomes(frame.drop(columns="churned"), events)


@dataclass
class Evaluation:
    """Every candidate fitted on the evaluation split and scored out of time.

    Attributes:
        split: the calendar cuts.
        metrics: candidate -> hazard log loss, calibration, per-horizon metrics, IBS.
        selected: the candidate registered (the winner unless forced).
        curve: the selected candidate's curve fitted on the split.
        predictions: evaluation rows whose horizon window closed: ids, ``churned``,
            ``mrr_current`` and one column per candidate with its horizon probability.
        risk_metrics: the selected curve against Kaplan-Meier at the first evaluation date.
        km_outcomes: that date's durations (months) and churn flags.
        guardrails: checks in plain words (helpers.models.guardrails).
        train_rows, train_churners: size of the training side (person-months, churn events).
    """

    split: Split
    metrics: dict[str, Any]
    selected: str
    curve: Any
    predictions: pd.DataFrame
    risk_metrics: dict[str, Any]
    km_outcomes: pd.DataFrame
    guardrails: list[dict[str, str]]
    train_rows: int
    train_churners: int


def evaluate(con: Any, settings: dict[str, Any], snapshots: pd.DataFrame | None = None) -> Evaluation:
    """Fit every candidate on the evaluation split and compare them on the later as-of dates.

    Raises:
        ValueError: too little history, no churn, too few churners, or the selected model
            loses to a baseline without ``allow_baseline`` (helpers.models.guardrails).
    """
    metadata = warehouse.read_metadata(con)
    split = split_for(metadata["data_start"], metadata["data_end"], settings)
    horizon = int(settings["horizon_days"])
    if snapshots is None:
        snapshots = load_snapshots(con, split.first_as_of, split.test_dates[-1])
    checks = guardrails.source_checks(snapshots) + [guardrails.history_check(split)]
    train = training_rows(snapshots, split.calibration_start, settings)
    checks.append(guardrails.churner_check(snapshots, train, int(settings.get("min_churners", 30))))
    calibration = calibration_rows(snapshots, split.calibration_start, split.test_start)
    test = snapshots[pd.to_datetime(snapshots["as_of"]) >= pd.Timestamp(split.test_start)].reset_index(drop=True)
    metrics, curves = {}, {}
    closed = (pd.Timestamp(split.observed_until) - pd.to_datetime(test["as_of"])).dt.days.to_numpy() >= horizon
    predictions = test.loc[closed, ["customer_id", "as_of", "plan_tier", "mrr_current"]].reset_index(drop=True)
    predictions["churned"] = (test.loc[closed, "days_to_churn"].to_numpy(dtype=float) < horizon).astype(int)

    def fit_and_evaluate(name: str) -> tuple[Any, dict[str, Any], dict[str, Any], np.ndarray]:
        curve, chosen = fit_curve(name, train, calibration, settings)
        result, survival = evaluate_curve(curve, test, split.observed_until, horizon)
        return curve, chosen, result, 1.0 - survival_at_days(survival[closed], horizon) if closed.any() else []

    names = list(settings.get("candidates", CANDIDATES))
    # The candidates are independent fits: side by side (threads.map_in_threads shares the cores).
    for name, (curve, chosen, result, probability) in zip(names, threads.map_in_threads(fit_and_evaluate, names)):
        metrics[name] = {"hazard_log_loss": result.pop("hazard_log_loss")} | chosen | result
        predictions[name] = probability
        curves[name] = curve
    selected, choice = guardrails.select(metrics, settings)
    checks.append(choice)
    checks.append(guardrails.calibration_check(metrics[selected]))
    risk_metrics, km_outcomes = _risk_check(curves[selected], test, split)
    return Evaluation(split, metrics, selected, curves[selected], predictions, risk_metrics, km_outcomes,
                      checks, len(train), int(train["churned"].sum()))


def _risk_check(curve: Any, test: pd.DataFrame, split: Split) -> tuple[dict[str, Any], pd.DataFrame]:
    """Mean predicted S(k) against Kaplan-Meier, and concordance, on customers paying at the first test date."""
    cohort = test[test["as_of"] == split.test_start].reset_index(drop=True)
    follow_up = (split.observed_until - split.test_start).days
    days = cohort["days_to_churn"].to_numpy(dtype=float)
    churned = ~np.isnan(days) & (days < follow_up)
    duration = np.where(churned, days, follow_up) / DAYS_PER_MONTH
    outcomes = pd.DataFrame({"duration_months": duration, "churned": churned.astype(int)})
    months = int(min(MAX_MONTHS, np.floor(follow_up / DAYS_PER_MONTH)))
    curves = curve.survival(cohort, MAX_MONTHS)
    gap = km_calibration_gap(curves[:, :months], kaplan_meier(duration, churned), months) if months else pd.DataFrame()
    within = churned & (duration <= months)
    metrics = {
        "evaluation_as_of": str(split.test_start),
        "customers": int(len(cohort)),
        "concordance": concordance_index(np.minimum(duration, months), within, 1.0 - curves[:, max(months, 1) - 1]),
        "km_max_gap": float(gap["gap"].max()) if len(gap) else float("nan"),
        "km_calibration": gap.to_dict(orient="records"),
    }
    return metrics, outcomes


def fit_final(snapshots: pd.DataFrame, evaluation: Evaluation, settings: dict[str, Any]) -> tuple[Any, Split]:
    """The selected candidate refitted with the same recipe on every closed window up to the data end.

    The recipe is the evaluated one: candidate, calibration method and, for boosted trees,
    the rounds the evaluation fit stopped at.
    """
    split = evaluation.split
    calibration_months = (split.test_start.year - split.calibration_start.year) * 12 + (
        split.test_start.month - split.calibration_start.month)
    cut = add_months(month_start(split.observed_until), -calibration_months)
    final = Split(split.first_as_of, cut, split.observed_until, split.observed_until)
    train = training_rows(snapshots, final.calibration_start, settings)
    calibration = calibration_rows(snapshots, final.calibration_start, final.observed_until)
    method = evaluation.metrics[evaluation.selected]["calibration"]
    rounds = getattr(evaluation.curve.hazard_model, "boosting_rounds", None)  # as evaluated
    curve, _ = fit_curve(evaluation.selected, train, calibration, with_boosting_rounds(settings, rounds), method)
    return curve, final


def train_models(con: Any, params: dict[str, Any]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Evaluate, select, refit; the two registry entries of the one fitted curve with their metadata."""
    settings = params["churn_model"]
    months = int(params.get("risk_model", {}).get("horizon_months", MAX_MONTHS))
    metadata = warehouse.read_metadata(con)
    split = split_for(metadata["data_start"], metadata["data_end"], settings)
    snapshots = load_snapshots(con, split.first_as_of, split.test_dates[-1])
    evaluation = evaluate(con, settings, snapshots)
    curve, final = evaluation.curve, evaluation.split
    if settings.get("refit_on_all", True):
        curve, final = fit_final(snapshots, evaluation, settings)
    details = evaluation_details(evaluation, settings)
    fit_id = hashlib.sha256(json.dumps(details, sort_keys=True, default=str).encode()).hexdigest()[:16]
    fitted_on = snapshots[pd.to_datetime(snapshots["as_of"]) < pd.Timestamp(final.calibration_start)]
    as_of_range = (split.first_as_of, max(snapshots["as_of"]))
    common = details | {
        "fit_id": fit_id,
        "as_of_range": [str(day) for day in as_of_range],
        "trained_through": str(final.observed_until - dt.timedelta(days=1)),
        # The evaluated and registered trees' rounds: the backtest refits with as many (None: no trees).
        "boosting_rounds": getattr(curve.hazard_model, "boosting_rounds", None),
    }
    churn = ChurnModel(curve, int(settings["horizon_days"]), reference_values(fitted_on),
                       training_profile=feature_profile(fitted_on), trained_as_of=as_of_range, fit_id=fit_id)
    risk = RiskModel(curve, months, fit_id=fit_id)
    return {
        "churn_model": (churn, common | {"serves": "horizon view: 1 - S(horizon_days)"}),
        "risk_model": (risk, common | {"serves": "curve view: S(1..12 months)", "horizon_months": months,
                                       "days_per_month": DAYS_PER_MONTH}),
    }


def evaluation_details(evaluation: Evaluation, settings: dict[str, Any]) -> dict[str, Any]:
    """The registry metadata of an evaluation: split, candidates' metrics, selection, guardrails."""
    return {
        "family": "time_to_churn",
        "candidate": evaluation.selected,
        "calibration": evaluation.metrics[evaluation.selected]["calibration"],
        "horizon_days": int(settings["horizon_days"]),
        "evaluation_split": evaluation.split.as_dict() | {
            "test_as_of": [str(day) for day in evaluation.split.test_dates],
            "train_person_months": evaluation.train_rows,
            "train_churners": evaluation.train_churners,
        },
        "metrics": evaluation.metrics,
        "risk_metrics": evaluation.risk_metrics,
        "guardrails": evaluation.guardrails,
        "params": settings,
        "features": list(FEATURES),
    }


def train_all(
    params: dict[str, Any],
    warehouse_path: str | os.PathLike | None = None,
    models_dir: str | os.PathLike | None = None,
    metrics_dir: str | os.PathLike | None = None,
) -> dict[str, dict[str, Any]]:
    """Train, register both views and write their metrics files (for ``dvc metrics show``).

    Returns:
        The registered metadata of each model, by name.
    """
    with warehouse.get_connection(path=warehouse_path) as con:
        fingerprint = warehouse.read_metadata(con)["content_hash"]
        trained = train_models(con, params)
    trained_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    written = {}
    metrics_folder = config.metrics_dir(metrics_dir)
    metrics_folder.mkdir(parents=True, exist_ok=True)
    for name, (model, details) in trained.items():
        details = details | {"trained_at": trained_at, "data_fingerprint": fingerprint}
        written[name] = registry.save_model(name, model, details, Path(models_dir) if models_dir else None)
        summary = headline_metrics(name, details)
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
    metrics_folder = config.metrics_dir(metrics_dir)
    metrics_folder.mkdir(parents=True, exist_ok=True)
    for name in registry.MODEL_NAMES:
        text = json.dumps({"trained": False, "reason": reason}, indent=2) + "\n"
        files.write_atomically(metrics_folder / f"{name}.json", text)


def headline(name: str, metadata: dict[str, Any]) -> str:
    """One line of a model's key figures, for the command line."""
    values = headline_metrics(name, metadata)
    if name == "risk_model":
        return (f"curve view of {metadata['candidate']}: concordance {values['concordance']}, "
                f"Kaplan-Meier max gap {values['km_max_gap']}")
    selected = metadata["candidate"]
    return f"{selected} ({metadata['calibration']} calibration) selected; " + ", ".join(
        f"{model} log loss {scores['hazard_log_loss']} ROC-AUC {scores['roc_auc']}" for model, scores in values.items())


def headline_metrics(name: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The scalar metrics worth tracking across runs (no tables)."""
    if name == "risk_model":
        risk = metadata["risk_metrics"]
        return {key: round(risk[key], 4) for key in ("concordance", "km_max_gap")}
    label = f"{metadata['horizon_days']}d"
    return {
        model: {key: round(values[key], 4) for key in HEADLINE_KEYS}
        | {key: round(values["horizons"][label].get(key, float("nan")), 4) for key in ("roc_auc", "brier")}
        for model, values in metadata["metrics"].items()
    }
