"""Publishing dated reports: the per-date run manifest, one folder swap per run, the index page.

``reports/<as_of>/run.json`` lists, per report, the file, when it ran, its
parameters, the warehouse content hash and the model versions it read. A run
for some reports of a date replaces only those and keeps the others.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import shutil
from pathlib import Path
from typing import Any

from helpers import config, files

MANIFEST = "run.json"
PUBLISH_LOCK = ".publish"  # reports/.publish.lock serialises publishing into one reports folder


class ReportError(Exception):
    """A report run was refused or failed; the message says which notebook, cell or parameter."""


class PublishWarning(UserWarning):
    """The reports were published, but a step after the publish (the index) failed."""


def skipped_reports(folder: Path) -> dict[str, str]:
    """The reports a published run skipped, with why and what to run (from its run.json)."""
    try:
        return json.loads((Path(folder) / MANIFEST).read_text()).get("skipped", {})
    except (OSError, json.JSONDecodeError):
        return {}


def publish(staging: Path, target: Path, as_of: dt.date, entries: dict[str, dict], reports_folder: Path,
             skipped: dict[str, str]) -> None:
    """Move the staged reports in, keeping the date's other published reports; one folder swap.

    ``skipped``: reports this run left out (they need models), with why and what to run.
    """
    with files.exclusive_lock(reports_folder / PUBLISH_LOCK, f"publishing reports as of {as_of}", wait=True):
        published = _read_manifest(target / MANIFEST)
        kept = {name: entry for name, entry in published.get("reports", {}).items() if name not in entries}
        new_files = {entry["file"] for entry in entries.values()} | {
            Path(entry["file"]).with_suffix(".ipynb").name for entry in entries.values()}
        for name, entry in list(kept.items()):
            for file in (entry["file"], Path(entry["file"]).with_suffix(".ipynb").name):
                if (target / file).is_file() and file not in new_files:
                    _link_or_copy(target / file, staging / file)
            if not (staging / entry["file"]).is_file():
                del kept[name]  # listed but gone: the manifest lists only what is there
        _carry_failed(target / "failed", staging / "failed", new_files)
        merged = kept | entries
        manifest = {
            "as_of": as_of.isoformat(),
            "generated_at": max(entry.get("generated_at", "") for entry in merged.values()),
            "reports": dict(sorted(merged.items())),
            "skipped": skipped,
        }
        files.write_atomically(staging / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
        files.replace_folder(staging, target)


def _carry_failed(source: Path, destination: Path, succeeded: set[str]) -> None:
    """Keep the failed notebooks of reports that did not succeed now."""
    if not source.is_dir():
        return
    for path in source.iterdir():
        if path.is_file() and path.name not in succeeded:
            destination.mkdir(exist_ok=True)
            _link_or_copy(path, destination / path.name)


def _link_or_copy(source: Path, destination: Path) -> None:
    # A hard link costs no copy and the published file is never modified in place (only replaced).
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _read_manifest(path: Path) -> dict[str, Any]:
    """A run.json in the current form (older ones had one hash and one set of versions per run); {} when absent."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("reports"), dict):
        return {}
    reports = {}
    for name, entry in manifest["reports"].items():
        if not isinstance(entry, (str, dict)) or isinstance(entry, dict) and not isinstance(entry.get("file"), str):
            continue
        if isinstance(entry, str):  # the older form: name -> file, provenance per run
            entry = {
                "file": entry,
                "generated_at": manifest.get("generated_at", ""),
                "parameters": manifest.get("parameters", {}).get(name, {}),
                "warehouse_content_hash": manifest.get("warehouse_content_hash", ""),
                "model_versions": manifest.get("model_versions", {}),
            }
        reports[name] = entry
    return {**manifest, "reports": reports}


def list_runs(reports_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every published date's manifest (reports: name -> file, provenance), newest as-of date first."""
    folder = Path(reports_dir) if reports_dir else config.reports_dir()
    runs = [_read_manifest(manifest) for manifest in folder.glob(f"*/{MANIFEST}")]
    # A damaged manifest hides one date, not the index.
    return sorted((run for run in runs if run.get("as_of")), key=lambda run: run["as_of"], reverse=True)


def recorded_seconds(reports_dir: Path | None = None) -> dict[str, float]:
    """Each report's run time in seconds, as its most recent run recorded it ({} before any run)."""
    latest: dict[str, tuple[str, float]] = {}
    for run in list_runs(reports_dir):
        for name, entry in run["reports"].items():
            seconds, generated = entry.get("seconds"), str(entry.get("generated_at", ""))
            if isinstance(seconds, (int, float)) and (name not in latest or generated > latest[name][0]):
                latest[name] = (generated, float(seconds))
    return {name: seconds for name, (_, seconds) in latest.items()}


def write_index(reports_dir: Path | None = None) -> Path:
    """Rewrite ``reports/index.html``: one row per report and date, with what it read and when it ran."""
    folder = Path(reports_dir) if reports_dir else config.reports_dir()
    rows = []
    for run in list_runs(folder):
        for name, entry in run["reports"].items():
            versions = "<br>".join(
                f"{html.escape(k)}: {html.escape(str(v))}" for k, v in entry.get("model_versions", {}).items()
            ) or "none read"
            rows.append(
                f"<tr><td>{html.escape(run['as_of'])}</td>"
                f'<td><a href="{html.escape(run["as_of"])}/{html.escape(entry["file"])}">{html.escape(name)}</a></td>'
                f"<td>{versions}</td><td>{html.escape(str(entry.get('generated_at', '')))}</td>"
                f"<td><code>{html.escape(str(entry.get('warehouse_content_hash', ''))[:12])}</code></td></tr>"
            )
    body = "\n".join(rows) or '<tr><td colspan="5">No report has been generated yet: run <code>make reports</code>.</td></tr>'
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Churn &amp; cohort reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ padding: .4rem .8rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
</style></head>
<body><h1>Churn &amp; cohort reports</h1>
<p>One row per report, newest as-of date first. A report as of D uses data strictly before D.</p>
<table><thead><tr><th>As of</th><th>Report</th><th>Model versions</th><th>Generated (UTC)</th><th>Warehouse content</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
    index = folder / "index.html"
    files.write_atomically(index, page)
    return index
