"""Simulators written for the tests, independent of helpers.warehouse.synthetic, whose true answers are known.

The suite's models and metrics are checked against data these produce: the
generating process is not the one the models were tuned on, and the truth
(each customer's probability of stopping paying, each month's MRR) is
computed here, not read back from the suite.

- ``company``: ``simulate_company`` (a seeded monthly process with known churn
  probabilities: ``truth_at``, ``realized_at``), export files and vocabularies.
- ``small``: ``small_company`` (eleven hand-written customers) and
  ``monthly_summary`` (expected MRR and customer counts per month).
"""

from simulators.company import Company, Params, SimulatedCompany, simulate_company
from simulators.small import monthly_summary, small_company

__all__ = ["Company", "Params", "SimulatedCompany", "monthly_summary", "simulate_company", "small_company"]
