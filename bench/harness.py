"""Run the benchmark: set up a cached warehouse, time every step in fresh processes, write the results.

Every run of every step is a child process (``python -m bench.step``, or a
report command). Steps of the suite and references get ``warmup`` untimed
runs, then ``repeat`` timed ones; the setup steps (generation, build,
training) run ``setup_repeat`` times, only when the cache has no warehouse
(or models) for this scale, and their measurements are kept in the cache and
reported again while it is reused. The Spark steps run only when asked for;
the Parquet export they read is made the same way, once per warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import summary
from bench.cache import (
    DEFAULT_CACHE_DIR,
    CacheFolder,
    build_info,
    reusable_models,
    reusable_parquet,
    reusable_warehouse,
)
from bench.markdown import render
from bench.steps import REFERENCE_STEPS, SCORING_STEPS, SPARK_STEPS, SUITE_STEPS, VERIFIED_STEPS
from bench.summary import Run

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_PARAMS_FILE = PROJECT_ROOT / "params.yaml"

# Without --report, one command per report of helpers.reports.REPORT_NOTEBOOKS
# is timed (when helpers.reports imports). Placeholders: {python} {warehouse}
# {as_of} {models_dir} {output_dir} ({report} in the default only); every
# command also gets WAREHOUSE_PATH, MODELS_DIR and REPORTS_DIR in its
# environment (helpers.config reads them), so it cannot touch the project's data.
DEFAULT_REPORT_COMMAND = "{python} -m helpers report --as-of {as_of} --reports {report}"
ALL_REPORTS_COMMAND = "{python} -m helpers report --as-of {as_of}"

NOTES = (
    "Each run is a fresh process; step seconds are measured inside it after the imports, "
    "process seconds are the whole process (interpreter start and imports included).",
    "peak_rss_mb is the process's VmHWM at the end of the measured part, imports included "
    "(reference process_baseline shows that floor). Report commands: wait4 ru_maxrss, the largest "
    "single process of the command's tree (not the sum).",
    "per_customer_loop is timed on a sample and extrapolated linearly to every customer the snapshot "
    "scores; it computes one feature (events_30d) per call, so it understates the seed's real cost.",
    "Timings come from a shared 2-core machine with other work running: treat them as noisy.",
)
SPARK_NOTE = (
    "Spark steps: median_s is the query alone, on a session started in the same process just before "
    "(session_median_s: session start and table registration over the Parquet export); the DuckDB "
    "step's time includes opening its connection. Their peak_rss_mb is the Python driver process's; "
    "the driver JVM is a child process and its VmHWM, read before the session stops, is "
    "jvm_peak_rss_mb. Each Spark step checked once, untimed, that its result equals the DuckDB step's."
)


class StepFailed(Exception):
    """A child process exited with an error; the message ends with its last output lines."""


@dataclass
class Settings:
    """Everything ``python -m bench`` can be told (see bench/cli.py)."""

    customers: int = 100_000
    events: int = 20_000_000
    seed: int = 42
    repeat: int = 3
    warmup: int = 1
    setup_repeat: int = 1
    as_of: dt.date | None = None
    sample_customers: int = 200
    cache_dir: Path = DEFAULT_CACHE_DIR
    json_path: Path = RESULTS_DIR / "latest.json"
    markdown_path: Path = RESULTS_DIR / "latest.md"
    # None: DEFAULT_REPORT_COMMANDS when helpers.reports imports; a list: exactly these.
    reports: list[tuple[str, str]] | None = None
    only: frozenset[str] | None = None
    rebuild: bool = False
    train_params: Path | None = None
    train_max_iter: int | None = None
    # Settings of the Spark steps' sessions, over helpers.warehouse.spark.create_session's.
    spark_conf: tuple[tuple[str, str], ...] = ()
    python: str = sys.executable


@dataclass
class Benchmark:
    """One benchmark run; ``run()`` returns the results dict it also writes."""

    settings: Settings
    log: Callable[[str], None] = print
    folder: CacheFolder = field(init=False)
    as_of: dt.date | None = field(init=False, default=None)
    _counter: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        s = self.settings
        for name in ("customers", "events", "repeat", "setup_repeat", "sample_customers"):
            if getattr(s, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(s, name)}")
        if s.warmup < 0:
            raise ValueError(f"warmup must be 0 or more, got {s.warmup}")
        self.folder = CacheFolder.for_scale(s.cache_dir, s.customers, s.events, s.seed)

    # --- child processes ---

    def _environment(self, reports_dir: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        # helpers.config reads these: nothing a step runs can reach the project's own data.
        env["WAREHOUSE_PATH"] = str(self.folder.warehouse)
        env["MODELS_DIR"] = str(self.folder.models_dir)
        env["REPORTS_DIR"] = str(reports_dir or self.folder.reports_dir)
        env["METRICS_DIR"] = str(self.folder.metrics_dir)
        return env

    def _spawn(self, label: str, command: list[str], env: dict[str, str]) -> tuple[float, float, Path]:
        """Run a command to completion; (wall seconds, wait4 peak RSS in MiB, log file)."""
        self._counter += 1
        self.folder.logs_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.folder.logs_dir / f"{self._counter:03d}_{label}.log"
        with open(log_file, "wb") as output:
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
            # wait4 gives this child's own rusage: its peak RSS, not the largest of all children so far.
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            tail = log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
            raise StepFailed(
                f"{label} exited with {process.returncode} (log {log_file}):\n" + "\n".join(tail)
            )
        maxrss_mb = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
        return elapsed, maxrss_mb, log_file

    def _run_step(self, name: str, verify: bool = False) -> Run:
        """One fresh ``python -m bench.step`` process for ``name``."""
        s, folder = self.settings, self.folder
        result_file = folder.runs_dir / f"{self._counter + 1:03d}_{name}.json"
        command = [
            s.python, "-m", "bench.step", name,
            "--warehouse", str(folder.warehouse),
            "--result", str(result_file),
            "--models-dir", str(folder.models_dir),
            "--metrics-dir", str(folder.metrics_dir),
            "--raw-dir", str(folder.raw_dir),
            "--customers", str(s.customers),
            "--events", str(s.events),
            "--seed", str(s.seed),
            "--sample-customers", str(s.sample_customers),
            "--parquet-dir", str(folder.parquet_dir),
        ]
        for key, value in s.spark_conf:
            command += ["--spark-conf", f"{key}={value}"]
        if self.as_of is not None:
            command += ["--as-of", self.as_of.isoformat()]
        if verify:
            command.append("--verify")
        if s.train_params is not None:
            command += ["--train-params", str(s.train_params)]
        if s.train_max_iter is not None:
            command += ["--train-max-iter", str(s.train_max_iter)]
        process_s, maxrss_mb, _ = self._spawn(name, command, self._environment())
        result = json.loads(result_file.read_text(encoding="utf-8"))
        return Run(parts=result["parts"], info=result["info"], process_s=process_s,
                   maxrss_mb=maxrss_mb, peak_rss_mb=result["peak_rss_mb"])

    def _timed_runs(self, name: str, runs: int, warmup: int, verify_first: bool = False) -> tuple[list[Run], dict]:
        """``warmup`` untimed then ``runs`` timed processes; the first one verifies when asked."""
        timed, info = [], {}
        for index in range(warmup + runs):
            run = self._run_step(name, verify=verify_first and index == 0)
            info.update(run.info)
            seconds = ", ".join(f"{part} {values['seconds']:.3f} s" for part, values in run.parts.items())
            kind = "warm-up" if index < warmup else f"run {index - warmup + 1}/{runs}"
            self.log(f"  {name} {kind}: {seconds}, peak {run.peak_rss_mb:.0f} MB, process {run.process_s:.2f} s")
            if index >= warmup:
                timed.append(run)
        return timed, info

    # --- setup: warehouse and models ---

    def _setup_entry(self, runs: list[Run], name: str, **extra: Any) -> dict[str, Any]:
        return summary.summarize(runs, name) | {
            "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "info": runs[-1].info,
        } | extra

    def _ensure_warehouse(self) -> bool:
        """Build the cached warehouse when needed; True when an existing one was reused."""
        s, folder = self.settings, self.folder
        reusable, reason = reusable_warehouse(folder, s.customers, s.events, s.seed, s.python)
        if reusable and not s.rebuild:
            self.log(reason)
            return True
        self.log(f"building the warehouse: {'--rebuild given' if s.rebuild else reason}")
        for stale in (folder.models_dir, folder.metrics_dir, folder.raw_dir, folder.parquet_dir):
            shutil.rmtree(stale, ignore_errors=True)
        record: dict[str, Any] = {}
        runs, _ = self._timed_runs("generation", s.setup_repeat, warmup=0)
        record["generation"] = self._setup_entry(runs, "generation")
        folder.write_setup(record)
        runs, _ = self._timed_runs("warehouse_build", s.setup_repeat, warmup=0)
        record["warehouse_build"] = self._setup_entry(runs, "warehouse_build")
        folder.write_setup(record)
        shutil.rmtree(folder.raw_dir, ignore_errors=True)  # ~16 bytes an event; the warehouse holds it all
        reusable, reason = reusable_warehouse(folder, s.customers, s.events, s.seed, s.python)
        if not reusable:
            raise StepFailed(f"the warehouse just built is not the one asked for: {reason}")
        return False

    def _training_options(self) -> dict[str, Any]:
        params_file = self.settings.train_params or DEFAULT_PARAMS_FILE
        return {
            "params_file": str(params_file),
            "params_sha256": hashlib.sha256(Path(params_file).read_bytes()).hexdigest(),
            "max_iter": self.settings.train_max_iter,
        }

    def _ensure_models(self, content_hash: str) -> bool:
        """Train the models into the cache when needed; True when cached ones were reused."""
        options = self._training_options()
        reusable, reason = reusable_models(self.folder, content_hash, options)
        if reusable:
            self.log(reason)
            return True
        self.log(f"training the models: {reason}")
        runs, _ = self._timed_runs("train_models", self.settings.setup_repeat, warmup=0)
        record = self.folder.read_setup()
        record["train_models"] = self._setup_entry(runs, "train_models", options=options)
        self.folder.write_setup(record)
        return False

    def _ensure_parquet(self, content_hash: str) -> bool:
        """Export the warehouse to Parquet for the Spark steps when needed; True when the export was reused."""
        reusable, reason = reusable_parquet(self.folder, content_hash)
        if reusable:
            self.log(reason)
            return True
        self.log(f"exporting the warehouse to Parquet: {reason}")
        runs, _ = self._timed_runs("parquet_export", self.settings.setup_repeat, warmup=0)
        record = self.folder.read_setup()
        record["parquet_export"] = self._setup_entry(runs, "parquet_export",
                                                     options={"content_hash": content_hash})
        self.folder.write_setup(record)
        return False

    def _setup_steps(self, names: tuple[str, ...], reused: bool) -> dict[str, Any]:
        record, entries = self.folder.read_setup(), {}
        for name in names:
            if name in record:
                entry = {key: value for key, value in record[name].items() if key != "options"}
                entries[name] = entry | ({"cached": True} if reused else {})
            else:
                entries[name] = summary.unavailable(
                    "not measured", "the cached result predates this measurement; run with --rebuild"
                )
        return entries

    # --- reports ---

    def _report_commands(self) -> tuple[list[tuple[str, str]], str | None]:
        """The report commands to time, or none and the reason."""
        if self.settings.reports is not None:
            return list(self.settings.reports), None
        names, error = report_catalog(self.settings.python, self._environment())
        if names is None:
            return [], (f"not available: helpers.reports is not importable ({error}); "
                        "pass --report NAME=COMMAND to time report commands")
        if not names:  # a runner without a catalog: time all reports as one run
            return [("all", ALL_REPORTS_COMMAND)], None
        return [(name, DEFAULT_REPORT_COMMAND.replace("{report}", name)) for name in names], None

    def _backtest_stage(self) -> dict[str, Any]:
        """The pipeline's backtest stage into the cache's metrics folder, as `make reports` runs it first.

        The backtest report then reads that table instead of refitting (its refits are timed by the
        ``backtest_rolling`` step); the command itself refits nothing while the stored key matches.
        """
        command = [self.settings.python, "-m", "helpers", "backtest", "--as-of", self.as_of.isoformat()]
        self.log("backtest_stage (python -m helpers backtest, before the reports):")
        process_s, maxrss_mb, log_file = self._spawn("backtest_stage", command, self._environment())
        reused = "already holds this backtest" in log_file.read_text(encoding="utf-8", errors="replace")
        self.log(f"  {process_s:.2f} s, peak {maxrss_mb:.0f} MB" + (" (stored table up to date)" if reused else ""))
        note = ("the pipeline's backtest stage, run before the reports; "
                + ("its stored table was up to date, nothing refitted" if reused else "12 refits, table stored"))
        return summary.summarize_processes([Run(parts={}, process_s=process_s, maxrss_mb=maxrss_mb)]) | {
            "command": " ".join(command[1:]), "reused": reused, "note": note}

    def _time_report(self, name: str, template: str) -> dict[str, Any]:
        s = self.settings
        runs = []
        for index in range(s.warmup + s.repeat):
            output_dir = self.folder.reports_dir / name
            shutil.rmtree(output_dir, ignore_errors=True)
            output_dir.mkdir(parents=True)
            command = shlex.split(template.format(
                python=s.python, warehouse=self.folder.warehouse, as_of=self.as_of,
                models_dir=self.folder.models_dir, output_dir=output_dir,
            ))
            process_s, maxrss_mb, _ = self._spawn(f"report_{name}", command, self._environment(output_dir))
            kind = "warm-up" if index < s.warmup else f"run {index - s.warmup + 1}/{s.repeat}"
            self.log(f"  report_{name} {kind}: {process_s:.2f} s, peak {maxrss_mb:.0f} MB")
            if index >= s.warmup:
                runs.append(Run(parts={}, process_s=process_s, maxrss_mb=maxrss_mb))
        return summary.summarize_processes(runs) | {"command": template}

    # --- the run ---

    def _selected(self, name: str) -> bool:
        only = self.settings.only
        if name in SPARK_STEPS:  # never by default: they need Java and pyspark, and take minutes
            return only is not None and (name in only or "spark" in only)
        return only is None or name in only or (name.startswith(("report_", "reports_")) and "reports" in only)

    def _measure(self, name: str, verify: bool = False) -> tuple[list[Run], dict] | str:
        """Timed runs of a step, or the error text when a run failed."""
        self.log(f"{name}:")
        try:
            return self._timed_runs(name, self.settings.repeat, self.settings.warmup, verify_first=verify)
        except StepFailed as error:
            self.log(f"  FAILED: {error}")
            return str(error)

    def run(self) -> dict[str, Any]:
        """Set up, measure everything, write the JSON and markdown; return the results."""
        s = self.settings
        started = time.perf_counter()
        started_at = dt.datetime.now(dt.timezone.utc)
        self.folder.root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.folder.runs_dir, ignore_errors=True)
        shutil.rmtree(self.folder.logs_dir, ignore_errors=True)

        warehouse_reused = self._ensure_warehouse()
        info = build_info(self.folder.warehouse, s.python)
        self.as_of = s.as_of or dt.date.fromisoformat(info["default_as_of"])
        steps: dict[str, Any] = {}
        reference: dict[str, Any] = {}
        models_reused = None
        train_error = None
        scoring_selected = any(self._selected(name) for name in SCORING_STEPS)
        if scoring_selected:
            try:
                models_reused = self._ensure_models(info["content_hash"])
            except StepFailed as error:
                train_error = str(error)
                self.log(f"training FAILED: {error}")
        setup = self._setup_steps(("generation", "warehouse_build"), warehouse_reused)
        steps.update(setup)

        for name in SUITE_STEPS:
            if name == SCORING_STEPS[0] and scoring_selected:
                trained = self._setup_steps(("train_models",), bool(models_reused))
                if train_error:
                    trained["train_models"] = summary.unavailable("failed", train_error)
                steps.update(trained)
            if not self._selected(name):
                continue
            if name in SCORING_STEPS and train_error:
                steps[name] = summary.unavailable("failed", "no models: training failed")
                continue
            outcome = self._measure(name, verify=name in VERIFIED_STEPS)
            steps[name] = (summary.unavailable("failed", outcome) if isinstance(outcome, str)
                           else summary.summarize(outcome[0], name) | {"info": outcome[1]})

        spark = self._spark_steps(info["content_hash"])

        commands, why_not = self._report_commands() if self._selected("report_") else ([], None)
        if why_not:
            steps["report"] = summary.unavailable("not available", why_not)
            self.log(f"reports: {why_not}")
        for report_name, template in commands:
            key = f"report_{report_name}"
            if not self._selected(key):
                continue
            if report_name == "backtest" and not train_error:
                try:
                    steps["backtest_stage"] = self._backtest_stage()
                except StepFailed as error:
                    self.log(f"  FAILED: {error}")
                    steps["backtest_stage"] = summary.unavailable("failed", str(error))
            self.log(f"{key}:")
            try:
                steps[key] = self._time_report(report_name, template)
            except StepFailed as error:
                self.log(f"  FAILED: {error}")
                steps[key] = summary.unavailable("failed", str(error)) | {"command": template}

        # The pipeline runs every report in one command (two notebooks side by side): its wall time.
        if self.settings.reports is None and len(commands) > 1 and self._selected("reports_stage"):
            self.log("reports_stage (every report in one run, as the pipeline's reports stage runs them):")
            try:
                steps["reports_stage"] = self._time_report("stage", ALL_REPORTS_COMMAND) | {
                    "note": "every report in one run, two notebooks side by side (the pipeline's reports stage)"}
            except StepFailed as error:
                self.log(f"  FAILED: {error}")
                steps["reports_stage"] = summary.unavailable("failed", str(error)) | {"command": ALL_REPORTS_COMMAND}

        for name in REFERENCE_STEPS:
            if not self._selected(name):
                continue
            outcome = self._measure(name, verify=name in VERIFIED_STEPS)
            if isinstance(outcome, str):
                parts = ("pandas_load_events", "pandas_groupby") if name == "pandas_groupby" else (name,)
                reference.update({part: summary.unavailable("failed", outcome) for part in parts})
                continue
            runs, run_info = outcome
            if name == "per_customer_loop":
                factor = run_info["population"] / run_info["sample_customers"]
                sample = summary.summarize(runs, name)
                reference[name] = summary.summarize(runs, name, scale=factor) | {
                    "extrapolated": True,
                    "note": (f"timed on {run_info['sample_customers']} customers, extrapolated x{factor:.1f} "
                             f"to all {run_info['population']} customers scored by the snapshot"),
                    "sample_median_s": sample["median_s"],
                    "sample_min_s": sample["min_s"],
                    "sample_max_s": sample["max_s"],
                    "info": run_info,
                }
            elif name == "pandas_groupby":
                reference["pandas_load_events"] = summary.summarize(runs, "pandas_load_events") | {
                    "info": {"events_loaded": run_info.get("events_loaded")}}
                reference["pandas_groupby"] = summary.summarize(runs, "pandas_groupby") | {"info": run_info}
            else:
                reference[name] = summary.summarize(runs, name) | {"info": run_info}

        counts = info.get("row_counts") or {}
        scale = {
            "customers": s.customers,
            "events": s.events,
            "events_in_warehouse": counts.get("usage_events"),
            "subscriptions": counts.get("subscriptions"),
            "support_tickets": counts.get("support_tickets"),
            "seed": s.seed,
            "as_of": self.as_of.isoformat(),
            "data_start": str(info.get("data_start")),
            "data_end": str(info.get("data_end")),
            "repeat": s.repeat,
            "warmup": s.warmup,
            "setup_repeat": s.setup_repeat,
            "sample_customers": s.sample_customers,
            "warehouse": str(self.folder.warehouse),
            "warehouse_mb": round(self.folder.warehouse.stat().st_size / 2**20, 1),
            "warehouse_reused": warehouse_reused,
            "models_reused": models_reused,
            "training": self._training_options() | {"max_iter_used": self._max_iter_used()},
            "spark_conf": dict(s.spark_conf),
            "machine": machine(),
            "started_at": started_at.isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - started, 1),
        }
        computed = summary.ratios(steps, reference)
        results = {
            "scale": scale,
            "steps": steps,
            "reference": reference,
            "ratios": computed,
            "targets": summary.targets(steps, computed, scale),
            "spark": spark,
            "engines": summary.engine_comparison(steps, spark),
            "notes": list(NOTES) + summary.notes(steps) + ([SPARK_NOTE] if spark else []),
        }
        write_results(results, s.json_path, s.markdown_path)
        return results

    def _spark_steps(self, content_hash: str) -> dict[str, Any]:
        """The Parquet export (cached) and the selected Spark steps, verified against DuckDB on the first run."""
        names = [name for name in SPARK_STEPS if self._selected(name)]
        if not names:
            return {}
        try:
            reused = self._ensure_parquet(content_hash)
        except StepFailed as error:
            self.log(f"Parquet export FAILED: {error}")
            return {name: summary.unavailable("failed", "no Parquet export") for name in names} | {
                "parquet_export": summary.unavailable("failed", str(error))}
        entries = self._setup_steps(("parquet_export",), reused)
        for name in names:
            outcome = self._measure(name, verify=True)
            entries[name] = (summary.unavailable("failed", outcome) if isinstance(outcome, str)
                             else summary.summarize_spark(outcome[0], name) | {"info": outcome[1]})
        return entries

    def _max_iter_used(self) -> dict[str, Any] | None:
        record = self.folder.read_setup().get("train_models", {})
        return (record.get("info") or {}).get("max_iter")


def report_catalog(python: str, env: dict[str, str]) -> tuple[list[str] | None, str | None]:
    """The report names of ``helpers.reports.REPORT_NOTEBOOKS``, asked of a fresh interpreter.

    Returns:
        (names, None); ([], None) when the module has no catalog; (None, the
        error's last line) when ``helpers.reports`` does not import.
    """
    check = subprocess.run(
        [python, "-c", "import helpers.reports as r; print('\\n'.join(getattr(r, 'REPORT_NOTEBOOKS', {})))"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
    )
    if check.returncode != 0:
        return None, (check.stderr.strip().splitlines() or ["unknown error"])[-1]
    return check.stdout.split(), None


def machine() -> dict[str, Any]:
    """CPUs, memory and library versions of this machine."""
    memory_gb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for distribution in ("duckdb", "pandas", "numpy", "scikit-learn", "pyspark", "sqlglot"):
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = None
    return {
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def write_results(results: dict[str, Any], json_path: Path, markdown_path: Path) -> None:
    """The JSON and the markdown table, each written whole (temp file, then rename)."""
    for path, text in ((json_path, json.dumps(results, indent=2, default=str) + "\n"),
                       (markdown_path, render(results))):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
