"""Churn and cohort analytics suite: warehouse, metrics, models and reports.

Every query, metric, feature, model, plot and report step of the suite lives
in this package; notebooks import it and stay thin.
"""

__version__ = "0.1.0"
