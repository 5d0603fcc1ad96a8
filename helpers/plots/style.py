"""The look of every chart: colours by meaning, figure and axis helpers, money labels."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

DPI = 100
STYLE: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "legend.title_fontsize": 9.5,
    "figure.titlesize": 14,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
}

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
MOVEMENT_COLORS: dict[str, str] = {
    "new": "#009E73",
    "reactivation": "#56B4E9",
    "expansion": "#0072B2",
    "contraction": "#E69F00",
    "churn": "#D55E00",
}
GAINS = ("new", "reactivation", "expansion")
LOSSES = ("contraction", "churn")
RISK_TIER_COLORS: dict[str, str] = {
    "low": "#009E73",
    "medium": "#E6B000",
    "high": "#E66100",
    "critical": "#A50F15",
}
PLAN_TIER_COLORS: dict[str, str] = {
    "free": "#999999",
    "starter": "#E69F00",
    "growth": "#009E73",
    "enterprise": "#0072B2",
    "custom": "#CC79A7",
}
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
MODEL_COLORS: dict[str, str] = {
    "churn_model": "#0072B2",
    "logistic_regression": "#E69F00",
    "recency_rule": "#009E73",
    "base_rate": "#999999",
}
NET_COLOR = "#222222"


def styled(function: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under the suite's rc settings (sizes are fixed when artists are made)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float, rows: int = 1, columns: int = 1, **subplot_kw) -> tuple[Figure, Any]:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=True, **subplot_kw)
    return figure, axes


def as_floats(values: Iterable[Any]) -> np.ndarray:
    """Money or ratios (Decimal, None, numpy) as a float array; None becomes NaN."""
    return np.array([np.nan if value is None or value is pd.NA else float(value) for value in values], dtype=float)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise KeyError(f"{what}: missing column(s) {', '.join(missing)}; got {', '.join(map(str, frame.columns))}")


def money_label(value: float, _position: Any = None) -> str:
    """Compact money for axis ticks: ``$1.2M``, ``$450k``, ``-$35k``, ``$0``."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size >= 1e6:
        text = f"{size / 1e6:.1f}M".replace(".0M", "M")
    elif size >= 1e3:
        text = f"{size / 1e3:.0f}k"
    else:
        text = f"{size:.0f}"
    return f"{sign}${text}" if text != "0" else "$0"


MONEY_FORMATTER = FuncFormatter(money_label)
SHARE_FORMATTER = PercentFormatter(xmax=1.0, decimals=0)


def month_labels(months: Iterable[Any]) -> list[str]:
    return [pd.Timestamp(month).strftime("%b\n%Y") for month in months]


def date_axis(axis) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def thin_ticks(axis, labels: Sequence[str], maximum: int = 14) -> None:
    """Categorical x labels, showing every k-th one when there are too many to read."""
    step = max(1, int(np.ceil(len(labels) / maximum)))
    positions = np.arange(len(labels))
    axis.set_xticks(positions[::step])
    axis.set_xticklabels([labels[i] for i in positions[::step]])
