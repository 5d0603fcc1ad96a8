"""Training end to end on a small synthetic warehouse: registry files, metadata, metrics, determinism."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import small_training_params
from helpers import registry, warehouse
from helpers.models import training

REQUIRED_METADATA = {"name", "version", "trained_at", "as_of_range", "params", "features", "metrics",
                     "data_fingerprint", "sha256", "library_versions", "fit_id", "candidate", "calibration",
                     "guardrails", "trained_through"}
CANDIDATES = {"boosted_trees", "logistic_regression", "base_rate", "recency_rule"}


def test_both_views_of_one_fit_are_registered_with_full_metadata(trained_small_models):
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        content_hash = warehouse.read_metadata(con)["content_hash"]
    metadata = {name: registry.get_model_metadata(name, trained_small_models["models_dir"])
                for name in ("churn_model", "risk_model")}
    for meta in metadata.values():
        assert REQUIRED_METADATA <= set(meta), REQUIRED_METADATA - set(meta)
        assert meta["data_fingerprint"] == content_hash
    churn, risk = metadata["churn_model"], metadata["risk_model"]
    assert churn["fit_id"] == risk["fit_id"] and churn["candidate"] == risk["candidate"]
    assert churn["horizon_days"] == 90 and risk["horizon_months"] == 12
    assert set(churn["metrics"]) == CANDIDATES
    for values in churn["metrics"].values():
        assert {"hazard_log_loss", "calibration", "horizons", "time_dependent_auc", "integrated_brier_score"} <= set(values)
    # The registered candidate has the lowest out-of-time log loss.
    losses = {name: values["hazard_log_loss"] for name, values in churn["metrics"].items()}
    assert churn["candidate"] == min(losses, key=losses.get)
    assert 0.5 < churn["risk_metrics"]["concordance"] <= 1


def test_metrics_files_hold_the_headline_numbers(trained_small_models):
    churn = json.loads((trained_small_models["metrics_dir"] / "churn_model.json").read_text())
    assert set(churn) == CANDIDATES
    assert churn["base_rate"]["roc_auc"] == 0.5
    risk = json.loads((trained_small_models["metrics_dir"] / "risk_model.json").read_text())
    assert set(risk) == {"concordance", "km_max_gap"}


def test_the_evaluation_split_never_overlaps(trained_small_models):
    split = registry.get_model_metadata("churn_model", trained_small_models["models_dir"])["evaluation_split"]
    first_as_of, calibration, test = (dt.date.fromisoformat(split[key])
                                      for key in ("first_as_of", "calibration_start", "test_start"))
    assert first_as_of < calibration < test
    assert min(dt.date.fromisoformat(day) for day in split["test_as_of"]) == test


def test_same_data_and_seed_give_the_same_metrics(small_synthetic_warehouse):
    settings = small_training_params()["churn_model"] | {"candidates": ["boosted_trees", "base_rate"],
                                                         "allow_baseline": True}
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        first = training.evaluate(con, settings).metrics
        second = training.evaluate(con, settings).metrics
    # Through JSON, as the registry stores them (NaN equals NaN there).
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_the_registered_trees_have_the_evaluated_rounds(small_synthetic_warehouse):
    params = small_training_params()
    params["churn_model"] |= {"candidates": ["boosted_trees", "base_rate"], "candidate": "boosted_trees",
                              "allow_baseline": True}
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        trained = training.train_models(con, params)
        evaluated = training.evaluate(con, params["churn_model"]).curve.hazard_model.boosting_rounds
    assert evaluated < params["churn_model"]["params"]["max_iter"]  # the holdout stopped it
    for model, details in trained.values():
        # The registered model is the evaluated recipe: refitted on every window with the evaluated rounds.
        booster = model.estimator.hazard_model.pipeline_.steps[-1][1]
        assert details["boosting_rounds"] == booster.n_iter_ == evaluated


def test_bad_date_parameters_are_named(small_synthetic_warehouse):
    settings = small_training_params()["churn_model"] | {"test_start": "last spring"}
    with warehouse.get_connection(path=small_synthetic_warehouse) as con, pytest.raises(ValueError, match="churn_model.test_start"):
        training.evaluate(con, settings)


def test_model_card_states_the_measured_numbers(trained_small_models):
    card = (trained_small_models["models_dir"] / "model_card.md").read_text()
    churn = registry.get_model_metadata("churn_model", trained_small_models["models_dir"])
    selected = churn["metrics"][churn["candidate"]]
    assert f"{churn['metrics']['logistic_regression']['hazard_log_loss']:.5f}" in card
    assert f"{selected['horizons']['90d']['roc_auc']:.3f}" in card
    assert f"{selected['horizons']['90d']['realized_churners']:,}" in card
    assert f"concordance {churn['risk_metrics']['concordance']:.3f}" in card
    assert churn["version"] in card and churn["fit_id"] in card
    for check in churn["guardrails"]:
        assert check["message"] in card
