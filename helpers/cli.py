"""Command line of the suite: ``python -m helpers <command> --help``.

The CLI only parses arguments and prints; the work happens in the modules it
calls. Exit codes: 0 success, 1 problems found (validate), 2 a known failure
(bad input, a refused build, a failed report; the message says what, where and
what to do, and nothing was changed), 3 an unexpected error (a one-line summary;
``--debug`` prints the traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import config, registry, threads, warehouse
from helpers.dates import resolve_as_of
from helpers.publishing import PublishWarning, ReportError, skipped_reports
from helpers.warehouse import export, ingest, raw_data
from helpers.warehouse.data_tests import run_data_tests
from helpers.warehouse.engine import ENGINES
from helpers.warehouse.spark import SparkEngineError


def iso_date(text: str) -> dt.date:
    """An argparse type: a YYYY-MM-DD date (bench/cli.py uses it too)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum`` (``100_000`` is accepted)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}")
        return value

    return parse


_positive_int = int_at_least(1)


def _warehouse_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="warehouse file (default: $WAREHOUSE_PATH or data/warehouse.duckdb)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers",
        description="Churn and cohort analytics suite: build, check, summarize and export the warehouse, "
                    "train the models, run the reports.",
    )
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser(
        "generate", help="build the warehouse from the synthetic default dataset",
        description="Generate the seeded synthetic dataset and build the warehouse atomically.",
    )
    generate.add_argument("--customers", type=_positive_int, default=None, help="number of customers (default 5000)")
    generate.add_argument("--seed", type=int, default=None, help="generator seed (default 42)")
    generate.add_argument(
        "--events-per-customer", type=float, default=None, help="mean usage events per customer (default 200)"
    )
    generate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    generate.add_argument(
        "--raw-dir", type=Path, default=None,
        help="write Parquet files and a manifest into this folder instead of building the warehouse",
    )
    generate.add_argument("--params", type=Path, default=None,
                          help="with --raw-dir: generate only when data.source in this file is synthetic")
    _warehouse_argument(generate)

    build = commands.add_parser(
        "build", help="build the warehouse from a raw folder, or from the source params.yaml names",
        description="Build the warehouse from a folder written by `generate --raw-dir` (or your own "
                    "customers/subscriptions/usage_events/support_tickets .parquet files), through the ingest checks. "
                    "With --params, from data.source of that file: your files (data.files) or the raw folder.",
    )
    build.add_argument("--raw-dir", type=Path, default=config.RAW_DATA_DIR / "synthetic", help="the raw folder")
    build.add_argument("--params", type=Path, default=None, help="build from data: in this file (params.yaml)")
    build.add_argument("--inputs", type=Path, default=None, help="with --params: the inputs stage's record to check")
    _warehouse_argument(build)

    inputs = commands.add_parser(
        "inputs", help="record the content hash of the files params.yaml names (the pipeline's inputs stage)",
        description="Check data: in params.yaml and write the SHA-256 of each input file to a JSON record.",
    )
    inputs.add_argument("--params", type=Path, default=Path("params.yaml"), help="the parameters file")
    inputs.add_argument("--out", type=Path, default=config.DATA_DIR / "inputs.json", help="the record to write")

    train = commands.add_parser(
        "train", help="train, evaluate and register the churn and risk models",
        description="Train both models from params.yaml, write models/ and metrics/.",
    )
    train.add_argument("--params", type=Path, default=None, help="parameters file (default: params.yaml)")
    train.add_argument("--models-dir", type=Path, default=None, help="default: $MODELS_DIR or models/")
    train.add_argument("--metrics-dir", type=Path, default=None, help="default: $METRICS_DIR or metrics/")
    train.add_argument("--when-possible", action="store_true",
                       help="when the data cannot train a model, say why and exit 0 (the pipeline then publishes "
                            "the reports that need no model)")
    _warehouse_argument(train)

    backtest = commands.add_parser(
        "backtest", help="rolling-origin backtest: refit at each past month start, compare with what happened",
        description="For each of the last N monthly as-of dates, train the registered recipe only on outcomes "
                    "known before it, score it, and compare expected with realized churners and MRR lost at 90 "
                    "days and 12 months. Writes backtest.csv and backtest.json to the metrics folder.",
    )
    backtest.add_argument("--dates", type=_positive_int, default=12, help="monthly as-of dates (default 12)")
    backtest.add_argument("--params", type=Path, default=None, help="parameters file (default: params.yaml)")
    backtest.add_argument("--models-dir", type=Path, default=None, help="default: $MODELS_DIR or models/")
    backtest.add_argument("--metrics-dir", type=Path, default=None, help="default: $METRICS_DIR or metrics/")
    backtest.add_argument("--as-of", default=None,
                          help="the report date the backtest serves (YYYY-MM-DD or auto, as `report --as-of`): no "
                               "outcome after it is read; default: every outcome up to the data end")
    backtest.add_argument("--when-possible", action="store_true",
                          help="when no model serves this warehouse or the history is too short, say why, write a "
                               "record of it and exit 0 (the backtest report then computes or fails on its own)")
    _warehouse_argument(backtest)

    report = commands.add_parser(
        "report", help="execute the report notebooks into reports/<as_of>/ (HTML + executed notebook)",
        description="Run the report notebooks with papermill as of a date, export HTML without code, "
                    "refresh reports/index.html. A failed run changes no published report.",
    )
    report.add_argument("--as-of", default="auto",
                        help="YYYY-MM-DD, or auto: the day after the last complete month in the data (default)")
    report.add_argument("--reports", default=None,
                        help="comma-separated report names (default: all): overview,cohort,churn,backtest,ltv")
    report.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter; repeat for several (checked against the notebooks)")
    report.add_argument("--models-dir", type=Path, default=None, help="default: $MODELS_DIR or models/")
    report.add_argument("--reports-dir", type=Path, default=None, help="default: $REPORTS_DIR or reports/")
    report.add_argument("--cell-timeout", type=_positive_int, default=600, help="seconds per cell (default 600)")
    _warehouse_argument(report)

    ingest = commands.add_parser(
        "ingest", help="build the warehouse from your own CSV/Parquet files",
        description="Validate your files and build the warehouse from them; on any problem nothing is replaced.",
    )
    ingest.add_argument("--customers", type=Path, required=True,
                        help="customer_id, industry, plan_tier, signup_date [, mrr, churn_date]")
    ingest.add_argument("--subscriptions", type=Path, required=True,
                        help="subscription_id, customer_id, plan_tier, start_date, end_date, mrr")
    ingest.add_argument("--events", type=Path, help="event_id, customer_id, timestamp, event_type, feature_adoption_score")
    ingest.add_argument("--tickets", type=Path, help="ticket_id, customer_id, created_at, priority, topic, resolved_at")
    ingest.add_argument("--data-end", type=iso_date, default=None,
                        help="last day covered by the data (default: the latest observed activity; "
                             "a scheduled end date in the future never counts)")
    ingest.add_argument("--vocabulary", type=Path, default=None,
                        help="YAML mapping your plan names, industries, event types, priorities onto the suite's")
    _warehouse_argument(ingest)

    validate = commands.add_parser(
        "validate", help="run the data tests; exit 0 only when no problem is found",
        description="Run every declared data test against the warehouse and list the problems. "
                    "With --engine spark, the same tests run on Spark over the exported tables.",
    )
    validate.add_argument("--engine", choices=ENGINES, default="duckdb",
                          help="duckdb: the warehouse file (default); spark: tables read by Spark")
    validate.add_argument("--parquet", type=Path, default=None, metavar="DIR",
                          help="engine spark: a folder written by `export --parquet` "
                               "(default: $WAREHOUSE_PARQUET_DIR, else the session's own tables)")
    _warehouse_argument(validate)

    export = commands.add_parser(
        "export", help="write the warehouse tables as Parquet files (for Spark)",
        description="Write raw.* and meta.build_info as DIR/<table>.parquet with the warehouse's types. "
                    "Copy the folder where the cluster reads (s3a://, abfss://, hdfs://) and pass it as parquet_dir.",
    )
    export.add_argument("--parquet", type=Path, required=True, metavar="DIR", help="the output folder")
    _warehouse_argument(export)

    summary = commands.add_parser("summary", help="print what the warehouse holds",
                                  description="Print the build metadata and a per-table summary.")
    _warehouse_argument(summary)
    return parser


