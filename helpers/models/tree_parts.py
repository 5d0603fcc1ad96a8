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
up to the order of floating-point sums (1e-12 in tests/test_tree_parts.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder

try:  # scikit-learn's own thread count for its tree predictors (private; absent: predict in full)
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # pragma: no cover - depends on the installed scikit-learn
    _openmp_effective_n_threads = None

# Rows per block of the (rows x trees) output matrix: about 240 MB at 300 trees.
BLOCK_ROWS = 100_000


def supported(pipeline: Any) -> bool:
    """Whether ``pipeline`` is a dense ColumnTransformer then a binary HistGradientBoostingClassifier this module reads."""
    steps = getattr(pipeline, "steps", None)
    if _openmp_effective_n_threads is None or not steps or len(steps) != 2:
        return False
    preprocessor, booster = steps[0][1], steps[1][1]
    if not isinstance(preprocessor, ColumnTransformer) or not (
        hasattr(booster, "_predictors") and hasattr(booster, "_baseline_prediction")
        and hasattr(booster, "_bin_mapper") and getattr(booster, "n_trees_per_iteration_", 0) == 1
        and getattr(booster, "_preprocessor", None) is None
        and all(len(trees) == 1 and hasattr(trees[0], "nodes") for trees in booster._predictors)
    ):
        return False
    # Every output column traced to one input column (no dropped category, no sparse output).
    try:
        blocks = input_columns(preprocessor)
    except (AttributeError, KeyError, TypeError):
        return False
    traced = sorted(int(position) for block in blocks.values() for position in block)
    return preprocessor.sparse_output_ is False and traced == list(range(len(preprocessor.get_feature_names_out())))


def input_columns(preprocessor: ColumnTransformer) -> dict[str, np.ndarray]:
    """The output columns of the fitted ``preprocessor`` that each input column feeds.

    Returns:
        Input column name to the positions of its output columns (its one-hot block, or one column).
    """
    blocks: dict[str, np.ndarray] = {}
    for name, transformer, columns in preprocessor.transformers_:
        if transformer == "drop" or name not in preprocessor.output_indices_:
            continue
        start = preprocessor.output_indices_[name].start
        if isinstance(transformer, OneHotEncoder):
            if transformer.drop_idx_ is not None or getattr(transformer, "infrequent_categories_", None):
                raise TypeError(f"one-hot encoder {name!r} drops or groups categories")
            widths = [len(categories) for categories in transformer.categories_]
        else:
            widths = [1] * len(columns)
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
    of predicting person-months). A tree that splits on no period column runs
    once per distinct row. A tree that does sends the period values (a dozen
    months, renewal or not) down a few of its branches only: it runs once per
    distinct row and branch ("cell") when that is fewer runs than one per output row.

    Args:
        pipeline: a fitted pipeline ``supported`` accepts.
        first_rows: one input row per distinct row (any values in the period columns).
        row: for each output row, its row of ``first_rows``.
        periods: column name to its value in each output row.

    Returns:
        Raw outputs of shape (len(row),), or None when a period column is not passed
        through unchanged (then the rows must be predicted in full).
    """
    forest = _Forest(pipeline)
    if not set(periods) <= passthrough_columns(forest.preprocessor):
        return None
    raw = np.full(len(row), forest.baseline)
    if not len(row):
        return raw
    blocks = input_columns(forest.preprocessor)
    columns = [int(blocks[name][0]) for name in periods]
    distinct = forest.encode(first_rows)
    static = [tree for tree, splits in enumerate(forest.splits) if splits.isdisjoint(columns)]
    varying = [tree for tree, splits in enumerate(forest.splits) if not splits.isdisjoint(columns)]
    raw += forest.total(distinct, static)[row]
    values = np.column_stack([np.asarray(periods[name], dtype=float) for name in periods])
    by_row = varying
    if not np.isnan(values).any():  # a missing value follows its own branch: those rows run in full
        combos, combo_of_row = _distinct_rows(values)
        by_combo, by_row = forest.totals_by_period(distinct, columns, combos, varying, len(row))
        raw += by_combo[combo_of_row, row]
    if by_row:
        raw += _total_over_rows(forest, distinct, row, dict(zip(columns, values.T)), by_row)
    return raw


def _distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-d array and each row's position among them.

    Column codes combined into one integer: ``np.unique(axis=0)`` took 1.8 s on 600,000 rows.
    """
    key = np.zeros(len(values), dtype=np.int64)
    for column in values.T:
        levels, codes = np.unique(column, return_inverse=True)
        # Renumbered after each column: the key stays below the row count.
        key = np.unique(key * len(levels) + codes.ravel(), return_inverse=True)[1].ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return values[first], inverse.ravel()


def _total_over_rows(forest: "_Forest", distinct: np.ndarray, row: np.ndarray,
                     periods: dict[int, np.ndarray], which: list[int]) -> np.ndarray:
    """Trees ``which`` on every output row: ``distinct[row]`` with the period columns set."""
    total = np.empty(len(row))
    # A block at a time, in one reused buffer: the full (rows x columns) matrix of a year of
    # evaluation person-months would hold over a gigabyte, and memory a process has not
    # touched yet is slow to get (2.7 s of 5 s when scoring 100,000 customers' curves).
    buffer = np.empty((min(len(row), BLOCK_ROWS), distinct.shape[1]))
    for first in range(0, len(row), BLOCK_ROWS):
        block = slice(first, first + BLOCK_ROWS)
        matrix = np.take(distinct, row[block], axis=0, out=buffer[:len(row[block])])
        for column, values in periods.items():
            matrix[:, column] = values[block]
        total[block] = forest.total(matrix, which)
    return total


