"""Churn and cohort analytics suite: warehouse, metrics, models and reports.

Every query, metric, feature, model, plot and report step of the suite lives
in this package; notebooks import it and stay thin.
"""

import os as _os

# Idle OpenMP threads sleep instead of spinning (see helpers/threads.py); this
# must be set before scikit-learn first starts OpenMP, so it is set here, on
# the first import of the package, unless the environment already chose.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
