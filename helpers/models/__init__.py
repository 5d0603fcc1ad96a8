"""The models layer: churn and risk models, evaluation, training, scoring, drift, backtests, model card."""
