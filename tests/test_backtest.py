"""Backtest: expected against realized churn, by a reference computation on the snapshot."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import registry, warehouse
from helpers.models.backtest import backtest, backtest_dates
from helpers.analytics.features import snapshot


def test_backtest_sums_match_the_snapshot(trained_small_models):
    model = registry.load_model("churn_model", trained_small_models["models_dir"])
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        dates = backtest_dates(con, model.horizon_days, count=3)
        result = backtest(con, dates, model)
        frame = snapshot(con, dates[-1], model.horizon_days)
    assert list(result["as_of"]) == dates
    last = result.iloc[-1]
    probabilities = model.predict_proba(frame)
    assert last["customers"] == len(frame)
    assert last["realized_churners"] == int(frame["churned"].sum())
    assert last["expected_churners"] == pytest.approx(probabilities.sum())
    assert last["realized_mrr_lost"] == pytest.approx(float((frame["churned"] * frame["mrr_current"]).sum()))
    # The registered model was refitted on every labelled snapshot: these dates are in-sample.
    assert result["in_sample"].all()


def test_backtest_refuses_dates_whose_outcome_is_unknown(trained_small_models):
    model = registry.load_model("churn_model", trained_small_models["models_dir"])
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        data_end = warehouse.data_end(con)
        with pytest.raises(ValueError, match="outcome window"):
            backtest(con, [data_end - dt.timedelta(days=10)], model)


def test_backtest_dates_fit_the_data(trained_small_models):
    with warehouse.get_connection(path=trained_small_models["warehouse"]) as con:
        data_end = warehouse.data_end(con)
        dates = backtest_dates(con, 90, count=12)
    assert len(dates) == 12 and dates == sorted(dates)
    assert all(day.day == 1 for day in dates)
    assert dates[-1] + dt.timedelta(days=90) <= data_end + dt.timedelta(days=1)
