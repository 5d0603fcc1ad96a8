"""Thread pools sized explicitly: one rule for the command line, the pipeline and the notebooks.

scikit-learn's gradient boosting and numpy's BLAS start OpenMP threads. Left
unsized, every process starts one per core and spin-waits between parallel
regions; two such processes on one machine then steal each other's cores
(training took 5.4 times its quiet time beside one other busy process). Every
entry point (the command line, hence the pipeline; the notebooks) limits the
pools to ``thread_count()`` threads, and importing ``helpers`` asks OpenMP to
sleep rather than spin while waiting (``OMP_WAIT_POLICY=PASSIVE`` unless set).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

from helpers import checks

THREADS_VARIABLE = "CHURN_SUITE_THREADS"


def thread_count() -> int:
    """Threads per pool: ``$CHURN_SUITE_THREADS`` when set, else the cores this process may use."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"${THREADS_VARIABLE} must be a whole number >= 1, got {value!r}")
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def limited_threads(threads: int | None = None) -> Iterator[None]:
    """Fit and predict with at most ``threads`` threads per pool (None: ``thread_count()``; 0: no limit).

    Results are identical whatever the thread count.
    """
    count = thread_count() if threads is None else threads
    checks.int_in_range(count, "threads (0: no limit)", minimum=0)
    if count == 0:
        yield
        return
    with threadpool_limits(limits=count):
        yield


def limit_process_threads(threads: int | None = None) -> None:
    """Limit the pools of the libraries loaded so far for the rest of the process (command-line runs)."""
    count = thread_count() if threads is None else threads
    if count:
        threadpool_limits(limits=count)
