"""Result frames as tables that read well in the HTML reports: money as "$12,345", shares as "12.3%"."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

MISSING = "—"  # shown in tables where a value is undefined (NaN, None)



def _number(value: Any) -> float | None:
    """A float for numbers (Decimal, numpy, int); None for missing or NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    return None if math.isnan(number) else number


def format_money(value: Any, decimals: int = 0, currency: str = "$") -> str:
    """``12345.6`` -> ``"$12,346"``; negative amounts as ``"-$9,730"``; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    rounded = round(number, decimals)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{currency}{abs(rounded):,.{decimals}f}"


def format_percent(value: Any, decimals: int = 1) -> str:
    """A share as a percentage: ``0.1234`` -> ``"12.3%"``; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number * 100:.{decimals}f}%"


def format_count(value: Any) -> str:
    """A count with thousands separators: ``12345`` -> ``"12,345"``; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{round(number):,d}"


def format_number(value: Any, decimals: int = 2) -> str:
    """A plain number with ``decimals`` decimals and thousands separators; missing as "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number:,.{decimals}f}"


def format_month(value: Any) -> str:
    """A month as ``"2025-12"``; missing as "—"."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{pd.Timestamp(value):%Y-%m}"


def format_date(value: Any) -> str:
    """A date as ``"2025-12-31"``; missing as "—"."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def format_table(
    frame: pd.DataFrame,
    money: Iterable[str] = (),
    percent: Iterable[str] = (),
    counts: Iterable[str] = (),
    numbers: Mapping[str, int] | None = None,
    months: Iterable[str] = (),
    dates: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    index: str | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with its values formatted as text, for display.

    Args:
        frame: the result to show.
        money, percent, counts, months, dates: columns formatted with ``format_money``,
            ``format_percent``, ``format_count``, ``format_month``, ``format_date``.
        numbers: column -> decimals, formatted with ``format_number``.
        rename: column -> the header to show (applied after formatting).
        index: a column to show as the row label instead of 0, 1, 2...

    Returns:
        A frame of strings (columns not named are left as they are).
    """
    shown = frame.copy()
    formatters: dict[str, Any] = {}
    for columns, formatter in (
        (money, format_money), (percent, format_percent), (counts, format_count),
        (months, format_month), (dates, format_date),
    ):
        formatters.update({column: formatter for column in columns})
    for column, decimals in (numbers or {}).items():
        formatters[column] = lambda value, decimals=decimals: format_number(value, decimals)
    missing = sorted(set(formatters) - set(shown.columns))
    if missing:
        raise KeyError(f"format_table: no column(s) {', '.join(missing)}; the frame has {', '.join(map(str, shown.columns))}")
    for column, formatter in formatters.items():
        shown[column] = shown[column].map(formatter)
    if index is not None:
        shown = shown.set_index(index)
    if rename:
        shown = shown.rename(columns=dict(rename))
        if shown.index.name in rename:
            shown.index.name = rename[shown.index.name]
    return shown


def _plain(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_plain(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(item) for item in value) + "]"
    return str(value)


def print_key_figures(figures: Mapping[str, Any]) -> None:
    """Print ``name  value`` lines for regression checks (nbval compares this text).

    Round the values before passing them: the text must be identical run after
    run, so give no timestamps, paths, versions or unrounded floats.
    """
    if not figures:
        print("(no figures)")
        return
    width = max(len(str(name)) for name in figures)
    for name, value in figures.items():
        print(f"{str(name):<{width}}  {_plain(value)}")
