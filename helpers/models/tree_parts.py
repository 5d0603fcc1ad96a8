"""Boosted-tree predictions of related rows, re-evaluating only the trees a difference reaches.

A tree that never splits on a column returns the same leaf whatever that
column's value. Two uses:

- ``raw_with_each_moved`` (the drivers of a score): the raw output with feature
  f moved is the full output minus f's trees at x plus f's trees at the moved
  x, so each tree runs once per feature it splits on (a tree of 15 leaves uses a
  few of the 28 features), not the whole forest once per feature;
- ``raw_over_periods`` (survival curves): a customer's months differ only in
  the period columns, so each customer is encoded once, and a tree runs once
  per customer and branch of the period values it splits on, not once per month.
  The drivers use the same: the months of the score's horizon are not expanded.

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

    ``raw_with_each_moved`` with nothing moved: each distinct row is encoded once (one-hot
    encoding is most of the cost of predicting person-months), and each tree runs once per
    distinct row and branch of the period values (see ``raw_with_each_moved``).

    Args:
        pipeline: a fitted pipeline ``supported`` accepts.
        first_rows: one input row per distinct row (any values in the period columns).
        row: for each output row, its row of ``first_rows``.
        periods: column name to its value in each output row.

    Returns:
        Raw outputs of shape (len(row),), or None when a period column is not passed
        through unchanged (then the rows must be predicted in full).
    """
    if not set(periods) <= passthrough_columns(pipeline.steps[0][1]):
        return None
    raw, _ = raw_with_each_moved(pipeline, first_rows, {}, np.zeros((len(first_rows), 0), dtype=bool), row, periods)
    return raw


