"""Thread pools sized explicitly: the count rule, the limits as the libraries see them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime the limits apply to)
from helpers import threads


def _openmp_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"}


def test_thread_count_reads_the_environment(monkeypatch):
    monkeypatch.setenv(threads.THREADS_VARIABLE, "3")
    assert threads.thread_count() == 3
    monkeypatch.delenv(threads.THREADS_VARIABLE)
    assert threads.thread_count() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_setting_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv(threads.THREADS_VARIABLE, value)
    with pytest.raises(ValueError, match=threads.THREADS_VARIABLE):
        threads.thread_count()


def test_limited_threads_limits_openmp_and_restores_it():
    assert _openmp_threads(), "scikit-learn's OpenMP runtime should be loaded"
    before = _openmp_threads()
    with threads.limited_threads(1):
        assert _openmp_threads() == {1}
    assert _openmp_threads() == before


def test_importing_the_package_makes_idle_openmp_threads_sleep():
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    code = "import os, helpers; print(os.environ['OMP_WAIT_POLICY'])"
    shown = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "PASSIVE"
    environment["OMP_WAIT_POLICY"] = "ACTIVE"  # a user's own choice wins
    shown = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "ACTIVE"


def test_map_in_threads_keeps_the_order_and_gives_each_worker_its_share_of_openmp():
    import threading

    before = _openmp_threads()
    seen: dict[int, tuple[str, set[int]]] = {}
    barrier = threading.Barrier(2, timeout=30)

    def work(item: int) -> int:
        barrier.wait()  # both items run at the same time, on two threads
        seen[item] = (threading.current_thread().name, _openmp_threads())
        return item * 10

    assert threads.map_in_threads(work, [1, 2], threads=4) == [10, 20]
    assert seen[1][0] != seen[2][0]
    assert seen[1][1] == seen[2][1] == {2}  # 4 threads over 2 workers
    many: dict[int, set[int]] = {}

    def square(item: int) -> int:
        many[item] = _openmp_threads()
        return item * item

    assert threads.map_in_threads(square, list(range(6)), threads=2) == [0, 1, 4, 9, 16, 25]
    assert all(count == {1} for count in many.values())  # 2 threads over 2 workers
    assert _openmp_threads() == before  # the calling thread's own setting is untouched


def test_map_in_threads_raises_the_first_error_and_runs_in_line_with_one_thread():
    import threading

    def fail(item: int) -> int:
        if item == 2:
            raise ValueError(f"item {item} is bad")
        return item

    with pytest.raises(ValueError, match="item 2 is bad"):
        threads.map_in_threads(fail, [1, 2, 3], threads=2)
    names = threads.map_in_threads(lambda _: threading.current_thread().name, [1, 2], threads=1)
    assert names == [threading.current_thread().name] * 2
    with pytest.raises(ValueError, match="threads"):
        threads.map_in_threads(fail, [1], threads=0)


def test_map_in_threads_keeps_a_limited_threads_block_and_caps_the_fits_at_once():
    import threading

    names: set[str] = set()

    def record(item: int) -> int:
        names.add(threading.current_thread().name)
        return item

    with threads.limited_threads(1):
        assert threads.map_in_threads(record, list(range(4))) == [0, 1, 2, 3]
    assert names == {threading.current_thread().name}  # one thread allowed: run in line
    shares: list[set[int]] = []
    active, most = [0], [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads.MAX_PARALLEL_FITS, timeout=30)

    def wait(item: int) -> int:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        barrier.wait()  # the items of one round run at the same time
        shares.append(_openmp_threads())
        with lock:
            active[0] -= 1
        return item

    count = 2 * threads.MAX_PARALLEL_FITS
    assert threads.map_in_threads(wait, list(range(count)), threads=count) == list(range(count))
    assert most[0] == threads.MAX_PARALLEL_FITS  # never more fits at once, whatever the threads
    assert all(share == {2} for share in shares)  # the threads shared out: 8 over 4 workers
