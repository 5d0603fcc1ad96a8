"""Mapping the spellings of a user's exports onto the suite's vocabularies during ingest.

A vocabulary file (YAML) maps export values per vocabulary, e.g.
``plan_tier: {"Enterprise Annual": enterprise}``. Matching ignores case and
surrounding spaces, for the file's keys and for the suite's own values alike.
Values neither in the suite's vocabulary nor in the mapping are reported all
at once, with their row counts and a mapping skeleton ready to paste.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from helpers.domain import (
    BillingInterval,
    EventType,
    Industry,
    PlanTier,
    TicketPriority,
    Vocabulary,
)
from helpers.warehouse.ingest_checks import IngestError

# Vocabulary name in the mapping file -> its enum and the staged (table, column) pairs it covers.
VOCABULARIES: dict[str, tuple[type[Vocabulary], tuple[tuple[str, str], ...]]] = {
    "plan_tier": (PlanTier, (("customers", "plan_tier"), ("subscriptions", "plan_tier"))),
    "industry": (Industry, (("customers", "industry"),)),
    "event_type": (EventType, (("usage_events", "event_type"),)),
    "priority": (TicketPriority, (("support_tickets", "priority"),)),
    "billing_interval": (BillingInterval, (("subscriptions", "billing_interval"),)),
}
SKELETON_VALUES_SHOWN = 50  # per vocabulary; a longer list is cut with a count


class VocabularyError(IngestError):
    """The mapping file is unusable, or values have no mapping; the message says which and what to write."""


def _key(value: object) -> str:
    return str(value).strip().casefold()


@dataclass(frozen=True)
class Unmapped:
    """One export value with no mapping: where it occurs and in how many rows."""

    vocabulary: str
    table: str
    column: str
    value: str
    rows: int
    first_row: int
    file: str


def load_mapping(path: str | os.PathLike | None) -> dict[str, dict[str, str]]:
    """Read a vocabulary file into vocabulary -> {normalised export value: suite value}.

    Args:
        path: a YAML file, or None for no mapping.

    Raises:
        VocabularyError: unreadable file, unknown vocabulary name, or a target the suite does not know.
    """
    if path is None:
        return {}
    file = Path(path)
    if not file.is_file():
        raise VocabularyError(f"vocabulary file not found: {file}. Give a YAML file (data.vocabulary or --vocabulary).")
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise VocabularyError(f"{file}: not valid YAML ({error})") from None
    if not isinstance(content, dict):
        raise VocabularyError(f"{file}: expected a mapping such as 'plan_tier: {{Pro: growth}}', got {type(content).__name__}")
    mapping: dict[str, dict[str, str]] = {}
    problems = []
    for name, entries in content.items():
        if name not in VOCABULARIES:
            problems.append(f"unknown vocabulary {name!r} (known: {', '.join(VOCABULARIES)})")
            continue
        if entries is None:
            continue
        if not isinstance(entries, dict):
            problems.append(f"{name}: expected 'export value: suite value' lines, got {type(entries).__name__}")
            continue
        allowed = {_key(value): value for value in VOCABULARIES[name][0].values()}
        mapping[name] = {}
        for source, target in entries.items():
            if target is None or str(target).strip() == "":
                problems.append(f"{name}: {source!r} has no suite value yet; write one of {', '.join(allowed.values())}")
                continue
            if _key(target) not in allowed:
                problems.append(
                    f"{name}: {source!r} maps to {target!r}, which is not one of {', '.join(allowed.values())}"
                )
                continue
            mapping[name][_key(source)] = allowed[_key(target)]
    if problems:
        raise VocabularyError(f"{file}: {len(problems)} problem(s):\n- " + "\n- ".join(problems))
    return mapping


def apply_mapping(
    con: duckdb.DuckDBPyConnection, mapping: dict[str, dict[str, str]], source_files: dict[str, str]
) -> dict[str, int]:
    """Rewrite the staged vocabulary columns to the suite's spellings; report what stays unmapped.

    Args:
        con: the build in progress (``staging.*`` filled).
        mapping: from ``load_mapping``.
        source_files: staged table -> its file name (tables of files left out are skipped).

    Returns:
        Rows rewritten per ``table.column`` (only columns with rewrites).

    Raises:
        VocabularyError: values neither in the suite's vocabulary nor in the mapping, all at once.
    """
    rewritten: dict[str, int] = {}
    unmapped: list[Unmapped] = []
    for name, (vocabulary, columns) in VOCABULARIES.items():
        lookup = {_key(value): value for value in vocabulary.values()} | mapping.get(name, {})
        frame = pd.DataFrame({"source_key": list(lookup), "target": list(lookup.values())})
        con.register("_vocabulary_lookup", frame)
        try:
            for table, column in columns:
                if table not in source_files:
                    continue
                changed = con.execute(
                    f'update staging.{table} set "{column}" = lookup.target from _vocabulary_lookup as lookup '
                    f'where lower(trim("{column}")) = lookup.source_key and "{column}" is distinct from lookup.target'
                ).fetchone()[0]
                if changed:
                    rewritten[f"{table}.{column}"] = int(changed)
                rows = con.execute(
                    f'select "{column}", count(*), min(_source_row) from staging.{table} '
                    f'where "{column}" is not null and lower(trim("{column}")) not in '
                    f"(select source_key from _vocabulary_lookup) group by 1 order by 2 desc, 1",
                ).fetchall()
                unmapped += [Unmapped(name, table, column, value, int(count), int(first), source_files[table])
                             for value, count, first in rows]
        finally:
            con.unregister("_vocabulary_lookup")
    if unmapped:
        raise VocabularyError(describe_unmapped(unmapped))
    return rewritten


def describe_unmapped(unmapped: list[Unmapped]) -> str:
    """The message for unmapped values: each with its count, then a skeleton to paste and fill in."""
    lines = [
        f"{len(unmapped)} value(s) are not in the suite's vocabularies and have no mapping; the warehouse was not "
        "changed:"
    ]
    lines += [
        f"- {item.file} (table {item.table}), column {item.column}: {item.value!r} in {item.rows:,} row(s), "
        f"first row {item.first_row}"
        for item in unmapped
    ]
    lines += [
        "Map them in a vocabulary file (data.vocabulary in params.yaml, or ingest --vocabulary FILE); matching "
        "ignores case and surrounding spaces. Paste this skeleton and fill in each value:",
        "",
    ]
    seen: dict[str, list[str]] = {}
    for item in unmapped:
        values = seen.setdefault(item.vocabulary, [])
        if _key(item.value) not in (_key(value) for value in values):
            values.append(item.value)
    for name, values in seen.items():
        allowed = ", ".join(VOCABULARIES[name][0].values())
        lines.append(f"{name}:  # each value: one of {allowed}")
        # JSON strings are valid YAML: quotes keep 'Enterprise Annual' or 'on' a plain string.
        lines += [f"  {json.dumps(value.strip())}: " for value in values[:SKELETON_VALUES_SHOWN]]
        if len(values) > SKELETON_VALUES_SHOWN:
            lines.append(f"  # ... and {len(values) - SKELETON_VALUES_SHOWN} more (listed above)")
    return "\n".join(lines)
