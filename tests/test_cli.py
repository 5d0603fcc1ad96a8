"""The command line: help for every subcommand, exit codes of validate."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from helpers.cli import main
from sample_data import build_frames, valid_frames

SUBCOMMANDS = ["generate", "build", "ingest", "validate", "summary", "train", "report"]


def test_help_lists_every_subcommand():
    result = subprocess.run([sys.executable, "-m", "helpers", "--help"], capture_output=True, text=True, check=True)
    for command in SUBCOMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as raised:
        main([command, "--help"])
    assert raised.value.code == 0
    assert "--warehouse" in capsys.readouterr().out


def test_validate_exits_zero_on_a_clean_warehouse_and_one_on_problems(tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    build_frames(path, valid_frames())
    assert main(["validate", "--warehouse", str(path)]) == 0
    assert "0 problem(s) found" in capsys.readouterr().out
    with duckdb.connect(str(path)) as con:
        con.execute("update raw.customers set mrr = 1 where customer_id = 'C2'")
    assert main(["validate", "--warehouse", str(path)]) == 1
    out = capsys.readouterr().out
    assert "consistent_customers_mrr" in out and "C2" in out


def test_missing_warehouse_is_a_clear_error(tmp_path, capsys):
    assert main(["summary", "--warehouse", str(tmp_path / "absent.duckdb")]) == 2
    assert "python -m helpers generate" in capsys.readouterr().err


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["generate", "--customers", "0"])
    assert raised.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