def raw_with_each_moved(
    pipeline: Any,
    rows: pd.DataFrame,
    moves: dict[str, Any],
    differs: np.ndarray,
    row: np.ndarray | None = None,
    periods: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (log-odds) outputs, and the outputs with each ``moves`` column set to its value.

    Output rows repeat ``rows[row]`` with only the ``periods`` columns changed (a
    customer's months ahead). Each tree's split thresholds on the period columns cut
    the dozen combinations of period values into a few branches ("cells"); a tree runs
    once per distinct row and cell, and once more per feature it splits on, on the
    rows that differ from the move. A tree with more cells than output rows per
    distinct row runs on the output rows instead, so no tree runs more often than
    on every output row.

    Args:
        pipeline: a fitted pipeline ``supported`` accepts.
        rows: the input frame (the pipeline's input columns), one row per distinct row.
        moves: column name to the value it is moved to, in column order of the result.
        differs: (len(rows), len(moves)) booleans: where the row's value differs from the
            move's; elsewhere the moved output is the row's own (not computed again).
        row: for each output row, its row of ``rows`` (None: one output row per row).
        periods: column name (passed through unchanged) to its value in each output row.

    Memory grows with (outputs x moves) and, with moves, (trees x cells x distinct rows):
    callers pass blocks (``time_to_churn`` uses 20,000 to 50,000 snapshot rows).

    Returns:
        ``raw`` of shape (outputs,) and ``moved`` of shape (outputs, len(moves)).
    """
    forest = _Forest(pipeline)
    blocks = input_columns(forest.preprocessor)
    row = np.arange(len(rows)) if row is None else np.asarray(row)
    periods = periods or {}
    if not set(periods) <= passthrough_columns(forest.preprocessor):
        raise ValueError(f"period columns {sorted(periods)} must be passed through unchanged")
    if set(periods) & set(moves):
        raise ValueError(f"a period column cannot be moved: {sorted(set(periods) & set(moves))}")
    if not len(row):
        return np.empty(0), np.empty((0, len(moves)))
    distinct = forest.encode(rows)
    moved_input = forest.encode(rows.iloc[[0]].assign(**moves))[0] if moves else np.empty(0)
    moved_columns = [blocks[name] for name in moves]
    period_columns = [int(blocks[name][0]) for name in periods]
    values = np.column_stack([np.asarray(periods[name], dtype=float) for name in periods] or
                             [np.zeros(len(row))])
    combos, combo_of_row = _distinct_rows(values)
    combos = combos[:, :len(period_columns)]
    # Each tree runs per cell on the distinct rows when that is no more than once per output row;
    # with more combinations than output rows per distinct row, every tree runs per output row.
    per_combo = len(combos) * len(distinct) <= len(row)
    by_cell, by_row = {}, {}
    for tree in range(len(forest.trees)):
        cells = forest.period_cells(tree, period_columns, combos) if per_combo else None
        if per_combo and (cells.max() + 1) * len(distinct) <= len(row):
            members = [np.flatnonzero(cells == cell) for cell in range(cells.max() + 1)]
            by_cell[tree] = [(cell, combos[cell[0]]) for cell in members]
        else:
            by_row[tree] = [(np.zeros(1, dtype=int), None)]
    # Totals per combination of period values and distinct row, then per output row.
    raw_by_combo = np.zeros((len(combos) if per_combo else 0, len(distinct)))
    change_by_combo = np.zeros((len(combos) if per_combo else 0, len(distinct), len(moves)))
    forest.accumulate(distinct, by_cell, period_columns, differs, moved_input, moved_columns,
                      raw_by_combo, change_by_combo)
    raw = np.full(len(row), forest.baseline) + (raw_by_combo[combo_of_row, row] if per_combo else 0.0)
    change = change_by_combo[combo_of_row, row] if per_combo else np.zeros((len(row), len(moves)))
    if by_row:
        expanded = distinct[row]
        expanded[:, period_columns] = combos[combo_of_row]
        raw_rows, change_rows = np.zeros((1, len(row))), np.zeros((1, len(row), len(moves)))
        forest.accumulate(expanded, by_row, period_columns, differs[row], moved_input, moved_columns,
                          raw_rows, change_rows)
        raw += raw_rows[0]
        change += change_rows[0]
    return raw, raw[:, None] + change


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

    def predict(self, tree: int, matrix: np.ndarray) -> np.ndarray:
        """The raw output of one tree on each row."""
        return self.trees[tree].predict(matrix, self.known_categories, self.feature_map, self.threads)

    def period_cells(self, tree: int, columns: list[int], combos: np.ndarray) -> np.ndarray:
        """For each combination of values of ``columns``, its cell: combinations of a cell take the same branches.

        A value goes left at a node when value <= threshold, so the count of the tree's
        thresholds below it, per column, names its branches.
        """
        nodes = self.trees[tree].nodes
        splitting = nodes["is_leaf"] == 0
        keys = np.column_stack([np.zeros(len(combos), dtype=np.int64)] + [
            # A missing value follows each node's own missing-value branch: a cell of its own.
            np.where(np.isnan(combos[:, position]), -1, np.searchsorted(
                np.sort(nodes["num_threshold"][splitting & (nodes["feature_idx"] == column)]),
                combos[:, position], side="left"))
            for position, column in enumerate(columns)])
        return _distinct_rows(keys)[1]

    def accumulate(self, matrix: np.ndarray, plan: dict[int, list[tuple[np.ndarray, np.ndarray | None]]],
                   period_columns: list[int], differs: np.ndarray, moved_input: np.ndarray,
                   moved_columns: list[np.ndarray], raw: np.ndarray, change: np.ndarray) -> None:
        """Add the planned trees' outputs on ``matrix`` to ``raw``, and each move's change to ``change``.

        Args:
            matrix: the rows (written into: its period columns take each cell's values).
            plan: tree -> its cells, each (the accumulator rows it adds to, the period values
                to set, or None to leave the rows' own).
            differs: (rows, moves) booleans: the rows whose moved output is computed.
            raw, change: accumulators of shape (k, rows) and (k, rows, moves).
        """
        outputs = {}
        for tree, cells in plan.items():
            for index, (members, values) in enumerate(cells):
                if values is not None:
                    matrix[:, period_columns] = values
                output = self.predict(tree, matrix)
                raw[members] += output
                if moved_columns:
                    outputs[tree, index] = output
        for position, columns in enumerate(moved_columns):
            rows_moved = np.flatnonzero(differs[:, position])
            trees = [tree for tree in plan if not self.splits[tree].isdisjoint(columns.tolist())]
            if not len(rows_moved) or not trees:
                continue
            # One copy per move: each tree that splits on the moved column runs on it, per cell.
            shifted = matrix[rows_moved]
            shifted[:, columns] = moved_input[columns]
            moved = np.zeros((len(raw), len(rows_moved)))
            for tree in trees:
                for index, (members, values) in enumerate(plan[tree]):
                    if values is not None:
                        shifted[:, period_columns] = values
                    moved[members] += self.predict(tree, shifted) - outputs[tree, index][rows_moved]
            change[:, rows_moved, position] += moved
