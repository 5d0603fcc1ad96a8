"""Boosted-tree predictions of related rows, re-evaluating only the trees a difference reaches.

A tree that never splits on a column returns the same leaf whatever that
column's value. Two uses:

- ``raw_with_each_moved`` (the drivers of a score): the raw output with feature
  f moved is the full output minus f's trees at x plus f's trees at the moved
  x, so each tree runs once per feature it splits on (a tree of 15 leaves uses a
  few of the 28 features), not the whole forest once per feature;
- ``raw_over_periods`` (survival curves): a customer's months differ only in
  the period columns, so each customer is encoded once and the trees that do
  not split on a period column run once per customer, not once per month.

It reads the fitted trees of scikit-learn's HistGradientBoostingClassifier
(``_predictors``, ``_baseline_prediction``, ``_bin_mapper``, private but stable
since scikit-learn 1.0); ``supported`` says whether they are there, and callers
predict the rows in full when they are not. Results equal the full prediction
(tests/test_tree_parts.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

# Rows per block of the (rows x trees) output matrix: about 240 MB at 300 trees.
BLOCK_ROWS = 100_000


def supported(pipeline: Any) -> bool:
    """Whether ``pipeline`` is a ColumnTransformer then a binary HistGradientBoostingClassifier this module can read."""
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or not isinstance(steps[0][1], ColumnTransformer):
        return False
    booster = steps[1][1]
    return (
        hasattr(booster, "_predictors") and hasattr(booster, "_baseline_prediction")
        and hasattr(booster, "_bin_mapper") and getattr(booster, "n_trees_per_iteration_", 0) == 1
        and getattr(booster, "_preprocessor", None) is None
        and all(len(trees) == 1 and hasattr(trees[0], "nodes") for trees in booster._predictors)
    )


def input_columns(preprocessor: ColumnTransformer) -> dict[str, np.ndarray]:
    """The output columns of the fitted ``preprocessor`` that each input column feeds.

    Returns:
        Input column name to the positions of its output columns (its one-hot block, or one column).
    """
    blocks: dict[str, np.ndarray] = {}
    for name, transformer, columns in preprocessor.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        start = preprocessor.output_indices_[name].start
        widths = ([len(categories) for categories in transformer.categories_]
                  if isinstance(transformer, OneHotEncoder) else [1] * len(columns))
        for column, width in zip(columns, widths):
            blocks[column] = np.arange(start, start + width)
            start += width
    return blocks


def passthrough_columns(preprocessor: ColumnTransformer) -> set[str]:
    """The input columns the fitted ``preprocessor`` outputs unchanged (one output column each)."""
    # The fitted list holds an identity FunctionTransformer where "passthrough" was declared.
    declared = {name for name, transformer, _ in preprocessor.transformers if transformer == "passthrough"}
    return {column for name, _, columns in preprocessor.transformers_ if name in declared for column in columns}


def raw_over_periods(pipeline: Any, first_rows: pd.DataFrame, row: np.ndarray,
                     periods: dict[str, np.ndarray]) -> np.ndarray | None:
    """Raw outputs of rows that repeat ``first_rows[row]`` with only the ``periods`` columns changed.

    Each distinct row is transformed once (one-hot encoding is most of the cost
    of predicting person-months), and a tree that splits on no period column is
    evaluated once per distinct row.

    Args:
        pipeline: a fitted pipeline ``supported`` accepts.
        first_rows: one input row per distinct row (any values in the period columns).
        row: for each output row, its row of ``first_rows``.
        periods: column name to its value in each output row.

    Returns:
        Raw outputs of shape (len(row),), or None when a period column is not passed
        through unchanged (then the rows must be predicted in full).
    """
    preprocessor, booster = pipeline.steps[0][1], pipeline.steps[1][1]
    if not set(periods) <= passthrough_columns(preprocessor):
        return None
    blocks = input_columns(preprocessor)
    period_outputs = {int(blocks[name][0]) for name in periods}
    trees = [tree for (tree,) in booster._predictors]
    static = [features.isdisjoint(period_outputs) for features in _tree_features(booster)]
    known_categories, feature_map = booster._bin_mapper.make_known_categories_bitsets()
    threads = _openmp_effective_n_threads()
    distinct = np.ascontiguousarray(preprocessor.transform(first_rows), dtype=np.float64)
    matrix = distinct[row]
    for name, values in periods.items():
        matrix[:, blocks[name][0]] = values
    per_row = np.zeros(len(distinct))
    raw = np.full(len(row), float(np.ravel(booster._baseline_prediction)[0]))
    for tree, is_static in zip(trees, static):
        if is_static:
            per_row += tree.predict(distinct, known_categories, feature_map, threads)
        else:
            raw += tree.predict(matrix, known_categories, feature_map, threads)
    return raw + per_row[row]


def _tree_features(booster: Any) -> list[set[int]]:
    """The output columns each tree splits on."""
    used = []
    for (tree,) in booster._predictors:
        nodes = tree.nodes
        used.append(set(nodes["feature_idx"][nodes["is_leaf"] == 0].tolist()))
    return used


def raw_with_each_moved(
    pipeline: Any, rows: pd.DataFrame, moves: dict[str, Any], differs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (log-odds) outputs of ``rows``, and the outputs with each ``moves`` column set to its value.

    Args:
        pipeline: a fitted pipeline ``supported`` accepts.
        rows: the input frame (the pipeline's input columns).
        moves: column name to the value it is moved to, in column order of the result.
        differs: (rows, len(moves)) booleans: where the row's value differs from the
            move's; elsewhere the moved output is the row's own, exactly.

    Returns:
        ``raw`` of shape (rows,) and ``moved`` of shape (rows, len(moves)).
    """
    preprocessor, booster = pipeline.steps[0][1], pipeline.steps[1][1]
    blocks = input_columns(preprocessor)
    used = _tree_features(booster)
    trees = [tree for (tree,) in booster._predictors]
    known_categories, feature_map = booster._bin_mapper.make_known_categories_bitsets()
    threads = _openmp_effective_n_threads()
    names = list(moves)
    moved_input = preprocessor.transform(rows.iloc[[0]].assign(**moves))[0] if len(rows) else None
    baseline = float(np.ravel(booster._baseline_prediction)[0])

    def outputs(matrix: np.ndarray, which: list[int]) -> np.ndarray:
        """Tree by tree: shape (len(which), rows)."""
        result = np.empty((len(which), len(matrix)))
        for position, tree in enumerate(which):
            result[position] = trees[tree].predict(matrix, known_categories, feature_map, threads)
        return result

    raw = np.empty(len(rows))
    moved = np.empty((len(rows), len(names)))
    for first in range(0, len(rows), BLOCK_ROWS):
        block = slice(first, first + BLOCK_ROWS)
        matrix = np.ascontiguousarray(preprocessor.transform(rows.iloc[block]), dtype=np.float64)
        per_tree = outputs(matrix, list(range(len(trees))))
        raw[block] = baseline + per_tree.sum(axis=0)
        moved[block] = raw[block, None]
        for position, name in enumerate(names):
            columns = blocks[name]
            which = [tree for tree, features in enumerate(used) if features.intersection(columns.tolist())]
            rows_moved = np.flatnonzero(differs[block, position])
            if not which or not len(rows_moved):
                continue
            shifted = matrix[rows_moved]
            shifted[:, columns] = moved_input[columns]
            before = per_tree[which].sum(axis=0)[rows_moved]
            moved[first + rows_moved, position] = raw[first + rows_moved] + (outputs(shifted, which).sum(axis=0) - before)
    return raw, moved
