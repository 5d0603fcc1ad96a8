"""Turn the runs of each step into result entries, ratios and target checks.

An entry is ``{"median_s", "min_s", "max_s", "peak_rss_mb", ...}`` over the
timed runs (warm-up runs excluded). ``median_s`` etc. are the step's own wall
time measured inside its process after the imports; ``process_median_s`` is
the whole process, interpreter start and imports included; ``peak_rss_mb``
is the largest VmHWM of the timed runs, read by the process at the end of
the measured part (imports included: see the ``process_baseline`` reference).
A step that failed or was not run has ``status`` and null numbers.

A Spark step's entry summarises its query part the same way and adds its
session start (``session_median_s``...) and the driver JVM's peak RSS;
``engine_comparison`` sets each beside its DuckDB step.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.steps import SPARK_SESSION_PART

SECONDS_DIGITS = 6
RATIO_DIGITS = 4

# ISSUE 6 and ISSUE 16 targets (2 cores, 24 GB, 100k customers / 20M events).
SNAPSHOT_OVER_FLOOR_MAX = 1.5
LOOP_OVER_SNAPSHOT_MIN = 500.0
PEAK_RSS_MAX_MB = 3 * 1024
STACKED_OVER_SNAPSHOT_MAX = 3.0
SCORE_OVER_SNAPSHOT_MAX = 3.0
# Training against the floor query: 20x at the target scale; smaller scales get 30x, as
# training's fixed costs (fits on few rows, Python per date) weigh more there.
TRAIN_OVER_FLOOR_MAX = 20.0
TRAIN_OVER_FLOOR_MAX_OTHER_SCALES = 30.0
REPORT_MAX_SECONDS = 20.0
REPORTS_TOTAL_MAX_SECONDS = 60.0
BACKTEST_MAX_SECONDS = 600.0
TARGET_SCALE = {"customers": 100_000, "events": 20_000_000}

NUMBER_FIELDS = ("median_s", "min_s", "max_s", "peak_rss_mb")


@dataclass
class Run:
    """One child process: its measured parts, information and whole-process figures."""

    parts: dict[str, dict[str, float]]
    info: dict[str, Any] = field(default_factory=dict)
    process_s: float = 0.0
    maxrss_mb: float = 0.0
    peak_rss_mb: float = 0.0


def summarize(runs: Sequence[Run], part: str, scale: float = 1.0) -> dict[str, Any]:
    """Median, min and max seconds of ``part`` over ``runs``, and their peak memory.

    Args:
        runs: the timed runs (at least one).
        part: the measured part to summarise.
        scale: factor applied to the seconds (the per-customer loop's extrapolation).

    Returns:
        The entry: NUMBER_FIELDS, ``process_median_s``, ``maxrss_mb`` (wait4, whole
        process tree) and ``runs``.
    """
    if not runs:
        raise ValueError(f"no runs of {part} to summarise")
    seconds = [run.parts[part]["seconds"] * scale for run in runs]
    return {
        "median_s": round(statistics.median(seconds), SECONDS_DIGITS),
        "min_s": round(min(seconds), SECONDS_DIGITS),
        "max_s": round(max(seconds), SECONDS_DIGITS),
        "peak_rss_mb": round(max(run.parts[part]["peak_rss_mb"] for run in runs), 1),
        "process_median_s": round(statistics.median(run.process_s for run in runs), 3),
        "maxrss_mb": round(max(run.maxrss_mb for run in runs), 1),
        "runs": len(runs),
    }


def summarize_processes(runs: Sequence[Run]) -> dict[str, Any]:
    """An entry timed on whole processes only (report commands: wall time, wait4 peak RSS)."""
    if not runs:
        raise ValueError("no runs to summarise")
    seconds = [run.process_s for run in runs]
    return {
        "median_s": round(statistics.median(seconds), SECONDS_DIGITS),
        "min_s": round(min(seconds), SECONDS_DIGITS),
        "max_s": round(max(seconds), SECONDS_DIGITS),
        "peak_rss_mb": round(max(run.maxrss_mb for run in runs), 1),
        "process_median_s": round(statistics.median(seconds), 3),
        "maxrss_mb": round(max(run.maxrss_mb for run in runs), 1),
        "runs": len(runs),
    }


def summarize_spark(runs: Sequence[Run], part: str) -> dict[str, Any]:
    """A Spark step: ``summarize`` of its query part, plus its session start and the JVM's peak RSS."""
    session = [run.parts[SPARK_SESSION_PART]["seconds"] for run in runs]
    jvm = [run.info["jvm_peak_rss_mb"] for run in runs if run.info.get("jvm_peak_rss_mb") is not None]
    return summarize(runs, part) | {
        "session_median_s": round(statistics.median(session), SECONDS_DIGITS),
        "session_min_s": round(min(session), SECONDS_DIGITS),
        "session_max_s": round(max(session), SECONDS_DIGITS),
        "jvm_peak_rss_mb": max(jvm) if jvm else None,
    }


def unavailable(status: str, note: str) -> dict[str, Any]:
    """An entry for a step that was skipped or failed: null numbers, a status and why."""
    return dict.fromkeys(NUMBER_FIELDS) | {"runs": 0, "status": status, "note": note}


def _median(section: dict[str, Any], name: str) -> float | None:
    value = (section.get(name) or {}).get("median_s")
    return float(value) if isinstance(value, (int, float)) else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, RATIO_DIGITS)


