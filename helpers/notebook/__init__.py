"""What the notebooks call: parameters, the run context, formatting, and each report's tables.

Notebooks use ``from helpers import notebook as nb``; every name of ``EXPORTS`` is
available as ``nb.<name>``, imported from its module on first use, so a report pays
only for the modules it calls (the overview and cohort reports never import
scikit-learn). Each module holds one concern:

- ``parameters``: notebook parameters turned into paths, dates and training settings; empty means the suite's default.
- ``context``: a report's run context: the open warehouse, its metadata and as-of date, thread limits, display settings.
- ``formatting``: result frames as tables that read well in the HTML reports: money as "$12,345", shares as "12.3%".
- ``overview``: tables of the warehouse overview report (01): provenance, row counts, data tests, activity, mix.
- ``cohort_report``: tables of the cohort report (02): MRR roll-forward, retention summary, log-rank results.
- ``churn_report``: tables of the churn report (04): risk tiers, segments, top accounts, MRR at risk, models, drift.
- ``training_report``: tables of the training notebook (03): evaluation metadata, model card, reliability, metrics.
- ``backtest_report``: tables of the backtest report (05): as-of dates, in-sample note, predicted against realized churn.
- ``ltv_report``: tables of the LTV and forecast report (06): forecast, backtest errors, LTV three ways, projections.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the layering check (import-linter) and type checkers read; at run time, see __getattr__
    from helpers import threads  # noqa: F401
    from helpers.notebook import (  # noqa: F401
        backtest_report,
        churn_report,
        cohort_report,
        context,
        formatting,
        ltv_report,
        overview,
        parameters,
        training_report,
    )

# Module -> the names it gives ``nb``.
EXPORTS: dict[str, tuple[str, ...]] = {
    "helpers.notebook.backtest_report": (
        "backtest_dates", "backtest_table", "chart_frame", "out_of_sample_note", "risk_tiers", "training_profile",
    ),
    "helpers.notebook.churn_report": (
        "RANKINGS", "describe_models", "drift_table", "forecast_check", "format_drivers", "guardrail_notes",
        "in_sample_warning", "mrr_at_risk_by_horizon", "mrr_at_risk_table", "segment_summary", "tier_summary",
        "top_accounts",
    ),
    "helpers.notebook.cohort_report": (
        "MOVEMENT_LABELS", "describe_logrank", "logrank_table", "retention_summary_table", "roll_forward_table",
        "segment_retention_table",
    ),
    "helpers.notebook.context": (
        "ReportContext", "configure_display", "connect", "open_report",
    ),
    "helpers.notebook.formatting": (
        "MISSING", "format_count", "format_date", "format_money", "format_month", "format_number", "format_percent",
        "format_table", "print_key_figures",
    ),
    "helpers.notebook.ltv_report": (
        "LTV_METHODS", "backtest_error_table", "backtest_origins", "cohort_fit_table", "forecast_table",
        "ltv_chart_frame", "ltv_comparison", "ltv_table", "projected_against_actual",
    ),
    "helpers.notebook.overview": (
        "data_test_results", "data_test_summary", "describe_warehouse", "mix_table", "monthly_customer_counts",
        "row_count_table", "weekly_event_counts",
    ),
    "helpers.notebook.parameters": (
        "last_complete_month", "last_snapshot", "load_training_params", "month_window", "resolve_metrics_dir",
        "resolve_models_dir", "resolve_warehouse_path",
    ),
    "helpers.notebook.training_report": (
        "NOT_REGISTERED", "TRAINED_IN_THIS_RUN", "demote_headings", "evaluation_metadata", "evaluation_model_card",
        "metrics_table", "reliability_frame",
    ),
    "helpers.threads": (
        "limited_threads",
    ),
}

_MODULE_OF = {name: module for module, names in EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> object:
    """``nb.<name>``: import its module the first time, then keep the value here."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
