"""Dated report runs: papermill executes the report notebooks, nbconvert exports HTML.

A run as of D writes ``reports/<D>/<report>.ipynb`` and ``<report>.html``
(code cells hidden, plots inline), a ``run.json`` manifest, and refreshes
``reports/index.html``. Parameters are checked against each notebook's
parameters cell before anything executes. The run is all or nothing: the
notebooks execute into a staging folder that replaces ``reports/<D>/`` only
when every one of them succeeded. A failure exits non-zero, keeps the failed
notebook under ``reports/<D>/failed/`` and leaves earlier reports untouched.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from helpers import config, files, registry, warehouse
from helpers.dates import resolve_as_of
from helpers.warehouse import engine as engine_seam

# Report name -> notebook. The training notebook is not a report: the DVC
# train stage registers the models.
REPORT_NOTEBOOKS: dict[str, str] = {
    "overview": "01_warehouse_overview.ipynb",
    "cohort": "02_cohort_report.ipynb",
    "churn": "04_churn_report.ipynb",
    "backtest": "05_model_backtest.ipynb",
    "ltv": "06_ltv_forecast.ipynb",
}
CELL_TIMEOUT_SECONDS = 600
MANIFEST = "run.json"
CHECK_TAG = "nbval-check-output"  # cells whose text output nbval compares
# Parameters the runner fills itself; -p may still override them.
RUNNER_PARAMETERS = ("as_of", "warehouse_path", "models_dir")


class ReportError(Exception):
    """A report run was refused or failed; the message says which notebook, cell or parameter."""


@dataclass(frozen=True)
class ReportSpec:
    """One report of a run: its name, notebook and output file stem."""

    name: str
    notebook: Path
    stem: str


def report_specs(
    names: list[str] | None = None, notebooks_dir: Path | None = None, catalog: dict[str, str] | None = None
) -> list[ReportSpec]:
    """The reports to run, by name (every report of the catalog by default).

    Args:
        names: report names; all of the catalog when None.
        notebooks_dir: folder of the notebooks (default notebooks/).
        catalog: report name -> notebook file (default REPORT_NOTEBOOKS).
    """
    folder = notebooks_dir or config.NOTEBOOKS_DIR
    catalog = catalog or REPORT_NOTEBOOKS
    chosen = list(names or catalog)
    unknown = [name for name in chosen if name not in catalog]
    if unknown:
        raise ReportError(f"unknown report(s) {', '.join(unknown)}; valid: {', '.join(catalog)}")
    # 02_cohort_report.ipynb publishes as cohort_report.html.
    return [ReportSpec(name, folder / catalog[name], Path(catalog[name]).stem.lstrip("0123456789_")) for name in chosen]


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters declared in a notebook's ``parameters`` cell (name -> type, default, help)."""
    if not notebook.is_file():
        raise ReportError(f"notebook not found: {notebook}")
    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise ReportError(f"{notebook.name} has no cell tagged 'parameters'; tag one so runs can be parameterized")
    return declared


_CASTS = {"int": int, "float": float, "str": str}


def _cast(notebook: Path, name: str, value: Any, type_name: str | None) -> Any:
    if not isinstance(value, str) or type_name in (None, "None", "str"):
        return value
    if type_name == "bool":
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ReportError(f"{notebook.name}: parameter {name} expects true/false, got {value!r}")
    cast = _CASTS.get(type_name)
    if cast is None:
        return value
    try:
        return cast(value)
    except ValueError:
        raise ReportError(f"{notebook.name}: parameter {name} expects {type_name}, got {value!r}") from None


