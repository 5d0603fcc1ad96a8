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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_info, threadpool_limits

from helpers import checks

THREADS_VARIABLE = "CHURN_SUITE_THREADS"

Item = TypeVar("Item")
Result = TypeVar("Result")


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


# Fits at once, at most: each holds its own training rows (hundreds of megabytes at 100,000 customers).
MAX_PARALLEL_FITS = 4


def map_in_threads(function: Callable[[Item], Result], items: Sequence[Item],
                   threads: int | None = None) -> list[Result]:
    """``[function(item) for item in items]``, computed side by side on up to ``threads`` threads.

    For many independent model fits (the backtest's refits): a small boosted-tree
    fit spends much of its time outside its parallel loops, so two fits side by
    side with one OpenMP thread each keep two cores busier than one after the
    other with two threads each (4 refits at 5,000 customers: 49 s against 100 s).
    At most MAX_PARALLEL_FITS run at once; each gets an even share of the threads.
    Results are the same either way.

    Args:
        function: called once per item; an error is raised here (the earliest item's,
            once the items already running have finished).
        items: the inputs, results come back in their order.
        threads: threads in all (None: the OpenMP limit in force in the calling thread,
            so a ``limited_threads`` block counts; ``thread_count()`` without OpenMP).
    """
    count = _threads_in_force() if threads is None else threads
    checks.int_in_range(count, "threads", minimum=1)
    workers = max(1, min(count, len(items), MAX_PARALLEL_FITS))
    if workers == 1:
        return [function(item) for item in items]
    share = max(1, count // workers)

    def run(item: Item) -> Result:
        # OpenMP's thread count is a per-thread setting: this worker's fits only.
        with threadpool_limits(limits=share, user_api="openmp"):
            return function(item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, items))


def _threads_in_force() -> int:
    """The OpenMP threads the calling thread may use now, or ``thread_count()`` when OpenMP is not loaded."""
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"]
    return max(1, min(counts)) if counts else thread_count()