def _print_summary(path: Path | None) -> None:
    with warehouse.get_connection(path=path) as con:
        metadata = warehouse.read_metadata(con)
        table = warehouse.summary(con)
    _print_metadata(path or config.warehouse_path(), metadata)
    print(table.to_string(index=False))


def _print_metadata(target: Path, metadata: dict) -> None:
    print(f"warehouse: {target}")
    print(f"source: {metadata['source']}  seed: {metadata['seed']}  "
          f"data: {metadata['data_start']} to {metadata['data_end']}")
    print(f"content hash: {metadata['content_hash']}")


def _print_built(path: Path | None, metadata: dict) -> None:
    """After a build: the metadata it returned, the table summary (which may fail without failing the build), notes."""
    target = path or config.warehouse_path()
    _print_metadata(target, metadata)
    for note in metadata.get("notes") or []:
        print(note)
    try:
        with warehouse.get_connection(path=target) as con:
            table = warehouse.summary(con)
    except Exception as error:  # the build succeeded; any failure here is only the summary's
        print(f"warning: the new warehouse is in place at {target} (content hash {metadata['content_hash']}), "
              f"but printing its table summary failed: {type(error).__name__}: {_first_line(error)}. "
              f"Check it with `python -m helpers validate --warehouse {target}`.", file=sys.stderr)
        return
    print(table.to_string(index=False))


