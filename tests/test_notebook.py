"""helpers.notebook: parameter resolution, connections by engine, formatting and report tables."""

from __future__ import annotations

import datetime as dt
import re
import types
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import subscription_frame

from helpers import config, dates
from helpers import notebook as nb
from helpers.models.selection import Split

DATA_END = dt.date(2025, 6, 30)
ROWS = [
    ("s1", "A", "starter", "2025-01-01", None, 100),
    ("s2", "B", "growth", "2025-02-01", "2025-05-01", 250),
    ("s3", "C", "enterprise", "2025-03-15", None, 1000),
]


@pytest.fixture
def small_warehouse(make_warehouse) -> Path:
    return make_warehouse(subscription_frame(ROWS), data_end=DATA_END)


# --- paths ------------------------------------------------------------------------


def test_empty_paths_fall_back_to_the_configured_defaults(monkeypatch, tmp_path):
    for variable in config.PATH_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert nb.resolve_warehouse_path("") == config.PROJECT_ROOT / "data" / "warehouse.duckdb"
    assert nb.resolve_models_dir(None) == config.PROJECT_ROOT / "models"
    assert nb.resolve_metrics_dir("  ") == config.PROJECT_ROOT / "metrics"
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("METRICS_DIR", str(tmp_path / "x"))
    assert nb.resolve_warehouse_path("") == tmp_path / "w.duckdb"
    assert nb.resolve_models_dir("") == tmp_path / "m"
    assert nb.resolve_metrics_dir("") == tmp_path / "x"


def test_given_paths_win_and_relative_ones_start_at_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_PATH", "/elsewhere/w.duckdb")
    monkeypatch.chdir(tmp_path)
    assert nb.resolve_warehouse_path("data/x.duckdb") == tmp_path / "data" / "x.duckdb"
    assert nb.resolve_models_dir(str(tmp_path / "models")) == tmp_path / "models"


# --- dates ------------------------------------------------------------------------


def test_auto_as_of_is_the_day_after_the_last_complete_month():
    start = dt.date(2024, 1, 1)
    assert dates.resolve_as_of("auto", start, dt.date(2025, 12, 31)) == dt.date(2026, 1, 1)
    assert dates.resolve_as_of("", start, dt.date(2025, 12, 15)) == dt.date(2025, 12, 1)
    assert dates.resolve_as_of(None, start, dt.date(2025, 12, 31)) == dt.date(2026, 1, 1)
    assert dates.resolve_as_of("2025-07-01", start, dt.date(2025, 12, 31)) == dt.date(2025, 7, 1)


@pytest.mark.parametrize("value, message", [
    ("2026-02-01", "after the data"),
    ("2023-06-01", "before any data"),
    ("2025-13-01", "must be a date"),
    ("yesterday", "must be a date"),
])
def test_as_of_outside_the_data_or_malformed_is_refused(value, message):
    with pytest.raises(ValueError, match=message):
        dates.resolve_as_of(value, dt.date(2024, 1, 1), dt.date(2025, 12, 31))


def test_analysis_window_ends_with_the_state_at_the_end_of_the_last_complete_month():
    assert nb.last_complete_month(dt.date(2026, 1, 1)) == dt.date(2025, 12, 1)
    assert nb.last_complete_month("2025-12-15") == dt.date(2025, 11, 1)
    # The snapshot on 1 January 2026 is the state at the end of December: December's churn shows in it.
    assert nb.last_snapshot(dt.date(2026, 1, 1)) == dt.date(2026, 1, 1)
    assert nb.last_snapshot("2025-12-15") == dt.date(2025, 12, 1)
    assert nb.month_window(dt.date(2026, 1, 1), 12) == (dt.date(2025, 2, 1), dt.date(2026, 1, 1))
    assert nb.month_window(dt.date(2026, 1, 1), 1) == (dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    with pytest.raises(ValueError, match="months must be an int >= 1, got 0"):
        nb.month_window(dt.date(2026, 1, 1), 0)


# --- connections --------------------------------------------------------------------


def test_open_report_resolves_as_of_from_the_data(small_warehouse, tmp_path):
    with nb.open_report("auto", str(small_warehouse), str(tmp_path / "models")) as report:
        assert report.as_of == dt.date(2025, 7, 1)
        # Data through 30 June: the last snapshot is the state on 1 July, the end of June.
        assert report.last_month == dt.date(2025, 7, 1)
        assert report.window(3) == (dt.date(2025, 5, 1), dt.date(2025, 7, 1))
        assert report.models_dir == tmp_path / "models"
        assert report.con.execute("select count(*) from raw.customers").fetchone()[0] == 3
        caption = report.caption()
        assert "As of 2025-07-01" in caption and "June 2025" in caption
        assert str(tmp_path) not in caption  # no paths in report text
    with pytest.raises(ValueError, match="after the data"):
        nb.open_report("2025-09-01", str(small_warehouse))


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be one of 'duckdb', 'spark'"):
        with nb.connect("postgres"):
            pass


# --- parameters -----------------------------------------------------------------------


def test_training_params_merge_overrides_and_refuse_unknown_keys():
    params = nb.load_training_params("", "{churn_model: {params: {max_iter: 7}}}", horizon_days=30)
    assert params["churn_model"]["params"]["max_iter"] == 7
    assert params["churn_model"]["horizon_days"] == 30
    assert params["churn_model"]["params"]["learning_rate"] == nb.load_training_params()["churn_model"]["params"]["learning_rate"]
    with pytest.raises(ValueError, match="churn_model.params.max_iters"):
        nb.load_training_params("", {"churn_model": {"params": {"max_iters": 7}}})
    with pytest.raises(ValueError, match="mapping"):
        nb.load_training_params("", "[1, 2]")


# --- formatting -------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (12345.6, "$12,346"), (Decimal("-9730.14"), "-$9,730"), (0, "$0"), (-0.4, "$0"),
    (None, "—"), (float("nan"), "—"), (np.float64(1e6), "$1,000,000"),
])
def test_format_money(value, expected):
    assert nb.format_money(value) == expected


