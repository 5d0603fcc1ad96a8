"""Model evaluation charts: ROC, precision-recall, reliability, gains, lift, survival calibration.

scikit-learn's metrics are imported inside the two charts that use them: importing
``helpers.plots`` then costs no scikit-learn (1.7 s), which reports without models skip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from helpers.plots.style import (
    MODEL_COLORS,
    PALETTE,
    SHARE_FORMATTER,
    new_figure,
    require_columns,
    styled,
)


def _model_color(model: str, index: int) -> str:
    return MODEL_COLORS.get(model, PALETTE[index % len(PALETTE)])


def _labels_and_scores(predictions: pd.DataFrame, label: str, model: str) -> tuple[np.ndarray, np.ndarray]:
    require_columns(predictions, [label, model], "predictions")
    return predictions[label].to_numpy(dtype=int), predictions[model].to_numpy(dtype=float)


@styled
def roc_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned",
              title: str = "ROC curve: churn model against the baselines") -> Figure:
    """ROC curves of several score columns of one evaluation frame, AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve  # here: see the module docstring

    figure, axis = new_figure(7, 6.2)
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        false_positive, true_positive, _ = roc_curve(labels, scores)
        auc = roc_auc_score(labels, scores)
        axis.plot(false_positive, true_positive, color=_model_color(model, index), linewidth=2.4 if index == 0 else 1.6,
                  label=f"{model} (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1, label="chance")
    _finish_share_curve(axis, "false positive rate (share of non-churners flagged)",
                        "true positive rate (share of churners caught)", "lower right", title)
    return figure


@styled
def precision_recall_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned",
                           title: str = "Precision-recall curve: churn model against the baselines") -> Figure:
    """Precision against recall for several score columns, average precision in the legend."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure, axis = new_figure(7, 6.2)
    base_rate = float(predictions[label].mean())
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        precision, recall, _ = precision_recall_curve(labels, scores)
        average = average_precision_score(labels, scores)
        axis.plot(recall, precision, color=_model_color(model, index), linewidth=2.4 if index == 0 else 1.6,
                  label=f"{model} (AP {average:.3f})", drawstyle="steps-post")
    axis.axhline(base_rate, color="#777777", linestyle=":", linewidth=1, label=f"churn rate ({base_rate:.1%})")
    _finish_share_curve(axis, "recall (share of churners caught)", "precision (share of flagged who churned)",
                        "upper right", title)
    return figure


def _finish_share_curve(axis, xlabel: str, ylabel: str, legend_loc: str, title: str) -> None:
    """Both axes shares from 0 to 100% (ROC and precision-recall curves), labels, legend, title."""
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.xaxis.set_major_formatter(SHARE_FORMATTER)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.legend(loc=legend_loc, frameon=True, framealpha=0.9)
    axis.set_title(title)


@styled
def reliability_chart(reliability: pd.DataFrame, title: str = "Calibration: predicted against observed churn") -> Figure:
    """Mean predicted probability against observed churn rate per score bin, one line per model.

    Args:
        reliability: ``model, bin, rows, mean_predicted, observed_rate`` (``notebook.reliability_frame``).
    """
    require_columns(reliability, ["model", "mean_predicted", "observed_rate"], "reliability_chart")
    figure, axis = new_figure(7, 6.2)
    top = float(max(reliability["mean_predicted"].max(), reliability["observed_rate"].max(), 0.05)) * 1.05
    axis.plot([0, top], [0, top], color="#777777", linestyle=":", linewidth=1, label="perfectly calibrated")
    for index, (model, table) in enumerate(reliability.groupby("model", sort=False)):
        axis.plot(table["mean_predicted"], table["observed_rate"], color=_model_color(model, index),
                  marker="o", markersize=5, linewidth=2.2 if index == 0 else 1.4, label=model)
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.xaxis.set_major_formatter(SHARE_FORMATTER)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel("mean predicted churn probability (per score decile)")
    axis.set_ylabel("observed churn rate (per score decile)")
    axis.legend(loc="upper left", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


def _gains(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="stable")
    captured = np.concatenate(([0.0], np.cumsum(labels[order]) / max(labels.sum(), 1)))
    contacted = np.arange(len(labels) + 1) / len(labels)
    return contacted, captured


@styled
def gains_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned",
                title: str = "Cumulative gains: churners caught by contacting the riskiest first") -> Figure:
    """Share of churners captured against share of customers contacted, highest scores first."""
    figure, axis = new_figure(7, 6.2)
    labels_all = predictions[label].to_numpy(dtype=int)
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        contacted, captured = _gains(labels, scores)
        axis.plot(contacted, captured, color=_model_color(model, index), linewidth=2.4 if index == 0 else 1.6,
                  label=model)
    base = labels_all.mean() if len(labels_all) else 0.0
    axis.plot([0, base, 1], [0, 1, 1], color="#444444", linestyle="--", linewidth=1, label="perfect ranking")
    axis.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1, label="random order")
    axis.axvline(0.1, color="#bbbbbb", linewidth=0.8, label="top 10% contacted")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.xaxis.set_major_formatter(SHARE_FORMATTER)
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel("share of customers contacted (riskiest first)")
    axis.set_ylabel("share of churners captured")
    axis.legend(loc="lower right", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


@styled
def lift_chart(predictions: pd.DataFrame, models: Sequence[str], label: str = "churned", deciles: int = 10,
               title: str = "Lift by score decile") -> Figure:
    """Churn rate in each score decile divided by the overall churn rate, one line per model."""
    figure, axis = new_figure(8, 5.2)
    for index, model in enumerate(models):
        labels, scores = _labels_and_scores(predictions, label, model)
        order = np.argsort(-scores, kind="stable")
        groups = np.array_split(labels[order], deciles)
        base = labels.mean()
        lift = [group.mean() / base if base > 0 and len(group) else np.nan for group in groups]
        axis.plot(np.arange(1, deciles + 1), lift, color=_model_color(model, index), marker="o",
                  linewidth=2.2 if index == 0 else 1.4, label=model)
    axis.axhline(1.0, color="#777777", linestyle=":", linewidth=1, label="no lift (random)")
    axis.set_xticks(np.arange(1, deciles + 1))
    axis.set_xlabel("score decile (1 = the 10% with the highest scores)")
    axis.set_ylabel("lift (decile churn rate ÷ overall rate, ×)")
    axis.set_ylim(0, None)
    axis.legend(loc="upper right", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure


@styled
def survival_calibration_chart(calibration: pd.DataFrame, kaplan_meier: pd.DataFrame | None = None,
                               title: str = "Risk model: predicted survival against Kaplan-Meier (held-out customers)") -> Figure:
    """Mean predicted survival per month against the Kaplan-Meier estimate of the same customers.

    Args:
        calibration: ``month, predicted, kaplan_meier`` (``RiskEvaluation.calibration``).
        kaplan_meier: optional ``survival.kaplan_meier`` curve of those customers (time in months),
            drawn as a step line with its confidence band.
    """
    require_columns(calibration, ["month", "predicted", "kaplan_meier"], "survival_calibration_chart")
    figure, axis = new_figure(9, 5.5)
    months = calibration["month"].to_numpy(dtype=float)
    if kaplan_meier is not None:
        curve = kaplan_meier[kaplan_meier["time"] <= months.max() + 1e-9]
        axis.step(curve["time"], curve["survival"], where="post", color="#444444", linewidth=1.8,
                  label="Kaplan-Meier (observed)")
        axis.fill_between(curve["time"], curve["lower"], curve["upper"], step="post", color="#444444", alpha=0.15,
                          linewidth=0, label="Kaplan-Meier 95% band")
    else:
        axis.plot(months, calibration["kaplan_meier"], color="#444444", marker="s", label="Kaplan-Meier (observed)")
    axis.plot(months, calibration["predicted"], color="#0072B2", marker="o", linewidth=2.2,
              label="mean predicted survival (risk model)")
    low = float(min(calibration["predicted"].min(), calibration["kaplan_meier"].min()))
    axis.set_ylim(max(0.0, low - 0.05), 1.005)
    axis.set_xlim(0, months.max() + 0.3)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.yaxis.set_major_formatter(SHARE_FORMATTER)
    axis.set_xlabel("months after the evaluation date")
    axis.set_ylabel("share of customers still paying")
    axis.legend(loc="lower left", frameon=True, framealpha=0.9)
    axis.set_title(title)
    return figure
