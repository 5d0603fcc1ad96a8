"""Benchmark of the suite: ``python -m bench --help``.

Times each step of the suite (generation, warehouse build, data tests, the
analytics, scoring, reports) in its own process on a synthetic warehouse of a
given size, beside reference points on the same warehouse (one hand-written
GROUP BY, the seed system's per-customer loop, pandas after loading the raw
events), and writes the results as JSON and a markdown table.
"""
