"""The benchmark harness at a tiny scale: complete, self-consistent output and correct references.

No timing is asserted anywhere: only that every number is there, that the
ratios are computed from the numbers written, and that the reference
implementations compute the snapshot's own event features.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # bench/ is not an installed package; `python -m pytest` adds it anyway
    sys.path.insert(0, str(PROJECT_ROOT))

from bench import harness, reference, summary  # noqa: E402
from bench.cli import build_parser  # noqa: E402
from bench.harness import Benchmark, Settings  # noqa: E402
from helpers import config, warehouse
from helpers.analytics import features

SUITE_STEPS = ("generation", "warehouse_build", "validate", "snapshot", "stacked_snapshots", "mrr_movements",
               "retention_logo", "retention_revenue", "kaplan_meier_by_plan_tier", "train_models", "score_customers",
               "score_customers_one_thread", "backtest_rolling")
NEW_TARGETS = ("stacked_snapshots_within_3x_of_snapshot", "train_models_vs_floor",
               "score_customers_within_3x_of_snapshot", "reports_under_20_s_each", "reports_under_60_s_together",
               "backtest_rolling_under_600_s")
REFERENCES = ("floor_single_query", "per_customer_loop", "pandas_load_events", "pandas_groupby",
              "process_baseline")
NUMBER_FIELDS = ("median_s", "min_s", "max_s", "peak_rss_mb")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> dict:
    """``python -m bench`` at 300 customers / 20,000 events, one timed run, a stand-in report command."""
    folder = tmp_path_factory.mktemp("bench")
    params = config.load_params()
    params["churn_model"]["params"].update(max_iter=10, min_samples_leaf=5)
    # 300 customers time the harness, not a model: a baseline may win, and registering it is allowed here.
    params["churn_model"]["allow_baseline"] = True
    params_file = folder / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    json_path = folder / "results" / "bench.json"
    command = [
        sys.executable, "-m", "bench",
        "--customers", "300", "--events", "20000", "--repeat", "1", "--warmup", "0",
        "--sample-customers", "20",
        "--cache-dir", str(folder / "cache"),
        "--json", str(json_path),
        "--train-params", str(params_file),
        "--report", "stand_in={python} -c pass",
    ]
    # One OpenMP thread: scikit-learn's spin-waiting threads make training several
    # times slower on a busy machine, and nothing here depends on speed.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        "results": json.loads(json_path.read_text()),
        "markdown": json_path.with_suffix(".md").read_text(),
        "stdout": done.stdout,
        "cache": folder / "cache",
    }


def test_every_step_and_reference_has_its_numbers(bench_run):
    results = bench_run["results"]
    assert set(results) >= {"scale", "steps", "reference", "ratios"}
    assert results["scale"]["customers"] == 300 and results["scale"]["events"] == 20000
    for name in SUITE_STEPS + ("report_stand_in",):
        entry = results["steps"][name]
        for field in NUMBER_FIELDS:
            assert isinstance(entry[field], (int, float)) and entry[field] >= 0, (name, field, entry)
        assert entry["min_s"] <= entry["median_s"] <= entry["max_s"], (name, entry)
    for name in REFERENCES:
        entry = results["reference"][name]
        for field in NUMBER_FIELDS:
            assert isinstance(entry[field], (int, float)) and entry[field] >= 0, (name, field, entry)
    assert results["steps"]["validate"]["info"]["problems"] == 0


def test_ratios_come_from_the_numbers_in_the_json(bench_run):
    steps, references, ratios = (bench_run["results"][key] for key in ("steps", "reference", "ratios"))
    snapshot, floor = steps["snapshot"]["median_s"], references["floor_single_query"]["median_s"]
    expected = {
        "snapshot_over_floor_single_query": snapshot / floor,
        "per_customer_loop_over_snapshot": references["per_customer_loop"]["median_s"] / snapshot,
        "pandas_groupby_over_snapshot": references["pandas_groupby"]["median_s"] / snapshot,
        "stacked_snapshots_over_snapshot": steps["stacked_snapshots"]["median_s"] / snapshot,
        "train_models_over_floor_single_query": steps["train_models"]["median_s"] / floor,
        "score_customers_over_snapshot": steps["score_customers"]["median_s"] / snapshot,
        "backtest_rolling_over_floor_single_query": steps["backtest_rolling"]["median_s"] / floor,
    }
    for name, value in expected.items():
        assert ratios[name] == pytest.approx(value, rel=1e-3, abs=1e-4), name


def test_the_new_targets_are_measured_in_the_smoke_run(bench_run):
    targets = bench_run["results"]["targets"]
    assert targets["at_target_scale"] is False
    for name in NEW_TARGETS + ("peak_rss_under_3_gb",):
        assert isinstance(targets[name]["value"], (int, float)), (name, targets[name])
        assert isinstance(targets[name]["met"], bool), (name, targets[name])
        assert f"| {name} |" in bench_run["markdown"], name
    assert targets["train_models_vs_floor"]["threshold"] == 30.0
    assert targets["train_models_vs_floor"]["cached"] is False
    # One report command (the stand-in): the slowest and the sum are its median.
    report = bench_run["results"]["steps"]["report_stand_in"]["median_s"]
    assert targets["reports_under_20_s_each"]["value"] == report
    assert targets["reports_under_60_s_together"]["value"] == pytest.approx(report)


def test_stacked_snapshots_and_backtest_ran_on_their_inputs(bench_run):
    steps = bench_run["results"]["steps"]
    stacked = steps["stacked_snapshots"]["info"]
    assert stacked["dates"] == 36 and stacked["rows"] > 0
    assert stacked["matches_snapshot"] is True and stacked["differences"] == []
    assert steps["backtest_rolling"]["info"]["rows"] == 12


def test_the_loop_is_extrapolated_from_its_sample(bench_run):
    loop = bench_run["results"]["reference"]["per_customer_loop"]
    info = loop["info"]
    assert info["sample_customers"] == 20 and info["population"] >= 20
    assert info["matches_snapshot"] is True
    factor = info["population"] / info["sample_customers"]
    assert loop["median_s"] == pytest.approx(loop["sample_median_s"] * factor, rel=1e-3, abs=1e-5)
    assert "extrapolated" in loop["note"]


def test_the_references_were_checked_against_the_snapshot(bench_run):
    references = bench_run["results"]["reference"]
    assert references["floor_single_query"]["info"]["matches_snapshot"] is True
    assert references["pandas_groupby"]["info"]["matches_snapshot"] is True


def test_the_training_note_names_the_registered_model_and_its_rounds(bench_run):
    (metadata_file,) = bench_run["cache"].glob("*/models/churn_model_metadata.json")
    registered = json.loads(metadata_file.read_text())
    info = bench_run["results"]["steps"]["train_models"]["info"]
    assert (info["candidate"], info["boosting_rounds"]) == (registered["candidate"], registered.get("boosting_rounds"))
    (row,) = [line for line in bench_run["markdown"].splitlines() if line.startswith("| train_models |")]
    assert f"registered {registered['candidate']}" in row
    if registered.get("boosting_rounds"):
        assert f"{registered['boosting_rounds']} rounds, stopped on held-out customers (max_iter 10)" in row


def test_the_markdown_table_lists_every_step(bench_run):
    for text in (bench_run["markdown"], bench_run["stdout"]):
        for name in SUITE_STEPS + ("report_stand_in",) + REFERENCES:
            assert f"| {name} |" in text, name
        for name in bench_run["results"]["ratios"]:
            assert f"| {name} |" in text, name


def test_a_second_run_reuses_the_cached_warehouse_and_models(bench_run, tmp_path):
    scale = bench_run["results"]["scale"]
    cache_dir = Path(scale["warehouse"]).parents[1]
    settings = Settings(
        customers=300, events=20000, repeat=1, warmup=0, cache_dir=cache_dir,
        json_path=tmp_path / "again.json", markdown_path=tmp_path / "again.md",
        reports=[], only=frozenset({"snapshot"}), train_params=Path(scale["training"]["params_file"]),
    )
    results = Benchmark(settings, log=lambda line: None).run()
    assert results["scale"]["warehouse_reused"] is True
    assert results["steps"]["generation"]["cached"] is True
    assert set(results["steps"]) == {"generation", "warehouse_build", "snapshot"}


def test_reports_are_skipped_with_a_note_while_the_runner_is_missing(bench_run, tmp_path, monkeypatch):
    scale = bench_run["results"]["scale"]
    missing = "ModuleNotFoundError: No module named 'helpers.reports'"
    monkeypatch.setattr(harness, "report_catalog", lambda python, env: (None, missing))
    settings = Settings(
        customers=300, events=20000, repeat=1, warmup=0, cache_dir=Path(scale["warehouse"]).parents[1],
        json_path=tmp_path / "reports.json", markdown_path=tmp_path / "reports.md",
        only=frozenset({"reports"}), train_params=Path(scale["training"]["params_file"]),
    )
    results = Benchmark(settings, log=lambda line: None).run()
    entry = results["steps"]["report"]
    assert entry["status"] == "not available" and missing in entry["note"]
    assert all(entry[field] is None for field in NUMBER_FIELDS)
    assert results["targets"]["reports_under_20_s_each"]["met"] is None
    assert results["targets"]["reports_under_60_s_together"]["met"] is None
    assert "not available" in (tmp_path / "reports.md").read_text()


def test_floor_and_pandas_references_equal_the_snapshot_features_column_by_column(bench_run):
    path = Path(bench_run["results"]["scale"]["warehouse"])
    with warehouse.get_connection(path=path) as con:
        for as_of in (dt.date(2024, 7, 1), dt.date(2026, 1, 1)):
            snapshot = features.snapshot(con, as_of)
            floor = reference.event_features(reference.floor_event_aggregates(con, as_of), as_of)
            in_pandas = reference.event_features(
                reference.pandas_event_aggregates(reference.load_events(con, as_of), as_of), as_of
            )
            assert reference.compare_with_snapshot(snapshot, floor) == []
            assert reference.compare_with_snapshot(snapshot, in_pandas) == []
            # The two references agree on every customer with events, not only the snapshot's.
            pd.testing.assert_frame_equal(floor, in_pandas, check_dtype=False, rtol=1e-9)
            assert len(snapshot) and floor["events_90d"].sum() > 0


def test_the_comparison_notices_a_wrong_feature(bench_run):
    path = Path(bench_run["results"]["scale"]["warehouse"])
    as_of = dt.date(2026, 1, 1)
    with warehouse.get_connection(path=path) as con:
        snapshot = features.snapshot(con, as_of)
        floor = reference.event_features(reference.floor_event_aggregates(con, as_of), as_of)
    tampered = floor.copy()
    tampered.loc[tampered["customer_id"].isin(snapshot["customer_id"]).idxmax(), "events_30d"] += 1
    problems = reference.compare_with_snapshot(snapshot, tampered)
    assert len(problems) == 1 and problems[0].startswith("events_30d")


def test_the_command_line_refuses_a_malformed_report():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--report", "no-command-here"])
    assert build_parser().parse_args(["--report", "a=echo {as_of}"]).reports == [("a", "echo {as_of}")]


def test_a_second_run_divides_the_cached_training_time_by_its_floor(bench_run, tmp_path):
    scale = bench_run["results"]["scale"]
    settings = Settings(
        customers=300, events=20000, repeat=1, warmup=0, cache_dir=Path(scale["warehouse"]).parents[1],
        json_path=tmp_path / "cached.json", markdown_path=tmp_path / "cached.md", reports=[],
        only=frozenset({"floor_single_query", "score_customers"}), train_params=Path(scale["training"]["params_file"]),
    )
    results = Benchmark(settings, log=lambda line: None).run()
    trained = results["steps"]["train_models"]
    assert results["scale"]["models_reused"] is True and trained["cached"] is True
    assert trained["median_s"] == bench_run["results"]["steps"]["train_models"]["median_s"]
    expected = trained["median_s"] / results["reference"]["floor_single_query"]["median_s"]
    assert results["ratios"]["train_models_over_floor_single_query"] == pytest.approx(expected, rel=1e-3)
    assert results["targets"]["train_models_vs_floor"]["cached"] is True
    assert any("train_models_over_floor_single_query" in note and "cache" in note for note in results["notes"])
    assert "(training time from the cache)" in (tmp_path / "cached.md").read_text()


def test_the_stacked_comparison_notices_a_wrong_value(bench_run):
    path = Path(bench_run["results"]["scale"]["warehouse"])
    day = dt.date(2025, 6, 1)
    with warehouse.get_connection(path=path, read_only=True) as con:
        stacked = features.stacked_snapshots(con, [dt.date(2025, 5, 1), day], 1)
        single = features.snapshot(con, day, 1)
    rows = stacked[stacked["as_of"] == day]
    assert reference.stacked_differences(rows, single, day) == []
    tampered = rows.copy()
    tampered.iloc[0, tampered.columns.get_loc("events_30d")] += 1
    tampered.iloc[1, tampered.columns.get_loc("adoption_30d")] += 1e-6
    problems = reference.stacked_differences(tampered, single, day)
    assert [line.split(":")[0] for line in problems] == ["2025-06-01 events_30d", "2025-06-01 adoption_30d"]
    assert reference.stacked_differences(rows.iloc[1:], single, day) != []


# --- summary functions on hand-made entries ---


def entries(**medians: float | None) -> dict:
    return {name: {"median_s": median, "peak_rss_mb": 100.0} for name, median in medians.items()}


OTHER_SCALE = {"customers": 300, "events": 20_000}


def test_new_ratios_from_hand_made_medians():
    steps = entries(snapshot=0.5, stacked_snapshots=2.0, train_models=12.0, score_customers=1.0,
                    backtest_rolling=30.0)
    ratios = summary.ratios(steps, entries(floor_single_query=0.4))
    assert ratios["stacked_snapshots_over_snapshot"] == 4.0
    assert ratios["train_models_over_floor_single_query"] == 30.0
    assert ratios["score_customers_over_snapshot"] == 2.0
    assert ratios["backtest_rolling_over_floor_single_query"] == 75.0
    missing = summary.ratios(entries(snapshot=0.5), {})
    assert missing["stacked_snapshots_over_snapshot"] is None
    assert missing["train_models_over_floor_single_query"] is None


def test_ratio_targets_from_hand_made_medians():
    steps = entries(snapshot=0.5, stacked_snapshots=2.0, score_customers=1.5)
    targets = summary.targets(steps, summary.ratios(steps, {}), OTHER_SCALE)
    assert targets["stacked_snapshots_within_3x_of_snapshot"]["value"] == 4.0
    assert targets["stacked_snapshots_within_3x_of_snapshot"]["met"] is False
    assert targets["score_customers_within_3x_of_snapshot"]["value"] == 3.0
    assert targets["score_customers_within_3x_of_snapshot"]["met"] is True  # at most 3x: 3.0 is met
    assert targets["backtest_rolling_under_600_s"]["met"] is None
    assert targets["train_models_vs_floor"]["met"] is None


@pytest.mark.parametrize(("scale", "threshold", "met"), [
    ({"customers": 100_000, "events": 20_000_000}, 20.0, False),
    (OTHER_SCALE, 30.0, True),
])
def test_the_training_threshold_depends_on_the_scale(scale, threshold, met):
    steps = entries(train_models=25.0)
    ratios = summary.ratios(steps, entries(floor_single_query=1.0))
    target = summary.targets(steps, ratios, scale)["train_models_vs_floor"]
    assert ratios["train_models_over_floor_single_query"] == 25.0
    assert target["value"] == 25.0 and target["threshold"] == threshold and target["met"] is met
    assert f"<= {threshold:g} ({threshold:g}x " in target["target"]
    assert target["cached"] is False


def test_a_cached_training_time_is_said_in_the_notes():
    steps = entries(train_models=12.0)
    assert summary.notes(steps) == []
    steps["train_models"] |= {"cached": True, "measured_at": "2026-01-02T03:04:05+00:00"}
    (note,) = summary.notes(steps)
    assert "2026-01-02T03:04:05+00:00" in note and "cache" in note
    targets = summary.targets(steps, summary.ratios(steps, entries(floor_single_query=1.0)), OTHER_SCALE)
    assert targets["train_models_vs_floor"]["cached"] is True and targets["train_models_vs_floor"]["value"] == 12.0


def test_report_targets_each_and_together():
    each_ok_sum_not = summary.targets(entries(report_a=10.0, report_b=19.0, report_c=19.0, report_d=19.0), {},
                                      OTHER_SCALE)
    each = each_ok_sum_not["reports_under_20_s_each"]
    assert (each["value"], each["worst"], each["met"]) == (19.0, "report_b", True)
    assert each_ok_sum_not["reports_under_60_s_together"]["value"] == 67.0
    assert each_ok_sum_not["reports_under_60_s_together"]["met"] is False
    one_slow = summary.targets(entries(report_a=15.0, report_b=25.0), {}, OTHER_SCALE)
    assert one_slow["reports_under_20_s_each"]["worst"] == "report_b"
    assert one_slow["reports_under_20_s_each"]["met"] is False
    assert one_slow["reports_under_60_s_together"]["value"] == 40.0
    assert one_slow["reports_under_60_s_together"]["met"] is True
    # A failed report leaves the sum unmeasured (it would look faster than it is).
    failed = summary.targets(entries(report_a=15.0, report_b=None), {}, OTHER_SCALE)
    assert failed["reports_under_20_s_each"]["value"] == 15.0
    assert failed["reports_under_60_s_together"]["value"] is None
    assert failed["reports_under_60_s_together"]["met"] is None


def test_backtest_target_from_hand_made_medians():
    assert summary.targets(entries(backtest_rolling=599.0), {}, OTHER_SCALE)["backtest_rolling_under_600_s"]["met"]
    missed = summary.targets(entries(backtest_rolling=600.0), {}, OTHER_SCALE)["backtest_rolling_under_600_s"]
    assert missed["value"] == 600.0 and missed["met"] is False