def _validate(engine: str, warehouse_path: Path | None, parquet_dir: Path | None) -> list:
    with warehouse.connect(engine, warehouse_path=warehouse_path, parquet_dir=parquet_dir) as con:
        return run_data_tests(con, "raw", warehouse.data_end(con))


# Failures the suite anticipates: their messages say what, where and what to do.
KNOWN_ERRORS = (
    ingest.IngestError, warehouse.WarehouseError, ValueError, SparkEngineError, ReportError,
    registry.ModelIntegrityError, OSError,
)
# OS errors whose standard text ("[Errno 13] Permission denied: 'x'") needs a hint.
_PATH_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.ENOSPC}


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def describe_error(error: BaseException) -> str:
    """The text after ``error:`` for a known failure."""
    if isinstance(error, OSError) and error.errno in _PATH_ERRNOS and error.filename:
        return (f"{error.strerror}: {error.filename}. Check the path and its permissions "
                "(or choose another --warehouse / --reports-dir / --models-dir) and run again.")
    return str(error)


def _refuse_overrides_under_dvc() -> None:
    """Under ``dvc repro`` the outputs are dvc.yaml's paths: a path variable would be silently ignored."""
    overrides = [name for name in config.PATH_VARIABLES if os.environ.get(name)]
    if os.environ.get("DVC_STAGE") and overrides:
        raise ValueError(
            f"dvc repro writes the paths dvc.yaml declares (data/warehouse.duckdb, models/, metrics/, reports/), but "
            f"{', '.join(f'${name}' for name in overrides)} is set. Unset it for dvc repro, or run `make reports` "
            "with it set: make then runs the same steps without DVC, into the paths the variables name."
        )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    # jsonschema (nbformat imports it for the report runner) loads rfc3987_syntax when that is
    # installed (JupyterLab's jupyter-events asks for it), and rfc3987_syntax builds an IRI grammar
    # as it is imported: 3 s of every `report` command's start on 2 cores (5.0 s against 2.1 s to
    # import helpers.reports). No schema the runner validates has an IRI format, so the command
    # line leaves the module out; jsonschema then simply registers no IRI format checker. Here,
    # not in __main__, so that the `churn-suite` script gets it too.
    sys.modules.setdefault("rfc3987_syntax", None)
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", PublishWarning)
        warnings.showwarning = _show_warning
        try:
            return _run(args)
        except KNOWN_ERRORS as error:
            print(f"error: {describe_error(error)}", file=sys.stderr)
            if args.debug:
                traceback.print_exc()
            return 2
        except KeyboardInterrupt:
            print("error: interrupted; a build or report run in progress replaced nothing", file=sys.stderr)
            return 130
        except Exception as error:  # the one place that turns the unexpected into a one-line summary
            print(f"error: unexpected {type(error).__name__}: {_first_line(error)}", file=sys.stderr)
            if args.debug:
                traceback.print_exc()
            else:
                print("hint: this is a bug or a case the suite does not handle yet; run again with "
                      "`python -m helpers --debug ...` for the traceback and report it", file=sys.stderr)
            return 3


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _modelling() -> tuple[Any, Any]:
    """The training and backtest modules, imported when a command needs them (scikit-learn takes seconds).

    The thread pools are limited once they are loaded: threadpoolctl sizes only the pools it can see.
    """
    from helpers.models import backtest, training

    threads.limit_process_threads()
    return training, backtest


