"""What the notebooks call: parameters, the run context, formatting, and each report's tables.

Notebooks use ``from helpers import notebook as nb``; every name below is
available as ``nb.<name>``. Each module holds one concern:

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
from helpers.notebook.backtest_report import (
    backtest_dates,
    backtest_table,
    chart_frame,
    out_of_sample_note,
    risk_tiers,
    training_profile,
)
from helpers.notebook.churn_report import (
    RANKINGS,
    describe_models,
    drift_table,
    forecast_check,
    format_drivers,
    guardrail_notes,
    in_sample_warning,
    mrr_at_risk_by_horizon,
    mrr_at_risk_table,
    segment_summary,
    tier_summary,
    top_accounts,
)
from helpers.notebook.cohort_report import (
    MOVEMENT_LABELS,
    describe_logrank,
    logrank_table,
    retention_summary_table,
    roll_forward_table,
    segment_retention_table,
)
from helpers.notebook.context import (
    ReportContext,
    configure_display,
    connect,
    open_report,
)
from helpers.notebook.formatting import (
    MISSING,
    format_count,
    format_date,
    format_money,
    format_month,
    format_number,
    format_percent,
    format_table,
    print_key_figures,
)
from helpers.notebook.ltv_report import (
    LTV_METHODS,
    backtest_error_table,
    backtest_origins,
    cohort_fit_table,
    forecast_table,
    ltv_chart_frame,
    ltv_comparison,
    ltv_table,
    projected_against_actual,
)
from helpers.notebook.overview import (
    data_test_results,
    data_test_summary,
    describe_warehouse,
    mix_table,
    monthly_customer_counts,
    row_count_table,
    weekly_event_counts,
)
from helpers.notebook.parameters import (
    last_complete_month,
    last_snapshot,
    load_training_params,
    month_window,
    resolve_metrics_dir,
    resolve_models_dir,
    resolve_warehouse_path,
)
from helpers.notebook.training_report import (
    NOT_REGISTERED,
    TRAINED_IN_THIS_RUN,
    demote_headings,
    evaluation_metadata,
    evaluation_model_card,
    metrics_table,
    reliability_frame,
)
from helpers.threads import limited_threads

__all__ = [
    "LTV_METHODS",
    "backtest_error_table",
    "backtest_origins",
    "cohort_fit_table",
    "forecast_table",
    "ltv_chart_frame",
    "ltv_comparison",
    "ltv_table",
    "projected_against_actual",
    "MISSING",
    "MOVEMENT_LABELS",
    "NOT_REGISTERED",
    "RANKINGS",
    "ReportContext",
    "TRAINED_IN_THIS_RUN",
    "backtest_dates",
    "backtest_table",
    "chart_frame",
    "configure_display",
    "connect",
    "data_test_results",
    "data_test_summary",
    "demote_headings",
    "describe_logrank",
    "describe_models",
    "describe_warehouse",
    "drift_table",
    "evaluation_metadata",
    "evaluation_model_card",
    "format_count",
    "format_date",
    "forecast_check",
    "format_drivers",
    "format_money",
    "format_month",
    "format_number",
    "format_percent",
    "format_table",
    "guardrail_notes",
    "in_sample_warning",
    "last_complete_month",
    "last_snapshot",
    "limited_threads",
    "load_training_params",
    "logrank_table",
    "metrics_table",
    "mix_table",
    "month_window",
    "monthly_customer_counts",
    "mrr_at_risk_by_horizon",
    "mrr_at_risk_table",
    "open_report",
    "out_of_sample_note",
    "print_key_figures",
    "reliability_frame",
    "resolve_metrics_dir",
    "resolve_models_dir",
    "resolve_warehouse_path",
    "retention_summary_table",
    "risk_tiers",
    "roll_forward_table",
    "segment_retention_table",
    "row_count_table",
    "segment_summary",
    "tier_summary",
    "top_accounts",
    "training_profile",
    "weekly_event_counts",
]
