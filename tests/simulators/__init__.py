"""Simulators written for the tests, independent of helpers.synthetic, whose true answers are known.

The suite's models and metrics are checked against data these produce: the
generating process is not the one the models were tuned on, and the truth
(each customer's probability of stopping paying, each month's MRR) is
computed here, not read back from the suite.
"""
