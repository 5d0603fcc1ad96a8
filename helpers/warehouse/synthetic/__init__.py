"""The seeded synthetic default dataset (see ``generate``); its settings are in ``settings``."""

from helpers.warehouse.synthetic.generate import generate, generator_settings
from helpers.warehouse.synthetic.settings import (
    DEFAULT_CUSTOMERS,
    DEFAULT_END,
    DEFAULT_EVENTS_PER_CUSTOMER,
    DEFAULT_SEED,
    DEFAULT_START,
)

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_END",
    "DEFAULT_EVENTS_PER_CUSTOMER",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "generate",
    "generator_settings",
]