def test_format_percent_count_number_and_month():
    assert nb.format_percent(0.1234) == "12.3%"
    assert nb.format_percent(1.5, decimals=0) == "150%"
    assert nb.format_percent(None) == "—"
    assert nb.format_count(12345) == "12,345"
    assert nb.format_number(1.23456, 2) == "1.23"
    assert nb.format_month(pd.Timestamp("2025-12-01")) == "2025-12"
    assert nb.format_date(dt.date(2025, 12, 31)) == "2025-12-31"
    assert nb.format_money(Decimal("12.5"), decimals=2) == "$12.50"


def test_format_table_formats_renames_and_indexes():
    frame = pd.DataFrame({"month": pd.to_datetime(["2025-01-01"]), "mrr": [Decimal("1234.5")], "share": [0.25],
                          "customers": [1200], "ratio": [1.234]})
    shown = nb.format_table(frame, money=["mrr"], percent=["share"], counts=["customers"], numbers={"ratio": 1},
                            months=["month"], index="month", rename={"mrr": "MRR"})
    assert shown.index.tolist() == ["2025-01"]
    assert shown.iloc[0].to_dict() == {"MRR": "$1,234", "share": "25.0%", "customers": "1,200", "ratio": "1.2"}
    assert frame["mrr"].iloc[0] == Decimal("1234.5")  # the input is not changed
    with pytest.raises(KeyError, match="no column"):
        nb.format_table(frame, money=["revenue"])


def test_key_figures_print_plain_deterministic_text(capsys):
    nb.print_key_figures({
        "customers": np.int64(5000),
        "GRR": np.float64(0.987),
        "ending MRR": Decimal("4667773.68"),
        "month": dt.date(2025, 12, 1),
        "by tier": {"low": np.int64(3), "high": 1},
    })
    assert capsys.readouterr().out.splitlines() == [
        "customers   5000",
        "GRR         0.987",
        "ending MRR  4667773.68",
        "month       2025-12-01",
        "by tier     {low: 3, high: 1}",
    ]


def test_demote_headings_leaves_code_blocks_alone():
    text = "# Card\n\n## Use\n\n```\n# a comment\n```\ntext # not a heading"
    assert nb.demote_headings(text) == "## Card\n\n### Use\n\n```\n# a comment\n```\ntext # not a heading"


# --- report tables --------------------------------------------------------------------------


def test_data_tests_listed_and_summarised_per_table(small_warehouse):
    with nb.connect("duckdb", str(small_warehouse)) as con:
        results = nb.data_test_results(con)
    assert set(results["result"]) == {"pass"}
    summary = nb.data_test_summary(results)
    assert summary.loc["customers", "tests"] == summary.loc["customers", "passed"]
    assert summary["tests"].sum() == len(results)
    assert "not null x5" in summary.loc["customers", "checks"]


def test_weekly_event_counts_keep_complete_weeks_only():
    daily = pd.DataFrame({
        "day": pd.to_datetime(["2025-01-01", "2025-01-06", "2025-01-07", "2025-01-13", "2025-01-19", "2025-01-20"]),
        "event_type": ["api_call", "api_call", "report_view", "api_call", "api_call", "api_call"],
        "events": [5, 1, 2, 3, 4, 9],
    })
    weekly = nb.weekly_event_counts(daily)
    # 2025-01-01 is a Wednesday (partial week) and 2025-01-20 starts a week that ends after the data.
    assert weekly.index.tolist() == [pd.Timestamp("2025-01-06"), pd.Timestamp("2025-01-13")]
    assert weekly.loc["2025-01-06"].to_dict() == {"api_call": 1, "report_view": 2}
    assert weekly.loc["2025-01-13", "api_call"] == 7


