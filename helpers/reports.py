"""Dated report runs: papermill executes the report notebooks, nbconvert exports HTML.

A run as of D writes ``reports/<D>/<report>.ipynb`` and ``<report>.html``
(code cells hidden, plots inline), a ``run.json`` manifest, and refreshes
``reports/index.html``. Parameters are checked against each notebook's
parameters cell before anything executes. The run is all or nothing: the
notebooks execute (two side by side, on DuckDB) into a staging folder that
replaces ``reports/<D>/`` only when every one of them succeeded. A failure exits non-zero, keeps the failed
notebook under ``reports/<D>/failed/`` and leaves earlier reports untouched.

A run for some reports of D replaces those and keeps D's others: the staging
folder receives hard links of the reports it does not replace, and run.json
merges their entries, under a lock so two runs of one date cannot drop each
other's reports. Parameters that choose the data (``warehouse_path``,
``models_dir``) are set by the runner only, and run.json records, per report,
the warehouse content hash and the model versions the notebook read (checked
again after the notebook ran, so a rebuild or a training during the run fails
it; on Spark the export's hash is read once, before the run).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from helpers import config, files, registry, threads, warehouse
from helpers.dates import resolve_as_of
from helpers.publishing import (  # noqa: F401  (re-exported)
    MANIFEST,
    PublishWarning,
    ReportError,
    list_runs,
    publish,
    recorded_seconds,
    skipped_reports,
    write_index,
)
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
# Reports that read the registered models: skipped, saying what to run, when none fit the warehouse.
REPORTS_NEEDING_MODELS = ("churn", "backtest")
CELL_TIMEOUT_SECONDS = 600
KERNEL_START_ATTEMPTS = 3  # a kernel that dies before its first reply is started again
# Notebooks executed at once (at most one per core): each is its own kernel process, so at
# 100,000 customers two of them hold up to about 3 GB together.
REPORTS_AT_ONCE = 2
CHECK_TAG = "nbval-check-output"  # cells whose text output nbval compares
# Parameters the runner fills itself; -p may override as_of only.
RUNNER_PARAMETERS = ("as_of", "warehouse_path", "models_dir")
# Parameters that choose the data a notebook reads, refused as -p: the runner
# sets them from its own arguments so run.json records what was read.
DATA_PARAMETERS = {"warehouse_path": "--warehouse", "models_dir": "--models-dir"}


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


def _model_fingerprints(models_dir: Path, readers: list[str]) -> dict[str, tuple[str, str | None]]:
    """Each registered model's (version, pickle SHA-256); a broken metadata file is a ReportError naming ``readers``."""
    fingerprints = {}
    for name in registry.MODEL_NAMES:
        try:
            metadata = registry.get_model_metadata(name, models_dir)
        except (registry.ModelIntegrityError, OSError) as error:
            raise ReportError(
                f"cannot read the metadata of model {name}: {error}. Report(s) {', '.join(readers)} read the models "
                "and cannot run; nothing was published (reports that read no model can run with --reports)"
            ) from None
        fingerprints[name] = (str(metadata.get("version", "unknown")), metadata.get("sha256"))
    return fingerprints


def _warehouse_hash(engine: str, warehouse_file: Path, parquet_dir: str | None) -> tuple[dict[str, Any], str]:
    with warehouse.connect(engine, warehouse_path=warehouse_file, parquet_dir=parquet_dir) as con:
        metadata = warehouse.read_metadata(con)
    return metadata, metadata["content_hash"]


def _reads_models(values: dict[str, Any]) -> bool:
    return "models_dir" in values


def _execute(spec: ReportSpec, values: dict[str, Any], executed: Path, target: Path, as_of: dt.date,
             cell_timeout: int) -> None:
    """Run one notebook with papermill; a failure keeps its executed copy under failed/ and says why.

    A kernel that dies before its first reply is started again (up to ``KERNEL_START_ATTEMPTS`` times): no
    cell has run yet, and the usual cause is the port race of concurrent kernel starts (jupyter_client
    picks free ports, then the kernel binds them; another process can take one in between).
    """
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            # The kernel starts in the notebook's folder (nbclient's resources path). papermill's
            # cwd= would chdir this whole process, which two reports side by side must not share.
            papermill.execute_notebook(
                str(spec.notebook), str(executed), parameters=values, kernel_name="python3",
                execution_timeout=cell_timeout, progress_bar=False,
                resources={"metadata": {"path": str(spec.notebook.parent)}},
            )
            return
        except Exception as error:  # papermill raises its own and the kernel's errors
            if attempt < KERNEL_START_ATTEMPTS and _kernel_failed_to_start(error):
                warnings.warn(f"report {spec.name}: the kernel died while starting ({_first_line(error)}); "
                              f"starting it again (attempt {attempt + 1} of {KERNEL_START_ATTEMPTS})", stacklevel=2)
                continue
            kept = _keep_failed(executed, target / "failed", spec)
            raise ReportError(
                f"report {spec.name} ({spec.notebook.name}) failed as of {as_of}: "
                f"{_failure_reason(error, cell_timeout)}. "
                f"The executed notebook is kept at {kept}; earlier reports were not changed."
            ) from error


