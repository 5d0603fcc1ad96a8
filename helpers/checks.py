"""Argument checks shared by the package: one rule each, one wording each.

Errors name the parameter, say what was expected and repeat the value given,
so a caller can fix the call without reading the code.
"""

from __future__ import annotations

import numbers

__all__ = ["int_in_range"]


def int_in_range(value: object, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int with ``minimum <= value <= maximum``.

    Args:
        value: the argument to check. ``bool`` is refused although it is an
            ``int`` subclass (``True`` is not a count), and so are floats and
            numeric strings (``2.5`` and ``"7"`` are caller mistakes, not counts).
        name: the parameter's name, for the message.
        minimum: smallest accepted value.
        maximum: largest accepted value, or None for no upper bound.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: ``value`` is not an int or lies outside the range.
    """
    expected = (
        f"an int between {minimum} and {maximum}" if maximum is not None else f"an int >= {minimum}"
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)
