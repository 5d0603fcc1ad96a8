"""What the Spark steps need besides the suite: the JVM's figures and a result check against DuckDB.

The Spark steps (bench/steps.py) run the suite's analytics functions on a
local SparkSession over the cached warehouse's Parquet export. Two things the
DuckDB steps do not need:

- ``jvm_figures``: the driver JVM is a child process of the step, so the
  step's own VmHWM leaves it out; the JVM reports its pid and the step reads
  that process's VmHWM before stopping the session. ``stop_and_wait`` then
  waits for the JVM to exit, so that it never overlaps the next run.
- ``frame_differences``: each Spark step checks once (untimed) that it
  computed what the DuckDB step computes on the same warehouse, so the two
  timings compare equal work.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

# Floats (rates, survival probabilities) may differ in their last bits between
# engines (summation order); money and counts must be equal.
FLOAT_TOLERANCE = 1e-9


def vm_hwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) of a process, in MiB; None when /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def jvm_figures(session: Any) -> dict[str, Any]:
    """Master, cores, versions and the driver JVM's peak RSS of a classic (py4j) session."""
    context = session.sparkContext
    jvm = session._jvm  # py4j gateway: absent under Spark Connect
    pid = jvm.java.lang.ProcessHandle.current().pid() if jvm is not None else None
    peak = vm_hwm_mb(pid) if pid is not None else None
    return {
        "spark_version": session.version,
        "java_version": jvm.java.lang.System.getProperty("java.version") if jvm is not None else None,
        "master": context.master,
        "default_parallelism": context.defaultParallelism,
        "shuffle_partitions": session.conf.get("spark.sql.shuffle.partitions"),
        "jvm_peak_rss_mb": None if peak is None else round(peak, 1),
    }


def stop_and_wait(session: Any, timeout_s: float = 120) -> None:
    """Stop the session, then end its driver JVM and wait for it to exit.

    Left alone, the JVM exits only after the Python process (it watches its
    stdin) and spends a second or two shutting down while the harness starts
    the next run: waiting here keeps runs apart and counts the shutdown in
    the step's process time.
    """
    gateway = session.sparkContext._gateway
    session.stop()
    process = getattr(gateway, "proc", None)  # the JVM pyspark launched (None: not ours to end)
    if process is not None and process.stdin is not None:
        process.stdin.close()
        process.wait(timeout=timeout_s)


def frame_differences(got: pd.DataFrame, expected: pd.DataFrame, label: str = "") -> list[str]:
    """What differs between two results: columns, dtypes, rows (in order), values.

    Decimals (money) must be equal digit for digit, floats within
    FLOAT_TOLERANCE (relative and absolute, NaN equal to NaN), everything else
    exactly; missing values must be missing on both sides.

    Returns:
        One line per difference (empty when the frames agree).
    """
    prefix = f"{label}: " if label else ""
    if list(got.columns) != list(expected.columns):
        return [f"{prefix}columns {list(got.columns)} != {list(expected.columns)}"]
    if len(got) != len(expected):
        return [f"{prefix}{len(got)} rows != {len(expected)} rows"]
    problems = []
    for column in expected.columns:
        left, right = got[column].reset_index(drop=True), expected[column].reset_index(drop=True)
        if left.dtype != right.dtype:
            problems.append(f"{prefix}{column}: dtype {left.dtype} != {right.dtype}")
            continue
        if pd.api.types.is_float_dtype(right):
            equal = np.isclose(left.to_numpy(), right.to_numpy(), rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE,
                               equal_nan=True)
        else:
            equal = np.array([
                _same(a, b, a_missing, b_missing)
                for a, b, a_missing, b_missing in zip(left.tolist(), right.tolist(), left.isna(), right.isna())
            ], dtype=bool)
        if not equal.all():
            where = int(np.flatnonzero(~equal)[0])
            problems.append(
                f"{prefix}{column}: {int((~equal).sum())} of {len(equal)} rows differ, e.g. row {where}: "
                f"Spark {left[where]!r}, DuckDB {right[where]!r}"
            )
    return problems


def _same(a: Any, b: Any, a_missing: bool, b_missing: bool) -> bool:
    if a_missing or b_missing:
        return a_missing and b_missing
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        # Digit for digit: Decimal("1.0") and Decimal("1.00") differ (the scale is part of money).
        return isinstance(a, Decimal) and isinstance(b, Decimal) and str(a) == str(b)
    return bool(a == b)
