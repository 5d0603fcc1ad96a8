"""Boosted-tree outputs with one feature moved: equal to predicting the moved rows in full."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.analytics.features import FEATURES
from helpers.models import tree_parts
from helpers.models.hazard import BoostedHazard, LogisticHazard
from helpers.models.person_period import HAZARD_FEATURES, expand, period_values, ragged_index
from test_churn_model import person_months


def fitted(seed: int = 11) -> BoostedHazard:
    rows = person_months(4000, seed, tiers=("starter", "growth", "enterprise"))
    # Plan tier, industry and a renewal month change the hazard: the trees split on their columns.
    rows["churned"] = np.where((rows["plan_tier"] == "enterprise") & (rows["industry"] == "Other"), 0, rows["churned"])
    rng = np.random.default_rng(seed)
    renewing = rng.random(len(rows)) < 0.3
    rows["renewal_in_period"] = renewing.astype(float)
    rows.loc[renewing & (rng.random(len(rows)) < 0.25), "churned"] = 1
    return BoostedHazard({"max_iter": 40, "min_samples_leaf": 20}).fit(rows)


def test_the_trees_split_on_the_period_columns_these_tests_vary():
    model = fitted()
    blocks = tree_parts.input_columns(model.pipeline_.steps[0][1])
    splits = set().union(*tree_parts._Forest(model.pipeline_).splits)
    assert {int(blocks[name][0]) for name in ("months_ahead", "renewal_in_period")} <= splits


def test_moved_outputs_equal_the_full_prediction_of_the_moved_rows():
    model = fitted()
    rows = person_months(300, seed=12, tiers=("starter", "growth", "enterprise"))[list(HAZARD_FEATURES)]
    moves = {"plan_tier": "enterprise", "industry": "FinTech", "days_since_last_event": 3.0,
             "months_ahead": 1.0, "is_annual": 0.0}
    differs = np.column_stack([(rows[name] != value).to_numpy() for name, value in moves.items()])
    raw, moved = tree_parts.raw_with_each_moved(model.pipeline_, rows, moves, differs)
    assert raw == pytest.approx(model.pipeline_.decision_function(rows), abs=1e-12)
    for position, (name, value) in enumerate(moves.items()):
        expected = model.pipeline_.decision_function(rows.assign(**{name: value}))
        assert moved[:, position] == pytest.approx(expected, abs=1e-12), name
    # is_annual is 0 in every row: no row differs, every moved output is the row's own.
    assert not differs[:, -1].any() and np.array_equal(moved[:, -1], raw)


def test_rows_marked_equal_keep_their_own_output():
    model = fitted()
    rows = person_months(50, seed=13)[list(HAZARD_FEATURES)]
    differs = np.zeros((len(rows), 1), dtype=bool)
    differs[::2] = True
    raw, moved = tree_parts.raw_with_each_moved(model.pipeline_, rows, {"days_since_last_event": 0.0}, differs)
    assert np.array_equal(moved[1::2, 0], raw[1::2])
    expected = model.pipeline_.decision_function(rows.assign(days_since_last_event=0.0))
    assert moved[::2, 0] == pytest.approx(expected[::2], abs=1e-12)


def test_input_columns_name_each_inputs_output_block():
    model = fitted()
    names = model.pipeline_.steps[0][1].get_feature_names_out()
    blocks = tree_parts.input_columns(model.pipeline_.steps[0][1])
    assert set(blocks) == set(HAZARD_FEATURES)
    assert sorted(np.concatenate(list(blocks.values())).tolist()) == list(range(len(names)))
    for name in ("plan_tier", "industry"):
        assert all(str(names[i]).startswith(f"{name}_") for i in blocks[name]), name
    for name in set(FEATURES) - {"plan_tier", "industry"}:
        assert [str(names[i]) for i in blocks[name]] == [name]


def test_only_a_boosted_tree_pipeline_is_supported():
    from sklearn.base import clone
    from sklearn.preprocessing import OneHotEncoder

    model = fitted()
    assert tree_parts.supported(model.pipeline_)
    # An encoder that drops a category: its output columns no longer trace to the inputs.
    dropping = clone(model.pipeline_)
    dropping.steps[0][1].transformers[0] = ("categorical", OneHotEncoder(drop="first", sparse_output=False),
                                            ["plan_tier", "industry"])
    rows = person_months(2000, seed=16, tiers=("starter", "growth", "enterprise"))
    dropping.fit(rows[list(HAZARD_FEATURES)], rows["churned"])
    assert not tree_parts.supported(dropping)
    assert not tree_parts.supported(LogisticHazard().fit(person_months(500)).pipeline_)
    assert not tree_parts.supported(pd.DataFrame())


def test_person_months_from_their_snapshot_rows_equal_the_full_prediction():
    """Months 1..k of each snapshot row: each row encoded once, period-free trees run once per row."""
    model = fitted()
    snapshots = person_months(80, seed=14, tiers=("starter", "growth", "enterprise"))
    months = np.random.default_rng(15).integers(0, 13, len(snapshots))  # some rows with no month
    row, ahead = ragged_index(months)
    first = snapshots[list(HAZARD_FEATURES)]
    raw = tree_parts.raw_over_periods(model.pipeline_, first, row, period_values(snapshots, row, ahead))
    assert raw is not None  # the boosted pipeline passes the period columns through: the fast path ran
    expected = model.pipeline_.decision_function(expand(snapshots, months)[list(HAZARD_FEATURES)])
    assert raw == pytest.approx(expected, abs=1e-12)
    assert model.hazards_over_months(snapshots, months) == pytest.approx(model.hazard(expand(snapshots, months)),
                                                                         abs=1e-12)


def test_period_columns_that_are_transformed_need_the_full_prediction():
    rows = person_months(500)
    logistic = LogisticHazard().fit(rows)  # scales renewal_in_period, one-hot encodes months_ahead
    assert not {"months_ahead", "renewal_in_period"} & tree_parts.passthrough_columns(logistic.pipeline_.steps[0][1])
    boosted = fitted()
    assert {"months_ahead", "renewal_in_period"} <= tree_parts.passthrough_columns(boosted.pipeline_.steps[0][1])


def test_period_values_of_one_cell_take_the_same_branches_of_a_tree():
    model = fitted()
    snapshots = person_months(60, seed=16, tiers=("starter", "growth", "enterprise"))
    forest = tree_parts._Forest(model.pipeline_)
    blocks = tree_parts.input_columns(forest.preprocessor)
    columns = [int(blocks[name][0]) for name in ("months_ahead", "renewal_in_period")]
    varying = [tree for tree, splits in enumerate(forest.splits) if not splits.isdisjoint(columns)]
    # The months, and values exactly at the trees' month thresholds (a value equal to one goes left).
    thresholds = {float(node["num_threshold"]) for tree in varying for node in forest.trees[tree].nodes
                  if not node["is_leaf"] and node["feature_idx"] == columns[0]}
    combos = np.array([[month, renewal] for month in sorted(set(range(1, 13)) | thresholds)
                       for renewal in (0.0, 1.0)])
    outputs = np.array([forest.encode(snapshots[list(HAZARD_FEATURES)].assign(months_ahead=month,
                                                                             renewal_in_period=renewal))
                        for month, renewal in combos])
    for tree in varying:
        cells = forest.period_cells(tree, columns, combos)
        by_combo = np.array([forest.predict(tree, matrix) for matrix in outputs])
        assert 1 < cells.max() + 1 <= len(combos)
        for cell in range(cells.max() + 1):
            members = np.flatnonzero(cells == cell)
            assert (by_combo[members] == by_combo[members[0]]).all(), (tree, combos[members])


def test_drivers_over_a_horizons_months_equal_the_full_prediction_of_the_moved_months():
    model = fitted()
    snapshots = person_months(90, seed=19, tiers=("starter", "growth", "enterprise"))
    first = snapshots[list(HAZARD_FEATURES)]
    moves = {"plan_tier": "enterprise", "days_since_last_event": 3.0, "tenure_days": 400.0}
    differs = np.column_stack([(snapshots[name] != value).to_numpy() for name, value in moves.items()])
    for months in (3, 1, 12):  # one month per row runs the period trees on the output rows
        row, ahead = ragged_index(np.full(len(snapshots), months))
        raw, moved = tree_parts.raw_with_each_moved(model.pipeline_, first, moves, differs, row,
                                                    period_values(snapshots, row, ahead))
        expanded = expand(snapshots, months)[list(HAZARD_FEATURES)]
        assert raw == pytest.approx(model.pipeline_.decision_function(expanded), abs=1e-12)
        for position, (name, value) in enumerate(moves.items()):
            expected = model.pipeline_.decision_function(expanded.assign(**{name: value}))
            assert moved[:, position] == pytest.approx(expected, abs=1e-12), (months, name)
        # A row already at the move's value keeps its own output, exactly.
        same = ~differs[row, 0]
        assert same.any() and np.array_equal(moved[same, 0], raw[same])


def test_one_month_per_row_and_mixed_months_equal_the_full_prediction():
    """One output row per snapshot row leaves the period trees to run row by row; both paths agree."""
    model = fitted()
    snapshots = person_months(70, seed=17, tiers=("starter", "growth", "enterprise"))
    first = snapshots[list(HAZARD_FEATURES)]
    for months in (np.ones(len(snapshots), dtype=int), np.full(len(snapshots), 12),
                   np.random.default_rng(18).integers(1, 4, len(snapshots))):
        row, ahead = ragged_index(months)
        raw = tree_parts.raw_over_periods(model.pipeline_, first, row, period_values(snapshots, row, ahead))
        expected = model.pipeline_.decision_function(expand(snapshots, months)[list(HAZARD_FEATURES)])
        assert raw == pytest.approx(expected, abs=1e-12)


def test_missing_period_values_follow_the_trees_missing_value_branches():
    model = fitted()
    snapshots = person_months(40, seed=20, tiers=("starter", "growth", "enterprise"))
    first = snapshots[list(HAZARD_FEATURES)]
    for months in (12, 1):  # per cell, and per output row
        row, ahead = ragged_index(np.full(len(snapshots), months))
        periods = period_values(snapshots, row, ahead)
        periods["months_ahead"] = np.where(np.arange(len(row)) % 5 == 0, np.nan, periods["months_ahead"])
        raw = tree_parts.raw_over_periods(model.pipeline_, first, row, periods)
        expanded = first.iloc[row].reset_index(drop=True).assign(**periods)
        assert raw == pytest.approx(model.pipeline_.decision_function(expanded), abs=1e-12), months
    # A missing value is a cell of its own in every tree that splits on the column.
    forest = tree_parts._Forest(model.pipeline_)
    blocks = tree_parts.input_columns(forest.preprocessor)
    columns = [int(blocks[name][0]) for name in ("months_ahead", "renewal_in_period")]
    combos = np.array([[np.nan, 1.0]] + [[month, 1.0] for month in range(1, 13)])
    for tree, splits in enumerate(forest.splits):
        if columns[0] in splits:
            cells = forest.period_cells(tree, columns, combos)
            assert cells[0] not in cells[1:], tree
