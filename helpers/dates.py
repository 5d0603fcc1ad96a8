"""Dates of the suite: argument parsing, month arithmetic and the one as-of rule.

"As of D" means at the start of day D: an analysis as of D reads data
strictly before D. Defaults come from the data (``meta.build_info.data_end``),
never from the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Union

import numpy as np
import pandas as pd

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00(?:\.0+)?)?)?")

DateLike = Union[dt.date, str, pd.Timestamp, np.datetime64]


def to_date(value: DateLike | None, name: str) -> dt.date | None:
    """Parse a date argument (date, midnight datetime, Timestamp or ISO text); None passes through.

    Args:
        value: the argument.
        name: the parameter's name, for the error message.

    Returns:
        The date, or None.

    Raises:
        ValueError: not a date, or a datetime with a time of day (ambiguous as an as-of).
    """
    if value is None:
        return None
    message = f"{name} must be a date such as 2024-01-31, got {value!r}"
    # Numbers would parse as nanoseconds since 1970: refuse them outright.
    if not isinstance(value, (dt.date, str, np.datetime64)):
        raise ValueError(message)
    # Text must be ISO: pandas would read "June" as June of the current year (the clock).
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value.strip()):
        raise ValueError(message)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if pd.isna(stamp) or stamp != stamp.normalize():
        raise ValueError(message)
    return stamp.date()


def month_start(day: dt.date) -> dt.date:
    """First day of ``day``'s month."""
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month ``months`` after ``day``'s month (negative goes back)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def next_month_start(day: dt.date) -> dt.date:
    """First day of the month after ``day``'s month."""
    return add_months(day, 1)


def month_starts(first: dt.date, last: dt.date, step_months: int = 1) -> list[dt.date]:
    """First days of months from ``first`` (or the next month start) to ``last`` inclusive."""
    if first > last:
        raise ValueError(f"first ({first}) is after last ({last})")
    current = month_start(first) if first.day == 1 else next_month_start(first)
    dates = []
    while current <= last:
        dates.append(current)
        current = add_months(current, step_months)
    return dates


def default_as_of(data_end: dt.date) -> dt.date:
    """The day after the last complete month of data: the reports' ``auto`` as-of.

    Data through 2025-12-31 gives 2026-01-01; data through 2025-12-15 gives
    2025-12-01 (December is incomplete).
    """
    following = data_end + dt.timedelta(days=1)
    return following if following.day == 1 else month_start(data_end)


def check_as_of(as_of: dt.date, data_start: dt.date, data_end: dt.date) -> dt.date:
    """Refuse an as-of date outside the data: an analysis needs data before it, and none after the data end.

    Args:
        as_of: the parsed date.
        data_start, data_end: the warehouse's data range (``meta.build_info``).

    Returns:
        ``as_of`` unchanged.

    Raises:
        ValueError: ``as_of`` is on or before the first day of data, or later than the day after the last.
    """
    latest = data_end + dt.timedelta(days=1)
    if as_of > latest:
        raise ValueError(
            f"as_of {as_of} is after the data: the warehouse covers {data_start} to {data_end}, so the "
            f"latest as-of date is {latest}; pass an earlier date or 'auto' (the data end is chosen when the "
            f"warehouse is built: --data-end or data.data_end in params.yaml)"
        )
    if as_of <= data_start:
        raise ValueError(
            f"as_of {as_of} is before any data: the warehouse covers {data_start} to {data_end}; "
            f"pass a later date or 'auto'"
        )
    return as_of


def resolve_as_of(value: DateLike | None, data_start: dt.date, data_end: dt.date) -> dt.date:
    """The one as-of rule of the suite: ``auto`` (or empty/None) is ``default_as_of``; a date is range-checked.

    Args:
        value: ``"auto"``, ``""``, None, or a date such as ``"2025-07-01"``.
        data_start, data_end: the warehouse's data range.

    Returns:
        The as-of date, within the data (see ``check_as_of``).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return default_as_of(data_end)
    return check_as_of(to_date(value, "as_of"), data_start, data_end)
