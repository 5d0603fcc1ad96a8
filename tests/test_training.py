"""Training end to end on a small synthetic warehouse: registry files, metadata, metrics, determinism."""

from __future__ import annotations

import json

import pytest

from conftest import small_training_params
from helpers import registry, warehouse
from helpers.models import training

REQUIRED_METADATA = {"name", "version", "trained_at", "as_of_range", "params", "features", "metrics",
                     "data_fingerprint", "sha256", "library_versions"}


def test_both_models_are_registered_with_full_metadata(trained_small_models):
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        content_hash = warehouse.read_metadata(con)["content_hash"]
    for name in ("churn_model", "risk_model"):
        metadata = registry.get_model_metadata(name, trained_small_models["models_dir"])
        assert REQUIRED_METADATA <= set(metadata), REQUIRED_METADATA - set(metadata)
        assert metadata["data_fingerprint"] == content_hash
        assert registry.load_model(name, trained_small_models["models_dir"]) is not None
    churn = registry.get_model_metadata("churn_model", trained_small_models["models_dir"])
    assert churn["horizon_days"] == 90
    assert set(churn["metrics"]) == {"churn_model", "base_rate", "recency_rule", "logistic_regression"}
    for values in churn["metrics"].values():
        assert {"roc_auc", "pr_auc", "brier", "top_decile_lift", "top_decile_churned_mrr_share", "reliability"} <= set(values)
    risk = registry.get_model_metadata("risk_model", trained_small_models["models_dir"])
    assert 0.5 < risk["metrics"]["concordance"] <= 1
    assert len(risk["metrics"]["km_calibration"]) == 12


def test_metrics_files_hold_the_headline_numbers(trained_small_models):
    churn = json.loads((trained_small_models["metrics_dir"] / "churn_model.json").read_text())
    assert set(churn) == {"churn_model", "base_rate", "recency_rule", "logistic_regression"}
    assert churn["base_rate"]["roc_auc"] == 0.5
    risk = json.loads((trained_small_models["metrics_dir"] / "risk_model.json").read_text())
    assert set(risk) == {"concordance", "km_max_gap"}


def test_the_evaluation_split_never_overlaps(trained_small_models):
    split = registry.get_model_metadata("churn_model", trained_small_models["models_dir"])["evaluation_split"]
    import datetime as dt

    last_train = dt.date.fromisoformat(split["train_as_of"][1])
    first_test = dt.date.fromisoformat(split["test_as_of"][0])
    assert last_train + dt.timedelta(days=90) <= first_test


def test_same_data_and_seed_give_the_same_metrics(small_synthetic_warehouse):
    settings = small_training_params()["churn_model"] | {"refit_on_all": False}
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        _, first = training.train_churn(con, settings)
        _, second = training.train_churn(con, settings)
    assert first["metrics"] == second["metrics"]


def test_bad_date_parameters_are_named(small_synthetic_warehouse):
    settings = small_training_params()["churn_model"] | {"test_start": "last spring"}
    with warehouse.get_connection(path=small_synthetic_warehouse) as con, pytest.raises(ValueError, match="churn_model.test_start"):
        training.train_churn(con, settings)


def test_model_card_states_the_measured_numbers(trained_small_models):
    card = (trained_small_models["models_dir"] / "model_card.md").read_text()
    churn = registry.get_model_metadata("churn_model", trained_small_models["models_dir"])
    risk = registry.get_model_metadata("risk_model", trained_small_models["models_dir"])
    assert f"{churn['metrics']['churn_model']['roc_auc']:.3f}" in card
    assert f"{churn['metrics']['logistic_regression']['roc_auc']:.3f}" in card
    assert f"concordance {risk['metrics']['concordance']:.3f}" in card
    assert churn["version"] in card and risk["version"] in card


def test_evaluation_predictions_cover_every_model(small_synthetic_warehouse):
    settings = small_training_params()["churn_model"]
    with warehouse.get_connection(path=small_synthetic_warehouse) as con:
        evaluation = training.fit_and_evaluate_churn(con, settings)
    assert set(evaluation.metrics) == {"churn_model", "base_rate", "recency_rule", "logistic_regression"}
    for name in evaluation.metrics:
        assert evaluation.predictions[name].between(0, 1).all()
    assert set(evaluation.predictions["as_of"]) == set(evaluation.split.test_dates)