def scores_frame() -> pd.DataFrame:
    tiers = pd.Categorical(["critical", "high", "low", "low"], categories=["low", "medium", "high", "critical"],
                           ordered=True)
    return pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"],
        "plan_tier": ["starter", "enterprise", "growth", "growth"],
        "industry": ["FinTech", "EdTech", "FinTech", "Other"],
        "mrr": [100.0, 1000.0, 500.0, 0.0],
        "churn_probability": [0.6, 0.3, 0.05, 0.01],
        "risk_tier": tiers,
        "survival_3m": [0.5, 0.8, 0.99, 1.0],
        "survival_6m": [0.3, 0.7, 0.97, 1.0],
        "survival_12m": [0.1, 0.5, 0.9, 0.95],
        "expected_mrr_at_risk_3m": [50.0, 200.0, 5.0, 0.0],
        "expected_mrr_at_risk_6m": [70.0, 300.0, 15.0, 0.0],
        "expected_mrr_at_risk_12m": [90.0, 500.0, 50.0, 0.0],
        "top_drivers": [["adoption_30d (+0.300)", "events_7d (+0.001)"], ["mrr_current (+0.120)"], [], []],
    })


def test_top_accounts_rank_by_mrr_at_risk_or_probability():
    by_money = nb.top_accounts(scores_frame(), 2)
    assert by_money["customer_id"].tolist() == ["B", "A"]  # 1000 x 0.3 > 100 x 0.6
    assert by_money["mrr_at_risk"].tolist() == pytest.approx([300.0, 60.0])
    assert by_money["drivers"].tolist() == ["mrr_current +0.12", "adoption_30d +0.30"]  # +0.001 dropped
    by_probability = nb.top_accounts(scores_frame(), 2, rank_by="probability")
    assert by_probability["customer_id"].tolist() == ["A", "B"]
    with pytest.raises(ValueError, match="rank_by"):
        nb.top_accounts(scores_frame(), 2, rank_by="mrr")
    with pytest.raises(ValueError, match="top_n"):
        nb.top_accounts(scores_frame(), 0)


def test_tier_and_segment_summaries():
    tiers = nb.tier_summary(scores_frame())
    assert tiers["risk_tier"].tolist() == ["low", "medium", "high", "critical"]  # empty tiers shown
    assert tiers["customers"].tolist() == [2, 0, 1, 1]
    assert tiers["customer_share"].sum() == pytest.approx(1.0)
    assert tiers.set_index("risk_tier").loc["high", "mrr_at_risk"] == pytest.approx(300.0)
    plans = nb.segment_summary(scores_frame(), "plan_tier", order=["free", "starter", "growth", "enterprise"])
    assert plans["plan_tier"].tolist() == ["starter", "growth", "enterprise"]  # absent plans skipped
    growth = plans.set_index("plan_tier").loc["growth"]
    assert growth["mrr_at_risk_share"] == pytest.approx(25.0 / 500.0)
    assert growth["high_risk_customers"] == 0


def test_mrr_at_risk_by_horizon_and_table():
    long = nb.mrr_at_risk_by_horizon(scores_frame())
    assert long.groupby("horizon_months")["expected_mrr_at_risk"].sum().to_dict() == {3: 255.0, 6: 385.0, 12: 640.0}
    table = nb.mrr_at_risk_table(scores_frame())
    assert table["horizon"].tolist() == ["3 months", "6 months", "12 months"]
    assert table["share_of_mrr"].iloc[0] == pytest.approx(255.0 / 1600.0)
    assert table["expected_churners"].iloc[2] == pytest.approx(0.9 + 0.5 + 0.1 + 0.05)


def test_backtest_dates_end_before_the_report_as_of(small_warehouse):
    with nb.connect("duckdb", str(small_warehouse)) as con:
        # Data ends 2025-06-30: a 90-day window must end by 2025-07-01.
        assert nb.backtest_dates(con, dt.date(2025, 7, 1), 3) == [
            dt.date(2025, 2, 1), dt.date(2025, 3, 1), dt.date(2025, 4, 1)]
        # An earlier as-of date moves the dates back: no outcome after it is used.
        assert nb.backtest_dates(con, dt.date(2025, 5, 1), 2) == [dt.date(2024, 12, 1), dt.date(2025, 1, 1)]


