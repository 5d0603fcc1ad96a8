"""Rolling-origin backtest: each date scored by a model fitted only on what was known before it."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from conftest import small_training_params
from helpers import registry, warehouse
from helpers.analytics.features import snapshot
from helpers.cli import main
from helpers.dates import add_months, resolve_as_of
from helpers.models.backtest import (
    backtest_for,
    backtest_key,
    origins,
    rolling_backtest,
    stored_backtest,
    write_backtest,
)


@pytest.fixture(scope="module")
def rolled(trained_small_models):
    settings = small_training_params()["churn_model"]
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        table = rolling_backtest(con, settings, "logistic_regression", "none", count=2)
        labels = {day: snapshot(con, day, 90) for day in table["as_of"]}
        data_end = warehouse.data_end(con)
    return table, labels, data_end


def test_each_date_is_scored_out_of_sample_against_the_snapshot_label(rolled):
    table, labels, _ = rolled
    for row in table.itertuples():
        frame = labels[row.as_of]
        assert row.trained_through < row.as_of
        assert row.customers == len(frame)
        assert row.realized_churners_90d == int(frame["churned"].sum())
        assert row.realized_mrr_lost_90d == pytest.approx(float((frame["churned"] * frame["mrr_current"]).sum()))
        assert row.expected_churners_12m >= row.expected_churners_90d


def test_windows_still_open_are_left_blank(rolled):
    table, _, data_end = rolled
    for row in table.itertuples():
        closed = row.as_of + dt.timedelta(days=365) <= data_end + dt.timedelta(days=1)
        assert closed == (row.realized_churners_12m == row.realized_churners_12m)  # NaN when open


def test_refits_side_by_side_give_the_table_of_refits_one_after_another(trained_small_models, monkeypatch):
    """The origins are refitted on parallel threads: the same boosted-tree table as on one thread."""
    from helpers import threads

    settings = small_training_params()["churn_model"]
    tables = {}
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        for count in ("1", "2"):
            monkeypatch.setenv(threads.THREADS_VARIABLE, count)
            tables[count] = rolling_backtest(con, settings, "boosted_trees", "none", count=2)
    pd.testing.assert_frame_equal(tables["1"], tables["2"], check_exact=True)
    assert tables["2"]["expected_churners_90d"].notna().all()


def test_each_origin_refits_the_registered_rounds(trained_small_models, monkeypatch):
    """Given the registered trees' rounds, every origin's refit has as many (no holdout fit of its own)."""
    from helpers.models import hazard

    fitted = []
    fit = hazard.BoostedHazard.fit

    def recording_fit(self, rows):
        model = fit(self, rows)
        fitted.append(model.boosting_rounds)
        return model

    monkeypatch.setattr(hazard.BoostedHazard, "fit", recording_fit)
    settings = small_training_params()["churn_model"]
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        table = rolling_backtest(con, settings, "boosted_trees", "none", count=2, rounds=4)
    assert fitted == [4, 4] and len(table) == 2
    assert settings["params"].get("boosting_rounds") is None  # the caller's settings are left as they were


def test_origins_fit_the_data_and_a_report_date():
    dates = origins(dt.date(2025, 6, 30), 90, 3)
    assert dates == [dt.date(2025, 2, 1), dt.date(2025, 3, 1), dt.date(2025, 4, 1)]
    assert origins(dt.date(2025, 6, 30), 90, 1, latest=dt.date(2025, 5, 1)) == [dt.date(2025, 1, 1)]
    with pytest.raises(ValueError, match=r"count \(backtest dates\) must be an int >= 1, got 0"):
        origins(dt.date(2025, 6, 30), 90, 0)


def test_too_many_dates_say_how_many_fit(trained_small_models):
    settings = small_training_params()["churn_model"]
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con, \
            pytest.raises(ValueError, match="ask for fewer dates"):
        rolling_backtest(con, settings, "base_rate", "none", count=60)


def test_the_command_writes_the_table(trained_small_models, tmp_path):
    arguments = (small_training_params(), 1, trained_small_models["warehouse"], trained_small_models["models_dir"],
                 tmp_path)
    table, (csv_path, json_path), up_to_date = write_backtest(*arguments)
    assert len(table) == 1 and csv_path.is_file() and json_path.is_file() and not up_to_date
    assert "expected_churners_90d" in csv_path.read_text()
    written = {path: path.stat().st_mtime_ns for path in (csv_path, json_path)}
    again, _, up_to_date = write_backtest(*arguments)
    assert up_to_date, "the same key: the stored table is the answer"
    pd.testing.assert_frame_equal(again, table)
    assert {path: path.stat().st_mtime_ns for path in (csv_path, json_path)} == written, "nothing was rewritten"


@pytest.fixture(scope="module")
def stored(trained_small_models, tmp_path_factory):
    """The pipeline's backtest (one origin) written as of the reports' auto date, and what it was keyed on."""
    folder = tmp_path_factory.mktemp("metrics")
    params = small_training_params()
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        metadata = warehouse.read_metadata(con)
    latest = resolve_as_of("auto", metadata["data_start"], metadata["data_end"])
    table, (_, json_path), _ = write_backtest(params, 1, trained_small_models["warehouse"],
                                              trained_small_models["models_dir"], folder, latest)
    churn_meta = registry.get_model_metadata("churn_model", trained_small_models["models_dir"])
    return {"table": table, "folder": folder, "json": json_path, "latest": latest, "metadata": metadata,
            "churn_meta": churn_meta, "settings": params["churn_model"]}


def test_a_report_reads_the_stored_backtest_and_it_equals_a_fresh_one(trained_small_models, stored):
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        read, was_stored = backtest_for(con, stored["settings"], stored["churn_meta"], 1, stored["latest"],
                                        stored["folder"])
        fresh = rolling_backtest(con, stored["settings"], stored["churn_meta"]["candidate"],
                                 stored["churn_meta"]["calibration"], 1, stored["latest"])
    assert was_stored
    pd.testing.assert_frame_equal(read, fresh)
    pd.testing.assert_frame_equal(read, stored["table"])


def test_a_stored_backtest_serves_only_the_same_warehouse_model_settings_and_dates(stored):
    def key(**changes):
        metadata = {**stored["metadata"], **changes.pop("metadata", {})}
        churn_meta = {**stored["churn_meta"], **changes.pop("churn_meta", {})}
        arguments = {"settings": stored["settings"], "count": 1, "latest": stored["latest"], **changes}
        return backtest_key(metadata, churn_meta, **arguments)

    assert stored_backtest(stored["json"], key()) is not None
    different = {
        "another warehouse": key(metadata={"content_hash": "0" * 64}),
        "a retrained model": key(churn_meta={"sha256": "f" * 64, "version": "other"}),
        "another recipe": key(churn_meta={"calibration": "isotonic"}),
        "other settings": key(settings={**stored["settings"], "logistic_C": 0.5}),
        "more dates": key(count=2),
        "another report date": key(latest=add_months(stored["latest"], -1)),
        "no report date": key(latest=None),
    }
    for what, other in different.items():
        assert stored_backtest(stored["json"], other) is None, what


def test_a_missing_or_broken_stored_backtest_is_computed_again(trained_small_models, stored, tmp_path):
    assert stored_backtest(tmp_path / "backtest.json", {}) is None
    (tmp_path / "backtest.json").write_text("{not json")
    assert stored_backtest(tmp_path / "backtest.json", {}) is None
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        table, was_stored = backtest_for(con, stored["settings"], stored["churn_meta"], 1, stored["latest"], tmp_path)
    assert not was_stored
    pd.testing.assert_frame_equal(table, stored["table"])


def test_the_pipeline_stage_without_a_model_records_why_and_exits_0(trained_small_models, tmp_path, capsys):
    arguments = ["backtest", "--as-of", "auto", "--warehouse", str(trained_small_models["warehouse"]),
                 "--models-dir", str(tmp_path / "no-models"), "--metrics-dir", str(tmp_path / "metrics")]
    assert main(arguments) == 2, "without --when-possible a missing model is an error"
    assert "there is no churn_model" in capsys.readouterr().err
    assert main([*arguments, "--when-possible"]) == 0
    record = json.loads((tmp_path / "metrics" / "backtest.json").read_text())
    assert record["backtest"] is False and "there is no churn_model" in record["reason"]
    assert stored_backtest(tmp_path / "metrics" / "backtest.json", {"any": "key"}) is None
