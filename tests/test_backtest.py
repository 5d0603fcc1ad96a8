"""Rolling-origin backtest: each date scored by a model fitted only on what was known before it."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import small_training_params
from helpers import warehouse
from helpers.analytics.features import snapshot
from helpers.models.backtest import origins, rolling_backtest, write_backtest


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
    table, (csv_path, json_path) = write_backtest(
        small_training_params(), 1, trained_small_models["warehouse"], trained_small_models["models_dir"], tmp_path)
    assert len(table) == 1 and csv_path.is_file() and json_path.is_file()
    assert "expected_churners_90d" in csv_path.read_text()
