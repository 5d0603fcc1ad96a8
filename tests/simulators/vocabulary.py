"""How real exports spell the suite's vocabularies, and the mapping that brings them back.

Billing and product exports say ``Growth``, ``Pro``, ``Enterprise Annual``,
``Healthcare`` or ``login`` where the suite says ``growth``, ``enterprise``,
``HealthTech`` or ``report_view``; several spellings may mean one value, and
some carry stray case and spaces (`` growth ``), which the mapping matches by
ignoring case and surrounding spaces rather than listing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import yaml

EXPORT_PLANS = {("starter", "month"): ["Basic"], ("starter", "year"): ["Basic Annual"],
                ("growth", "month"): ["Growth", " growth ", "Pro"], ("growth", "year"): ["Growth Annual"],
                ("enterprise", "month"): ["Enterprise"], ("enterprise", "year"): ["Enterprise Annual"],
                ("free", "month"): ["Free Trial"]}
EXPORT_INDUSTRIES = {"FinTech": "Financial Services", "HealthTech": "Healthcare", "LegalTech": "Legal",
                     "HR Tech": "Human Resources", "EdTech": "Education", "InsurTech": "Insurance",
                     "PropTech": "Real Estate", "RetailTech": "Retail", "Other": "Manufacturing"}
EXPORT_EVENTS = {"evidence_upload": ["file_uploaded"], "monitoring_run": ["check_run"],
                 "report_view": ["login", "dashboard_view"], "user_invite": ["Invite Sent"],
                 "integration_connect": ["integration_added"], "api_call": ["API Call"],
                 "premium_feature_trial": ["premium_trial_started"], "feature_limit_hit": ["limit_reached"]}
EXPORT_PRIORITIES = {"low": "Low", "medium": "Normal", "high": "High", "critical": "Urgent"}


def _spell(values: Iterable, spellings: Callable[..., list[str]], rng: np.random.Generator) -> list[str]:
    """One export spelling per value, drawn at random from ``spellings(value)``."""
    return [choices[rng.integers(len(choices))] for choices in map(spellings, values)]


def to_export_vocabulary(frames: dict[str, pd.DataFrame | None], rng: np.random.Generator) -> dict:
    """The exported tables with every vocabulary value spelled as a real export would."""
    subs = frames["subscriptions"].copy()
    subs["plan_tier"] = _spell(zip(subs["plan_tier"], subs["billing_interval"]), EXPORT_PLANS.get, rng)
    # customers.plan_tier is its latest subscription's plan, so it must read the same spelling.
    latest = subs.sort_values(["start_date", "subscription_id"]).groupby("customer_id")["plan_tier"].last()
    customers = frames["customers"].assign(industry=lambda f: f["industry"].map(EXPORT_INDUSTRIES))
    customers["plan_tier"] = customers["customer_id"].map(latest)
    events, tickets = frames["events"], frames["tickets"]
    if events is not None:
        events = events.assign(event_type=_spell(events["event_type"], EXPORT_EVENTS.get, rng))
    if tickets is not None:
        tickets = tickets.assign(priority=tickets["priority"].map(EXPORT_PRIORITIES))
    return {"customers": customers, "subscriptions": subs, "events": events, "tickets": tickets}


def vocabulary_yaml() -> str:
    """The mapping of export spellings onto the suite's vocabularies (match ignoring case and spaces)."""
    mapping = {
        "plan_tier": {name: tier for (tier, _), names in EXPORT_PLANS.items() for name in names if name == name.strip()},
        "industry": {name: industry for industry, name in EXPORT_INDUSTRIES.items()},
        "event_type": {name: kind for kind, names in EXPORT_EVENTS.items() for name in names},
        "priority": {name: priority for priority, name in EXPORT_PRIORITIES.items()},
    }
    return "# Export spellings -> the suite's vocabulary; ' growth ' relies on case/space-insensitive matching.\n" + \
        yaml.safe_dump(mapping, sort_keys=False)
