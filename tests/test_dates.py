"""Date arguments: ISO text only, never a date completed from the clock."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers.dates import to_date


@pytest.mark.parametrize("text", ["2025-07-01", " 2025-07-01 ", "2025-07-01 00:00:00", "2025-07-01T00:00"])
def test_iso_text_is_a_date(text):
    assert to_date(text, "as_of") == dt.date(2025, 7, 1)


@pytest.mark.parametrize("text", ["June", "July 2025", "2025/07/01", "01.07.2025", "2025-07-01 13:45", ""])
def test_other_text_is_refused_with_the_parameter_name(text):
    # pandas alone reads "June" as June of the current year: a date taken from the clock.
    with pytest.raises(ValueError, match="as_of must be a date such as 2024-01-31"):
        to_date(text, "as_of")