def ratios(steps: dict[str, Any], reference: dict[str, Any]) -> dict[str, float | None]:
    """The ratios of medians the issue asks for, from the entries' own (rounded) numbers."""
    snapshot, floor = _median(steps, "snapshot"), _median(reference, "floor_single_query")
    load, groupby = _median(reference, "pandas_load_events"), _median(reference, "pandas_groupby")
    return {
        "snapshot_over_floor_single_query": _ratio(snapshot, floor),
        "per_customer_loop_over_snapshot": _ratio(_median(reference, "per_customer_loop"), snapshot),
        "pandas_groupby_over_snapshot": _ratio(groupby, snapshot),
        "pandas_load_and_groupby_over_snapshot": _ratio(
            None if load is None or groupby is None else load + groupby, snapshot
        ),
        "stacked_snapshots_over_snapshot": _ratio(_median(steps, "stacked_snapshots"), snapshot),
        # train_models is a setup entry: this run's, or the cache's figure when the models were reused.
        "train_models_over_floor_single_query": _ratio(_median(steps, "train_models"), floor),
        "score_customers_over_snapshot": _ratio(_median(steps, "score_customers"), snapshot),
        "backtest_rolling_over_floor_single_query": _ratio(_median(steps, "backtest_rolling"), floor),
    }


def notes(steps: dict[str, Any]) -> list[str]:
    """Notes the ratios need: train_models measured by an earlier run (cache reused), when it was."""
    trained = steps.get("train_models") or {}
    if not trained.get("cached") or trained.get("median_s") is None:
        return []
    return [f"train_models_over_floor_single_query divides the training time measured "
            f"{trained.get('measured_at', '?')} (models reused from the cache) by this run's floor_single_query."]


def engine_comparison(steps: dict[str, Any], spark: dict[str, Any]) -> list[dict[str, Any]]:
    """Each Spark step beside its DuckDB step: medians, their ratio, process times and peaks."""
    rows = []
    for name, entry in spark.items():
        if not name.startswith("spark_"):
            continue
        duckdb_name = name.removeprefix("spark_")
        duckdb = steps.get(duckdb_name) or {}
        query, session = _median(spark, name), entry.get("session_median_s")
        rows.append({
            "step": duckdb_name,
            "duckdb_median_s": _median(steps, duckdb_name),
            "spark_median_s": query,
            "spark_session_median_s": session,
            "spark_over_duckdb": _ratio(query, _median(steps, duckdb_name)),
            "spark_with_session_over_duckdb": _ratio(
                None if query is None or session is None else query + session, _median(steps, duckdb_name)
            ),
            "duckdb_process_median_s": duckdb.get("process_median_s"),
            "spark_process_median_s": entry.get("process_median_s"),
            "duckdb_peak_rss_mb": duckdb.get("peak_rss_mb"),
            "spark_peak_rss_mb": entry.get("peak_rss_mb"),
            "jvm_peak_rss_mb": entry.get("jvm_peak_rss_mb"),
            "matches_duckdb": (entry.get("info") or {}).get("matches_duckdb"),
        })
    return rows


def _met(value: float | None, check) -> bool | None:
    return None if value is None else bool(check(value))


def _ratio_target(text: str, value: float | None, maximum: float) -> dict[str, Any]:
    return {"target": text, "value": value, "met": _met(value, lambda measured: measured <= maximum)}