def check_parameters(
    notebook: Path, parameters: dict[str, Any], declared: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Refuse names the notebook does not declare; cast text values to the declared types.

    Args:
        notebook: the notebook the parameters are for.
        parameters: name -> value (text values are cast).
        declared: its parameters cell as read by notebook_parameters (read here when None).

    Raises:
        ReportError: naming the unknown parameter and listing the valid ones.
    """
    declared = declared if declared is not None else notebook_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        valid = ", ".join(
            f"{name} ({spec.get('inferred_type_name')}, default {spec.get('default')})" for name, spec in declared.items()
        )
        raise ReportError(f"{notebook.name}: unknown parameter(s) {', '.join(unknown)}. Valid parameters: {valid}")
    return {name: _cast(notebook, name, value, declared[name].get("inferred_type_name")) for name, value in parameters.items()}


def _plan(specs: list[ReportSpec], runner: dict[str, Any], extra: dict[str, Any]) -> list[tuple[ReportSpec, dict]]:
    """Each report with the parameters it declares; refuse a parameter no chosen report declares."""
    declared = {spec.name: notebook_parameters(spec.notebook) for spec in specs}
    unknown = sorted(name for name in extra if not any(name in names for names in declared.values()))
    if unknown:
        valid = "; ".join(f"{name}: {', '.join(names)}" for name, names in declared.items())
        raise ReportError(f"unknown parameter(s) {', '.join(unknown)}. Valid parameters by report: {valid}")
    plans = []
    for spec in specs:
        wanted = {name: value for name, value in (runner | extra).items() if name in declared[spec.name]}
        plans.append((spec, check_parameters(spec.notebook, wanted, declared[spec.name])))
    return plans


def export_html(executed: Path, target: Path) -> None:
    """HTML of an executed notebook without code cells or prompts; images stay inline.

    Cells tagged for nbval (plain-text key figures for regression tests) stay in
    the executed notebook but not in the page: the page shows them formatted.
    """
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={CHECK_TAG}), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    target.write_text(body, encoding="utf-8")


def _model_versions(models_dir: Path) -> dict[str, str]:
    return {name: registry.get_model_metadata(name, models_dir).get("version", "unknown") for name in registry.MODEL_NAMES}


def run_reports(
    as_of: str = "auto",
    reports: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    warehouse_path: Path | None = None,
    models_dir: Path | None = None,
    reports_dir: Path | None = None,
    notebooks_dir: Path | None = None,
    cell_timeout: int = CELL_TIMEOUT_SECONDS,
    catalog: dict[str, str] | None = None,
) -> Path:
    """Execute the reports as of a date and publish them together.

    Args:
        as_of: YYYY-MM-DD or 'auto' (the day after the last complete month in the data).
        reports: report names (see REPORT_NOTEBOOKS); all by default.
        parameters: extra notebook parameters; each must be declared by at least one chosen
            notebook and goes to those that declare it. ``engine="spark"`` with
            ``parquet_dir`` runs the reports that declare them on Spark (see helpers.warehouse.engine).
        warehouse_path, models_dir, reports_dir: default to helpers.config.
        notebooks_dir: where the report notebooks live (tests use fixture notebooks).
        catalog: report name -> notebook file (default REPORT_NOTEBOOKS).
        cell_timeout: seconds one cell may run before the run fails.

    Returns:
        The published folder ``reports/<as_of>``.

    Raises:
        ReportError: bad parameter or report name (nothing ran), or a notebook failed
            (its executed copy is kept under ``failed/``; nothing was published).
        SparkEngineError, FileNotFoundError: the chosen engine cannot read the warehouse.
    """
    # Absolute: the notebooks run with their own folder as working directory.
    warehouse_file = Path(warehouse_path).resolve() if warehouse_path else config.warehouse_path()
    models_folder = Path(models_dir).resolve() if models_dir else config.models_dir()
    reports_folder = Path(reports_dir).resolve() if reports_dir else config.reports_dir()
    extra = dict(parameters or {})
    engine = engine_seam.check_engine(extra.get("engine", "duckdb"))
    if engine == "spark":
        # Resolved here, from -p or $WAREHOUSE_PARQUET_DIR: the kernels run in notebooks/.
        location = config.parquet_dir(extra.get("parquet_dir"))
        if location:
            extra["parquet_dir"] = location
    specs = report_specs(reports, notebooks_dir, catalog)
    runner = {"as_of": as_of, "warehouse_path": str(warehouse_file), "models_dir": str(models_folder)}
    # Checked before any engine starts: a misspelt name costs no Spark session.
    plans = _plan(specs, runner, extra)
    duckdb_only = [spec.name for spec, values in plans if "engine" not in values]
    if engine != "duckdb" and duckdb_only:
        raise ReportError(
            f"engine {engine!r}: report(s) {', '.join(duckdb_only)} run on DuckDB only, and one run reads one "
            f"engine; choose reports that declare `engine` with --reports "
            f"({', '.join(spec.name for spec, values in plans if 'engine' in values)})"
        )
    # The data range and content hash come from the engine the reports read,
    # so a Spark run needs only the exported tables, not the DuckDB file.
    with warehouse.connect(engine, warehouse_path=warehouse_file, parquet_dir=extra.get("parquet_dir") or None) as con:
        metadata = warehouse.read_metadata(con)
        as_of_date = resolve_as_of(extra.get("as_of", as_of), metadata["data_start"], metadata["data_end"])
        content_hash = metadata["content_hash"]
    for _, values in plans:
        if "as_of" in values:
            values["as_of"] = as_of_date.isoformat()

    target = reports_folder / as_of_date.isoformat()
    staging = files.staging_folder(target)
    try:
        for spec, values in plans:
            executed = staging / f"{spec.stem}.ipynb"
            try:
                papermill.execute_notebook(
                    str(spec.notebook), str(executed), parameters=values, kernel_name="python3",
                    execution_timeout=cell_timeout, progress_bar=False, cwd=str(spec.notebook.parent),
                )
            except Exception as error:  # papermill raises its own and the kernel's errors
                kept = _keep_failed(executed, target / "failed", spec)
                raise ReportError(
                    f"report {spec.name} ({spec.notebook.name}) failed as of {as_of_date}: {_first_line(error)}. "
                    f"The executed notebook is kept at {kept}; earlier reports were not changed."
                ) from error
            export_html(executed, staging / f"{spec.stem}.html")
        manifest = {
            "as_of": as_of_date.isoformat(),
            "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "reports": {spec.name: f"{spec.stem}.html" for spec, _ in plans},
            "parameters": {spec.name: values for spec, values in plans},
            "model_versions": _model_versions(models_folder),
            "warehouse_content_hash": content_hash,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        files.replace_folder(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_index(reports_folder)
    return target


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__


def _keep_failed(executed: Path, failed_dir: Path, spec: ReportSpec) -> Path:
    failed_dir.mkdir(parents=True, exist_ok=True)
    kept = failed_dir / f"{spec.stem}.ipynb"
    if executed.exists():
        shutil.copyfile(executed, kept)
    else:  # failed before papermill wrote anything: keep the input for inspection
        shutil.copyfile(spec.notebook, kept)
    return kept


def list_runs(reports_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every published run's manifest, newest as-of date first."""
    folder = Path(reports_dir) if reports_dir else config.reports_dir()
    runs = []
    for manifest in folder.glob(f"*/{MANIFEST}"):
        try:
            runs.append(json.loads(manifest.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a damaged manifest hides one run, not the index
    return sorted(runs, key=lambda run: run["as_of"], reverse=True)


def write_index(reports_dir: Path | None = None) -> Path:
    """Rewrite ``reports/index.html``: one row per run with its reports, model versions and time."""
    folder = Path(reports_dir) if reports_dir else config.reports_dir()
    rows = []
    for run in list_runs(folder):
        links = " · ".join(
            f'<a href="{html.escape(run["as_of"])}/{html.escape(file)}">{html.escape(name)}</a>'
            for name, file in run["reports"].items()
        )
        versions = "<br>".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in run["model_versions"].items())
        rows.append(
            f"<tr><td>{html.escape(run['as_of'])}</td><td>{links}</td><td>{versions}</td>"
            f"<td>{html.escape(run['generated_at'])}</td><td><code>{html.escape(run['warehouse_content_hash'][:12])}</code></td></tr>"
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
<p>One row per run, newest as-of date first. A run as of D uses data strictly before D.</p>
<table><thead><tr><th>As of</th><th>Reports</th><th>Model versions</th><th>Generated (UTC)</th><th>Warehouse content</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
    index = folder / "index.html"
    files.write_atomically(index, page)
    return index