class _Forest:
    """The fitted trees of a supported pipeline, with what their predictor needs."""

    def __init__(self, pipeline: Any):
        self.preprocessor, booster = pipeline.steps[0][1], pipeline.steps[1][1]
        self.trees = [tree for (tree,) in booster._predictors]
        self.baseline = float(np.ravel(booster._baseline_prediction)[0])
        self.known_categories, self.feature_map = booster._bin_mapper.make_known_categories_bitsets()
        self.threads = _openmp_effective_n_threads()
        # The output columns each tree splits on.
        self.splits = [set(tree.nodes["feature_idx"][tree.nodes["is_leaf"] == 0].tolist()) for tree in self.trees]

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(self.preprocessor.transform(rows), dtype=np.float64)

    def total(self, matrix: np.ndarray, which: list[int]) -> np.ndarray:
        """The summed raw output of trees ``which`` on each row (without the baseline)."""
        result = np.zeros(len(matrix))
        for tree in which:
            result += self.trees[tree].predict(matrix, self.known_categories, self.feature_map, self.threads)
        return result

    def totals_by_period(self, distinct: np.ndarray, columns: list[int], combos: np.ndarray, which: list[int],
                         output_rows: int) -> tuple[np.ndarray, list[int]]:
        """The summed output of trees ``which`` at each distinct row and each combination of period values.

        A tree's split thresholds on the period ``columns`` cut the combinations into
        cells that take the same branches; the tree runs once per cell on every distinct
        row, with the period columns set to one combination of the cell (written into
        ``distinct`` itself). A tree with more cells than ``output_rows`` / rows is left
        to run on the output rows.

        Returns:
            ``(len(combos), len(distinct))`` totals, and the trees left out.
        """
        totals = np.zeros((len(combos), len(distinct)))
        left_out = []
        for tree in which:
            nodes = self.trees[tree].nodes
            splitting = nodes["is_leaf"] == 0
            cuts = [np.sort(nodes["num_threshold"][splitting & (nodes["feature_idx"] == column)])
                    for column in columns]
            # A value goes left at a node when value <= threshold: the count of thresholds below it
            # (per column) names its branches.
            keys = np.column_stack([np.searchsorted(cut, combos[:, position], side="left")
                                    for position, cut in enumerate(cuts)])
            cells, cell_of_combo = np.unique(keys, axis=0, return_inverse=True)
            if len(cells) * len(distinct) > output_rows:
                left_out.append(tree)
                continue
            for cell in range(len(cells)):
                members = np.flatnonzero(cell_of_combo.ravel() == cell)
                distinct[:, columns] = combos[members[0]]
                totals[members] += self.trees[tree].predict(distinct, self.known_categories, self.feature_map,
                                                            self.threads)
        return totals, left_out

    def outputs(self, matrix: np.ndarray, which: list[int]) -> np.ndarray:
        """The raw output of trees ``which`` on each row: shape (len(which), rows)."""
        result = np.empty((len(which), len(matrix)))
        for position, tree in enumerate(which):
            result[position] = self.trees[tree].predict(matrix, self.known_categories, self.feature_map, self.threads)
        return result


def raw_with_each_moved(
    pipeline: Any, rows: pd.DataFrame, moves: dict[str, Any], differs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (log-odds) outputs of ``rows``, and the outputs with each ``moves`` column set to its value.

    Args:
        pipeline: a fitted pipeline ``supported`` accepts.
        rows: the input frame (the pipeline's input columns).
        moves: column name to the value it is moved to, in column order of the result.
        differs: (rows, len(moves)) booleans: where the row's value differs from the
            move's; elsewhere the moved output is the row's own (not computed again).

    Returns:
        ``raw`` of shape (rows,) and ``moved`` of shape (rows, len(moves)).
    """
    forest = _Forest(pipeline)
    blocks = input_columns(forest.preprocessor)
    names = list(moves)
    raw = np.empty(len(rows))
    moved = np.empty((len(rows), len(names)))
    if not len(rows):
        return raw, moved
    moved_input = forest.encode(rows.iloc[[0]].assign(**moves))[0]
    every_tree = list(range(len(forest.trees)))
    for first in range(0, len(rows), BLOCK_ROWS):
        block = slice(first, first + BLOCK_ROWS)
        matrix = forest.encode(rows.iloc[block])
        per_tree = forest.outputs(matrix, every_tree)
        raw[block] = forest.baseline + per_tree.sum(axis=0)
        moved[block] = raw[block, None]
        for position, name in enumerate(names):
            columns = blocks[name]
            which = [tree for tree, splits in enumerate(forest.splits) if splits.intersection(columns.tolist())]
            rows_moved = np.flatnonzero(differs[block, position])
            if not which or not len(rows_moved):
                continue
            shifted = matrix[rows_moved]
            shifted[:, columns] = moved_input[columns]
            change = forest.total(shifted, which) - per_tree[which].sum(axis=0)[rows_moved]
            moved[first + rows_moved, position] = raw[first + rows_moved] + change
    return raw, moved