def _kernel_failed_to_start(error: Exception) -> bool:
    """True for jupyter_client's 'Kernel died before replying to kernel_info' (raised before any cell ran)."""
    return isinstance(error, RuntimeError) and "before replying to kernel_info" in str(error)


def _failure_reason(error: Exception, cell_timeout: int) -> str:
    if isinstance(error, TimeoutError):  # nbclient's CellTimeoutError
        return (f"a cell ran longer than the cell timeout of {cell_timeout} s; raise it with --cell-timeout "
                "(or the cell_timeout argument), or make the report lighter")
    if isinstance(error, papermill.PapermillExecutionError):
        return f"cell {error.exec_count} raised {error.ename}: {error.evalue}"
    return _first_line(error)


def _provenance_changed(spec: ReportSpec, before: Any, after: Any, what: str) -> None:
    if before != after:
        raise ReportError(
            f"report {spec.name}: {what} changed while the notebook ran, so it may have read a mix of old and "
            "new; nothing was published. Run the reports again once the rebuild or training is over."
        )


def _without_models(plans: list, models_dir: Path, content_hash: str) -> tuple[list, dict[str, str]]:
    """The plans that can run, and a reason for each report skipped because it needs models."""
    needing = [spec.name for spec, _ in plans if spec.name in REPORTS_NEEDING_MODELS]
    reason = registry.models_missing(models_dir, content_hash) if needing else None
    if reason is None:
        return plans, {}
    advice = (f"{reason}. Train models for this warehouse with `python -m helpers train` (or run `make reports`), "
              "then run the report again")
    runnable = [(spec, values) for spec, values in plans if spec.name not in needing]
    if not runnable:
        raise ReportError(f"report(s) {', '.join(needing)} need models, but {advice}; nothing was published.")
    return runnable, {name: advice for name in needing}


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
    """Execute the reports as of a date and publish them, keeping the date's other reports.

    Args:
        as_of: YYYY-MM-DD or 'auto' (the day after the last complete month in the data).
        reports: report names (see REPORT_NOTEBOOKS); all by default.
        parameters: extra notebook parameters; each must be declared by at least one chosen
            notebook and goes to those that declare it. ``engine="spark"`` with
            ``parquet_dir`` runs the reports that declare them on Spark (see helpers.warehouse.engine).
            ``warehouse_path`` and ``models_dir`` are refused: pass the arguments of those names.
        warehouse_path, models_dir, reports_dir: default to helpers.config.
        notebooks_dir: where the report notebooks live (tests use fixture notebooks).
        catalog: report name -> notebook file (default REPORT_NOTEBOOKS).
        cell_timeout: seconds one cell may run before the run fails.

    Returns:
        The published folder ``reports/<as_of>``.

    Raises:
        ReportError: bad parameter or report name, broken model metadata, an unwritable
            reports folder (nothing ran), or a notebook failed (its executed copy is kept
            under ``failed/``; nothing was published).
        SparkEngineError, FileNotFoundError, WarehouseError: the chosen engine cannot read the warehouse.
    """
    # Absolute: the notebooks run with their own folder as working directory.
    warehouse_file = Path(warehouse_path).resolve() if warehouse_path else config.warehouse_path()
    models_folder = Path(models_dir).resolve() if models_dir else config.models_dir()
    reports_folder = Path(reports_dir).resolve() if reports_dir else config.reports_dir()
    extra = dict(parameters or {})
    refused = sorted(set(extra) & set(DATA_PARAMETERS))
    if refused:
        raise ReportError(
            f"parameter(s) {', '.join(refused)} choose the data the notebooks read and are set by the runner, "
            "so run.json records what was read; use "
            + ", ".join(f"{DATA_PARAMETERS[name]} instead of -p {name}" for name in refused)
        )
    engine = engine_seam.check_engine(extra.get("engine", "duckdb"))
    if engine == "spark":
        # Resolved here, from -p or $WAREHOUSE_PARQUET_DIR: the kernels run in notebooks/.
        location = config.parquet_dir(extra.get("parquet_dir"))
        if location:
            extra["parquet_dir"] = location
    parquet_dir = extra.get("parquet_dir") or None
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
    metadata, content_hash = _warehouse_hash(engine, warehouse_file, parquet_dir)
    as_of_date = resolve_as_of(extra.get("as_of", as_of), metadata["data_start"], metadata["data_end"])
    # Reports that need models are skipped, with what to run, when none serve this warehouse.
    plans, skipped = _without_models(plans, models_folder, content_hash)
    # Models are read only for the reports that declare models_dir (a cohort run needs none).
    readers = [spec.name for spec, values in plans if _reads_models(values)]
    models_before = _model_fingerprints(models_folder, readers) if readers else {}
    for _, values in plans:
        if "as_of" in values:
            values["as_of"] = as_of_date.isoformat()

    target = reports_folder / as_of_date.isoformat()
    staging = _staging(reports_folder, target)

    def run_one(spec: ReportSpec, values: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        _execute(spec, values, staging / f"{spec.stem}.ipynb", target, as_of_date, cell_timeout)
        # Read again after the notebook: what it read is what was there before and after.
        if engine == "duckdb":
            _provenance_changed(spec, content_hash, _warehouse_hash(engine, warehouse_file, None)[1],
                                f"the warehouse {warehouse_file}")
        versions = {}
        if _reads_models(values):
            _provenance_changed(spec, models_before, _model_fingerprints(models_folder, readers),
                                f"the models in {models_folder}")
            versions = {name: version for name, (version, _) in models_before.items()}
        export_html(staging / f"{spec.stem}.ipynb", staging / f"{spec.stem}.html")
        return {
            "file": f"{spec.stem}.html",
            "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "parameters": values,
            "warehouse_content_hash": content_hash,
            "model_versions": versions,
            # Run time, notebook and HTML: the next run starts its longest reports first.
            "seconds": round(time.monotonic() - started, 1),
        }

    try:
        # On Spark each kernel would start a JVM of its own: one at a time.
        entries = _side_by_side(run_one, plans, REPORTS_AT_ONCE if engine == "duckdb" else 1,
                                recorded_seconds(reports_folder))
        publish(staging, target, as_of_date, entries, reports_folder, skipped)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        write_index(reports_folder)
    except Exception as error:  # published already: a failed index must not report a failed run
        warnings.warn(PublishWarning(
            f"the reports are published in {target}, but refreshing {reports_folder / 'index.html'} failed "
            f"({type(error).__name__}: {_first_line(error)}); it is refreshed by the next run"
        ), stacklevel=2)
    return target


def _side_by_side(run_one: Callable[[ReportSpec, dict[str, Any]], dict[str, Any]],
                  plans: list[tuple[ReportSpec, dict[str, Any]]], at_once: int,
                  seconds: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """Each plan's run-json entry, ``at_once`` notebooks at a time; the first failure in plan order.

    A kernel's start, imports and plotting use one core: two reports side by side
    take about the time of the longer one (the five reports at 5,000 customers:
    61 s one after another). Reports start longest first by ``seconds`` (what an
    earlier run took; a report without a record first of all, as it may be long):
    the longest started last would run alone at the end (at 100,000 customers the
    LTV report, 33 s, came last in the catalog's order).
    """
    workers = max(1, min(at_once, len(plans), threads.thread_count()))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {index: pool.submit(run_one, *plans[index])
                   for index in start_order([spec.name for spec, _ in plans], seconds or {}, workers)}
        try:
            # Every report, or the first to fail, whichever comes first: a failure stops the rest.
            wait(futures.values(), return_when=FIRST_EXCEPTION)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        if any(future.done() and not future.cancelled() and future.exception() for future in futures.values()):
            pool.shutdown(wait=True, cancel_futures=True)  # the reports not started yet are not run
        # The first failure in catalog order is raised (result() raises it); reports never started are skipped.
        return {spec.name: futures[index].result() for index, (spec, _) in enumerate(plans)
                if not futures[index].cancelled()}


def start_order(names: list[str], seconds: dict[str, float], workers: int) -> list[int]:
    """Indexes of ``names`` in the order to start them: longest recorded first, unrecorded before all.

    One at a time the order changes nothing but which report fails first, so the catalog's order stays.
    """
    order = list(range(len(names)))
    if workers > 1:
        # sorted() is stable: reports with equal records keep the catalog's order.
        order.sort(key=lambda index: -seconds.get(names[index], float("inf")))
    return order


def _staging(reports_folder: Path, target: Path) -> Path:
    """A staging folder for the run, after removing leftovers of killed runs; refuses an unwritable folder."""
    try:
        reports_folder.mkdir(parents=True, exist_ok=True)
        files.remove_stale_in(reports_folder)
        return files.staging_folder(target)
    except PermissionError as error:
        raise ReportError(
            f"cannot write reports into {reports_folder}: {error.strerror} ({error.filename}). Fix the folder's "
            "permissions or choose another --reports-dir; nothing ran and nothing was changed"
        ) from None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _keep_failed(executed: Path, failed_dir: Path, spec: ReportSpec) -> Path:
    failed_dir.mkdir(parents=True, exist_ok=True)
    kept = failed_dir / f"{spec.stem}.ipynb"
    if executed.exists():
        shutil.copyfile(executed, kept)
    else:  # failed before papermill wrote anything: keep the input for inspection
        shutil.copyfile(spec.notebook, kept)
    return kept


