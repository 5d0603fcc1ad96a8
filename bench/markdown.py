"""The benchmark results as markdown: scale line, steps, references, ratios, targets, DuckDB vs Spark, notes."""

from __future__ import annotations

from typing import Any


def _seconds(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if value >= 0.01 else f"{value:.4f}"


def _megabytes(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else "-"


def _note(entry: dict[str, Any]) -> str:
    info = entry.get("info") or {}
    notes = []
    if entry.get("status"):
        notes.append(f"**{entry['status']}**: {entry.get('note', '')}".strip())
    elif entry.get("note"):
        notes.append(entry["note"])
    if entry.get("cached"):
        notes.append(f"measured {entry.get('measured_at', '?')}, cache reused")
    rows = info.get("rows")
    if isinstance(rows, int):
        notes.append(f"{rows:,} rows")
    elif isinstance(rows, dict):
        notes.append(", ".join(f"{count:,} {table}" for table, count in rows.items()))
    if isinstance(info.get("dates"), int):
        notes.append(f"{info['dates']} as-of dates")
    if "events_loaded" in info and info["events_loaded"] is not None:
        notes.append(f"{info['events_loaded']:,} events in pandas")
    if "problems" in info:
        notes.append(f"{info['problems']} problem(s)")
    if "max_iter" in info:
        if info.get("boosting_rounds"):
            trees = (f"registered {info.get('candidate') or 'model'}: {info['boosting_rounds']} rounds, stopped on "
                     f"held-out customers (max_iter {info['max_iter']})")
        else:
            trees = f"registered {info.get('candidate') or 'model'}; boosted trees max_iter {info['max_iter']}"
        notes.append(f"{trees}; one fit serves churn_model and risk_model")
    if "matches_snapshot" in info:
        notes.append("matches snapshot" if info["matches_snapshot"] else "**differs from snapshot**")
    if "matches_duckdb" in info:
        notes.append("same result as DuckDB" if info["matches_duckdb"] else "**differs from DuckDB**")
    if "session_median_s" in entry:
        notes.append(f"session start {_seconds(entry['session_median_s'])} s "
                     f"({_seconds(entry.get('session_min_s'))} to {_seconds(entry.get('session_max_s'))})")
    if entry.get("jvm_peak_rss_mb") is not None:
        notes.append(f"JVM peak {_megabytes(entry['jvm_peak_rss_mb'])} MB")
    if "total_mb" in info:
        notes.append(f"{len(info.get('files') or {})} files, {info['total_mb']:,.1f} MB")
    if "command" in entry:
        notes.append(f"`{entry['command']}`")
    text = "; ".join(notes)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(section: dict[str, Any]) -> list[str]:
    lines = [
        "| name | median s | min s | max s | process s | peak RSS MB | runs | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, entry in section.items():
        lines.append(
            f"| {name} | {_seconds(entry.get('median_s'))} | {_seconds(entry.get('min_s'))} | "
            f"{_seconds(entry.get('max_s'))} | {_seconds(entry.get('process_median_s'))} | "
            f"{_megabytes(entry.get('peak_rss_mb'))} | {entry.get('runs', 0)} | {_note(entry)} |"
        )
    return lines


def _engines(results: dict[str, Any]) -> list[str]:
    """The Spark steps beside their DuckDB steps (empty when no Spark step ran)."""
    spark = results.get("spark") or {}
    if not spark:
        return []
    first = next((entry.get("info") or {} for name, entry in spark.items() if name.startswith("spark_")
                  and (entry.get("info") or {}).get("master")), {})
    settings = ", ".join(f"{key}={value}" for key, value in results["scale"].get("spark_conf", {}).items())
    lines = [
        "## DuckDB vs Spark (local mode)",
        "",
        f"Spark {first.get('spark_version', '?')} (Java {first.get('java_version', '?')}), master "
        f"{first.get('master', '?')} ({first.get('default_parallelism', '?')} cores), shuffle partitions "
        f"{first.get('shuffle_partitions', '?')}; settings: helpers.warehouse.spark.create_session's"
        f"{' + ' + settings if settings else ''}. Tables read from the warehouse's Parquet export.",
        "Spark s is the query alone; session start (JVM, session, table registration) is beside it. "
        "Peak RSS: the Python process, and the driver JVM (a child process) apart.",
        "",
        "| step | DuckDB s | Spark s | Spark session start s | Spark / DuckDB | (session + Spark) / DuckDB "
        "| DuckDB process s | Spark process s | DuckDB peak RSS MB | Spark peak RSS MB (Python) "
        "| JVM peak RSS MB | same result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results.get("engines", []):
        ratio, with_session = row.get("spark_over_duckdb"), row.get("spark_with_session_over_duckdb")
        same = {True: "yes", False: "**no**"}.get(row.get("matches_duckdb"), "not checked")
        lines.append(
            f"| {row['step']} | {_seconds(row.get('duckdb_median_s'))} | {_seconds(row.get('spark_median_s'))} | "
            f"{_seconds(row.get('spark_session_median_s'))} | "
            f"{f'{ratio:,.1f}x' if isinstance(ratio, (int, float)) else '-'} | "
            f"{f'{with_session:,.1f}x' if isinstance(with_session, (int, float)) else '-'} | "
            f"{_seconds(row.get('duckdb_process_median_s'))} | {_seconds(row.get('spark_process_median_s'))} | "
            f"{_megabytes(row.get('duckdb_peak_rss_mb'))} | {_megabytes(row.get('spark_peak_rss_mb'))} | "
            f"{_megabytes(row.get('jvm_peak_rss_mb'))} | {same} |"
        )
    return lines + ["", *_table(spark), ""]


def _verdict(met: Any) -> str:
    return {True: "met", False: "**missed**"}.get(met, "not measured")


def render(results: dict[str, Any]) -> str:
    """The results as a markdown document (what ``python -m bench`` prints and saves)."""
    scale, machine = results["scale"], results["scale"].get("machine", {})
    events_found = scale.get("events_in_warehouse")
    lines = [
        "# Benchmark results",
        "",
        f"{scale['customers']:,} customers, {events_found or 0:,} events (asked for {scale['events']:,}), "
        f"seed {scale['seed']}, as of {scale['as_of']}; data {scale.get('data_start')} to {scale.get('data_end')}.",
        f"{scale['repeat']} timed run(s) after {scale['warmup']} warm-up, each a fresh process; "
        f"setup steps {scale['setup_repeat']} run(s). Warehouse {scale.get('warehouse_mb', 0):,.0f} MB, "
        f"{'reused from the cache' if scale.get('warehouse_reused') else 'built by this run'}.",
        f"Machine: {machine.get('cpus')} CPUs, {machine.get('memory_gb')} GB, Python {machine.get('python')}, "
        f"DuckDB {machine.get('duckdb')}, pandas {machine.get('pandas')}. Started {scale.get('started_at')}, "
        f"took {scale.get('duration_s')} s.",
        "",
        "## Steps",
        "",
        *_table(results["steps"]),
        "",
        "## Reference points (same warehouse, same as-of)",
        "",
        *_table(results["reference"]),
        "",
        "## Ratios (of medians)",
        "",
        "| ratio | value |",
        "|---|---:|",
        *[f"| {name} | {value:,.2f} |" if isinstance(value, (int, float)) else f"| {name} | - |"
          for name, value in results["ratios"].items()],
        "",
        "## Targets",
        "",
    ]
    targets = dict(results["targets"])
    if not targets.pop("at_target_scale", False):
        lines += ["Targets are set for 100,000 customers and 20,000,000 events; this run is another scale.", ""]
    lines += ["| target | threshold | measured | verdict |", "|---|---|---:|---|"]
    for name, target in targets.items():
        value = target.get("value")
        measured = f"{value:,.2f}" if isinstance(value, (int, float)) else "-"
        if target.get("worst"):
            measured += f" ({target['worst']})"
        if target.get("cached") and isinstance(value, (int, float)):
            measured += " (training time from the cache)"
        lines.append(f"| {name} | {target['target']} | {measured} | {_verdict(target.get('met'))} |")
    lines += ["", *_engines(results)]
    lines += ["## Notes", "", *[f"- {note}" for note in results.get("notes", [])], ""]
    return "\n".join(lines)
