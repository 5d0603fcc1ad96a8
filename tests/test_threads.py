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