def _report_targets(steps: dict[str, Any]) -> dict[str, Any]:
    """Every report run under REPORT_MAX_SECONDS; their medians' sum, and one run of them all, under REPORTS_TOTAL_MAX_SECONDS."""
    reports = {name: entry.get("median_s") for name, entry in steps.items() if name.startswith("report_")}
    measured = {name: seconds for name, seconds in reports.items() if seconds is not None}
    slowest = max(measured, key=measured.get) if measured else None
    # A failed report would make the sum look faster than the reports are: not measured then.
    total = round(sum(measured.values()), SECONDS_DIGITS) if measured and len(measured) == len(reports) else None
    return {
        "reports_under_20_s_each": {
            "target": f"every report run < {REPORT_MAX_SECONDS:g} s",
            "value": measured.get(slowest),
            "worst": slowest,
            "met": _met(measured.get(slowest), lambda value: value < REPORT_MAX_SECONDS),
        },
        "reports_under_60_s_together": {
            "target": f"all report runs together (sum of medians) < {REPORTS_TOTAL_MAX_SECONDS:g} s",
            "value": total,
            "reports": len(reports),
            "met": _met(total, lambda value: value < REPORTS_TOTAL_MAX_SECONDS),
        },
        "reports_stage_under_60_s": {
            "target": f"every report in one run (the pipeline's reports stage) < {REPORTS_TOTAL_MAX_SECONDS:g} s",
            "value": _median(steps, "reports_stage"),
            "met": _met(_median(steps, "reports_stage"), lambda value: value < REPORTS_TOTAL_MAX_SECONDS),
        },
    }


def targets(steps: dict[str, Any], computed_ratios: dict[str, float | None], scale: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issues: its threshold, the measured value and whether it is met (None: not measured).

    Args:
        steps: the steps section (setup entries and report runs included).
        computed_ratios: ``ratios``'s result.
        scale: the run's scale; the train_models threshold depends on it (TARGET_SCALE or not).

    Returns:
        ``at_target_scale`` and one dict per target: ``target`` (text), ``value``, ``met``, and
        ``worst`` (the step) where one step decides.
    """
    peaks = {name: entry["peak_rss_mb"] for name, entry in steps.items() if entry.get("peak_rss_mb") is not None}
    worst_step = max(peaks, key=peaks.get) if peaks else None
    at_target_scale = all(scale.get(key) == value for key, value in TARGET_SCALE.items())
    train_max = TRAIN_OVER_FLOOR_MAX if at_target_scale else TRAIN_OVER_FLOOR_MAX_OTHER_SCALES
    train_scale = (f"{train_max:g}x at the target scale" if at_target_scale else
                   f"{train_max:g}x off the target scale; {TRAIN_OVER_FLOOR_MAX:g}x at {TARGET_SCALE['customers']:,} "
                   f"customers and {TARGET_SCALE['events']:,} events")
    loop_over_snapshot = computed_ratios.get("per_customer_loop_over_snapshot")
    backtest = _median(steps, "backtest_rolling")
    return {
        "at_target_scale": at_target_scale,
        "snapshot_within_1.5x_of_floor": _ratio_target(
            f"snapshot / floor_single_query <= {SNAPSHOT_OVER_FLOOR_MAX}",
            computed_ratios.get("snapshot_over_floor_single_query"), SNAPSHOT_OVER_FLOOR_MAX),
        "snapshot_500x_faster_than_per_customer_loop": {
            "target": f"per_customer_loop / snapshot >= {LOOP_OVER_SNAPSHOT_MIN:g}",
            "value": loop_over_snapshot,
            "met": _met(loop_over_snapshot, lambda value: value >= LOOP_OVER_SNAPSHOT_MIN),
        },
        "stacked_snapshots_within_3x_of_snapshot": _ratio_target(
            f"stacked_snapshots (36 dates) / snapshot <= {STACKED_OVER_SNAPSHOT_MAX:g}",
            computed_ratios.get("stacked_snapshots_over_snapshot"), STACKED_OVER_SNAPSHOT_MAX),
        "train_models_vs_floor": _ratio_target(
            f"train_models / floor_single_query <= {train_max:g} ({train_scale})",
            computed_ratios.get("train_models_over_floor_single_query"), train_max)
        | {"threshold": train_max, "cached": bool((steps.get("train_models") or {}).get("cached"))},
        "score_customers_within_3x_of_snapshot": _ratio_target(
            f"score_customers / snapshot <= {SCORE_OVER_SNAPSHOT_MAX:g}",
            computed_ratios.get("score_customers_over_snapshot"), SCORE_OVER_SNAPSHOT_MAX),
        **_report_targets(steps),
        "backtest_rolling_under_600_s": {
            "target": f"backtest_rolling (12 origins, retrained each) < {BACKTEST_MAX_SECONDS:g} s",
            "value": backtest,
            "met": _met(backtest, lambda value: value < BACKTEST_MAX_SECONDS),
        },
        "peak_rss_under_3_gb": {
            "target": f"peak RSS of every step < {PEAK_RSS_MAX_MB} MB (references excluded)",
            "value": peaks.get(worst_step),
            "worst": worst_step,
            "over": sorted(name for name, peak in peaks.items() if peak >= PEAK_RSS_MAX_MB),
            "met": _met(peaks.get(worst_step), lambda value: value < PEAK_RSS_MAX_MB),
        },
    }