def test_a_report_before_the_training_outcomes_end_says_it_is_in_sample():
    meta = {"trained_through": "2025-06-30"}
    warning = nb.in_sample_warning(dt.date(2025, 3, 1), meta)
    assert "In-sample" in warning and "2025-06-30" in warning and "2025-03-01" in warning
    assert nb.in_sample_warning(dt.date(2025, 7, 1), meta) == ""
    assert nb.in_sample_warning(dt.date(2025, 3, 1), {}) == ""


def test_out_of_sample_note_says_which_windows_are_open():
    results = pd.DataFrame({"realized_churners_12m": [10.0, float("nan")]})
    note = nb.out_of_sample_note(results, "logistic_regression", "sigmoid")
    assert "out of sample" in note and "logistic_regression" in note and "For 1 dates" in note


def test_forecast_check_reads_the_registered_candidate():
    horizons = {"90d": {"rows": 5, "as_of_dates": 2, "expected_churners": 11.0, "realized_churners": 10,
                        "expected_mrr_lost": 900.0, "realized_mrr_lost": 1000.0},
                "12m": {"rows": 0}}
    table = nb.forecast_check({"candidate": "boosted_trees", "metrics": {"boosted_trees": {"horizons": horizons}}})
    assert table["horizon"].tolist() == ["90d"]
    assert table["churners_error"].iloc[0] == pytest.approx(0.1)
    assert table["mrr_error"].iloc[0] == pytest.approx(-0.1)


def test_evaluation_model_card_says_nothing_was_registered():
    split = Split(dt.date(2023, 4, 1), dt.date(2024, 6, 1), dt.date(2024, 9, 1), dt.date(2025, 1, 1))
    horizon = {"rows": 5, "as_of_dates": 3, "expected_churners": 10.0, "realized_churners": 9,
               "expected_mrr_lost": 100.0, "realized_mrr_lost": 90.0, "churners_ratio": 10 / 9, "brier": 0.05,
               "roc_auc": 0.8}
    values = {"hazard_log_loss": 0.1234567, "calibration": "sigmoid", "horizons": {"90d": horizon},
              "time_dependent_auc": {"3m": 0.7}, "integrated_brier_score": 0.1}
    evaluation = types.SimpleNamespace(
        split=split, metrics={"logistic_regression": values}, selected="logistic_regression", train_rows=10,
        train_churners=3, guardrails=[{"check": "history", "status": "ok", "message": "plenty"}],
        risk_metrics={"customers": 5, "evaluation_as_of": "2024-09-01", "concordance": 0.7, "km_max_gap": 0.02,
                      "km_calibration": []},
    )
    card = nb.evaluation_model_card(evaluation, nb.load_training_params(), "abcdef0123456789")
    assert "Not registered" in card and "The registered model was then refitted" not in card
    assert "`not registered`" in card and "`abcdef012345`" in card
    assert "0.800" in card and "0.12346" in card and "plenty" in card


def test_model_work_can_be_limited_to_one_openmp_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime scikit-learn uses)

    with nb.limited_threads(1):
        openmp = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "openmp"]
        assert all(pool["num_threads"] == 1 for pool in openmp)
    with nb.limited_threads(0):  # no limit
        pass
    with pytest.raises(ValueError, match="threads"):
        with nb.limited_threads(-1):
            pass


def test_weekly_event_counts_of_no_events_is_empty():
    empty = pd.DataFrame({"day": pd.to_datetime([]), "event_type": [], "events": []})
    assert nb.weekly_event_counts(empty).empty


@pytest.mark.parametrize("notebook", ["01_warehouse_overview", "02_cohort_report"])
def test_the_reports_that_read_no_model_import_no_scikit_learn(notebook):
    """Their kernels import what they call and nothing more: scikit-learn and scipy.stats took 2 s of each start."""
    import json
    import subprocess
    import sys

    cells = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    imports = [line for source in sources for line in source.splitlines() if line.startswith(("from ", "import "))]
    used = sorted({f"{module}.{name}" for source in sources
                   for module, name in re.findall(r"\b(nb|plots)\.(\w+)", source)})
    assert len(used) > 5, used
    code = "\n".join([*imports, *used, "import sys",
                      "print(sorted(m for m in ('sklearn', 'scipy.stats') if m in sys.modules))"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_every_exported_name_resolves_to_its_modules_object_and_covers_what_the_notebooks_call():
    import importlib
    import json

    for module, names in nb.EXPORTS.items():
        for name in names:
            assert getattr(nb, name) is getattr(importlib.import_module(module), name), (module, name)
    assert sorted(nb.__all__) == sorted(name for names in nb.EXPORTS.values() for name in names)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_table'"):
        nb.no_such_table  # noqa: B018
    called = set()
    for notebook in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            called |= set(re.findall(r"\bnb\.(\w+)", "".join(cell["source"])))
    assert len(called) > 30 and called <= set(nb.__all__), called - set(nb.__all__)
