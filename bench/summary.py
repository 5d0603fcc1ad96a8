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

# ISSUE 6 targets (2 cores, 24 GB, 100k customers / 20M events).
SNAPSHOT_OVER_FLOOR_MAX = 1.5
LOOP_OVER_SNAPSHOT_MIN = 500.0
PEAK_RSS_MAX_MB = 3 * 1024
REPORT_MAX_SECONDS = 60.0
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
    snapshot = _median(steps, "snapshot")
    load, groupby = _median(reference, "pandas_load_events"), _median(reference, "pandas_groupby")
    return {
        "snapshot_over_floor_single_query": _ratio(snapshot, _median(reference, "floor_single_query")),
        "per_customer_loop_over_snapshot": _ratio(_median(reference, "per_customer_loop"), snapshot),
        "pandas_groupby_over_snapshot": _ratio(groupby, snapshot),
        "pandas_load_and_groupby_over_snapshot": _ratio(
            None if load is None or groupby is None else load + groupby, snapshot
        ),
    }


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


def targets(steps: dict[str, Any], computed_ratios: dict[str, float | None], scale: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issue: its threshold, the measured value and whether it is met (None: not measured)."""
    peaks = {name: entry["peak_rss_mb"] for name, entry in steps.items() if entry.get("peak_rss_mb") is not None}
    worst_step = max(peaks, key=peaks.get) if peaks else None
    reports = {name: entry["median_s"] for name, entry in steps.items()
               if name.startswith("report_") and entry.get("median_s") is not None}
    slowest_report = max(reports, key=reports.get) if reports else None
    at_target_scale = all(scale.get(key) == value for key, value in TARGET_SCALE.items())
    snapshot_over_floor = computed_ratios.get("snapshot_over_floor_single_query")
    loop_over_snapshot = computed_ratios.get("per_customer_loop_over_snapshot")
    return {
        "at_target_scale": at_target_scale,
        "snapshot_within_1.5x_of_floor": {
            "target": f"snapshot / floor_single_query <= {SNAPSHOT_OVER_FLOOR_MAX}",
            "value": snapshot_over_floor,
            "met": _met(snapshot_over_floor, lambda value: value <= SNAPSHOT_OVER_FLOOR_MAX),
        },
        "snapshot_500x_faster_than_per_customer_loop": {
            "target": f"per_customer_loop / snapshot >= {LOOP_OVER_SNAPSHOT_MIN:g}",
            "value": loop_over_snapshot,
            "met": _met(loop_over_snapshot, lambda value: value >= LOOP_OVER_SNAPSHOT_MIN),
        },
        "peak_rss_under_3_gb": {
            "target": f"peak RSS of every step < {PEAK_RSS_MAX_MB} MB (references excluded)",
            "value": peaks.get(worst_step),
            "worst": worst_step,
            "over": sorted(name for name, peak in peaks.items() if peak >= PEAK_RSS_MAX_MB),
            "met": _met(peaks.get(worst_step), lambda value: value < PEAK_RSS_MAX_MB),
        },
        "reports_under_60_s": {
            "target": f"every report run < {REPORT_MAX_SECONDS:g} s",
            "value": reports.get(slowest_report),
            "worst": slowest_report,
            "met": _met(reports.get(slowest_report), lambda value: value < REPORT_MAX_SECONDS),
        },
    }