def _run(args: argparse.Namespace) -> int:
    _refuse_overrides_under_dvc()
    if args.command == "generate" and args.raw_dir is not None and args.params is not None \
            and raw_data.read_data_source(args.params).source != "synthetic":
        manifest = raw_data.write_not_generated(args.raw_dir, args.params)
        print(f"not generating {args.raw_dir}: {manifest['reason']}")
    elif args.command == "generate" and args.raw_dir is not None:
        given = raw_data.read_data_source(args.params).generator if args.params is not None else {}
        manifest = raw_data.write_synthetic(
            args.raw_dir, args.customers or given.get("customers"),
            args.seed if args.seed is not None else given.get("seed"),
            args.events_per_customer or given.get("events_per_customer"), progress=not args.no_progress,
        )
        print(f"wrote {args.raw_dir}: {manifest['rows']}")
    elif args.command == "generate":
        raw_data.refuse_replacing_files(args.warehouse)
        metadata = warehouse.build_synthetic(
            args.warehouse, args.customers, args.seed, args.events_per_customer, progress=not args.no_progress
        )
        _print_built(args.warehouse, metadata)
    elif args.command == "build" and args.params is not None:
        _print_built(args.warehouse, raw_data.build_from_params(args.params, args.warehouse, args.raw_dir, args.inputs))
    elif args.command == "build":
        _print_built(args.warehouse, raw_data.build_from_raw_dir(args.raw_dir, args.warehouse))
    elif args.command == "inputs":
        record = raw_data.write_inputs(args.params, args.out)
        print(f"wrote {args.out}: source {record['source']}")
    elif args.command == "train":
        training, _ = _modelling()
        try:
            written = training.train_all(
                config.load_params(args.params), args.warehouse, args.models_dir, args.metrics_dir
            )
        except (ValueError, warehouse.WarehouseError) as error:
            if not args.when_possible:
                raise
            training.record_untrained(str(error), args.models_dir, args.metrics_dir)
            with warehouse.get_connection(path=args.warehouse, read_only=True) as con:
                start, end = warehouse.data_range(con)
            print(f"warning: no model trained on this warehouse (data {start} to {end}; the data end is set by "
                  f"--data-end or data.data_end): {error}. The churn and backtest reports are skipped until "
                  "models are trained for it (python -m helpers train).", file=sys.stderr)
            return 0
        for check in written["churn_model"]["guardrails"]:
            print(f"[{check['status']}] {check['check']}: {check['message']}")
        for name, metadata in written.items():
            print(f"{name} {metadata['version']}: {training.headline(name, metadata)}")
    elif args.command == "backtest":
        training, backtesting = _modelling()
        with warehouse.get_connection(path=args.warehouse, read_only=True) as con:
            metadata = warehouse.read_metadata(con)
        latest = None if args.as_of is None else resolve_as_of(args.as_of, metadata["data_start"], metadata["data_end"])
        try:
            missing = registry.models_missing(args.models_dir or config.models_dir(), metadata["content_hash"])
            if missing:
                raise ValueError(f"no backtest: {missing}")
            table, paths, up_to_date = backtesting.write_backtest(
                config.load_params(args.params), args.dates, args.warehouse, args.models_dir, args.metrics_dir,
                latest)
        except ValueError as error:
            if not args.when_possible:
                raise
            path = backtesting.record_no_backtest(str(error), args.metrics_dir)
            print(f"warning: {error}. Wrote {path}; the backtest report computes its own table or says why not.",
                  file=sys.stderr)
            return 0
        print(table.to_string(index=False))
        print(f"{paths[1]} already holds this backtest (same warehouse, model, settings and dates): nothing refitted"
              if up_to_date else f"wrote {paths[0]} and {paths[1]}")
    elif args.command == "report":
        from helpers import reports  # papermill and nbformat take seconds to import

        folder = reports.run_reports(
            as_of=args.as_of,
            reports=args.reports.split(",") if args.reports else None,
            parameters=dict(args.parameter),
            warehouse_path=args.warehouse,
            models_dir=args.models_dir,
            reports_dir=args.reports_dir,
            cell_timeout=args.cell_timeout,
        )
        for name, reason in skipped_reports(folder).items():
            print(f"skipped {name}: {reason}", file=sys.stderr)
        print(f"published {folder}; index: {folder.parent / 'index.html'}")
    elif args.command == "ingest":
        metadata = ingest.ingest(args.customers, args.subscriptions, args.events, args.tickets, args.warehouse,
                                 args.data_end, vocabulary_file=args.vocabulary)
        _print_built(args.warehouse, metadata)
    elif args.command == "validate":
        problems = _validate(args.engine, args.warehouse, args.parquet)
        for problem in problems:
            print(f"- {problem.describe()}")
        print(f"{len(problems)} problem(s) found")
        return 1 if problems else 0
    elif args.command == "summary":
        _print_summary(args.warehouse)
    elif args.command == "export":
        for table, path in export.export_parquet(args.parquet, args.warehouse).items():
            print(f"{table}: {path}")
    return 0
