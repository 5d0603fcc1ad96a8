"""Command line of the suite: ``python -m helpers <command> --help``.

The CLI only parses arguments and prints; the work happens in the modules it
calls. Exit codes: 0 success, 1 problems found (validate), 2 bad input or a
refused build (nothing was changed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from helpers import config, reports, warehouse
from helpers.models import backtest as backtesting
from helpers.models import training
from helpers.reports import ReportError
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
    _warehouse_argument(generate)

    build = commands.add_parser(
        "build", help="build the warehouse from a raw folder (Parquet files + manifest.json)",
        description="Build the warehouse from a folder written by `generate --raw-dir` (or your own "
                    "customers/subscriptions/usage_events/support_tickets .parquet files), through the ingest checks.",
    )
    build.add_argument("--raw-dir", type=Path, default=config.RAW_DATA_DIR / "synthetic", help="the raw folder")
    _warehouse_argument(build)

    train = commands.add_parser(
        "train", help="train, evaluate and register the churn and risk models",
        description="Train both models from params.yaml, write models/ and metrics/.",
    )
    train.add_argument("--params", type=Path, default=None, help="parameters file (default: params.yaml)")
    train.add_argument("--models-dir", type=Path, default=None, help="default: $MODELS_DIR or models/")
    train.add_argument("--metrics-dir", type=Path, default=None, help="default: metrics/")
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
    backtest.add_argument("--metrics-dir", type=Path, default=None, help="default: metrics/")
    _warehouse_argument(backtest)

    report = commands.add_parser(
        "report", help="execute the report notebooks into reports/<as_of>/ (HTML + executed notebook)",
        description="Run the report notebooks with papermill as of a date, export HTML without code, "
                    "refresh reports/index.html. A failed run changes no published report.",
    )
    report.add_argument("--as-of", default="auto",
                        help="YYYY-MM-DD, or auto: the day after the last complete month in the data (default)")
    report.add_argument("--reports", default=None,
                        help="comma-separated report names (default: all): overview,cohort,churn,backtest")
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
                        help="last day covered by the data (default: the latest date in the files)")
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
    target = path or config.warehouse_path()
    print(f"warehouse: {target}")
    print(f"source: {metadata['source']}  seed: {metadata['seed']}  "
          f"data: {metadata['data_start']} to {metadata['data_end']}")
    print(f"content hash: {metadata['content_hash']}")
    print(table.to_string(index=False))


def _validate(engine: str, warehouse_path: Path | None, parquet_dir: Path | None) -> list:
    with warehouse.connect(engine, warehouse_path=warehouse_path, parquet_dir=parquet_dir) as con:
        return run_data_tests(con, "raw", warehouse.data_end(con))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)

    try:
        if args.command == "generate" and args.raw_dir is not None:
            manifest = raw_data.write_synthetic(
                args.raw_dir, args.customers, args.seed, args.events_per_customer, progress=not args.no_progress
            )
            print(f"wrote {args.raw_dir}: {manifest['rows']}")
        elif args.command == "generate":
            warehouse.build_synthetic(
                args.warehouse, args.customers, args.seed, args.events_per_customer, progress=not args.no_progress
            )
            _print_summary(args.warehouse)
        elif args.command == "build":
            raw_data.build_from_raw_dir(args.raw_dir, args.warehouse)
            _print_summary(args.warehouse)
        elif args.command == "train":
            written = training.train_all(
                training.load_params(args.params), args.warehouse, args.models_dir, args.metrics_dir
            )
            for check in written["churn_model"]["guardrails"]:
                print(f"[{check['status']}] {check['check']}: {check['message']}")
            for name, metadata in written.items():
                print(f"{name} {metadata['version']}: {training.headline(name, metadata)}")
        elif args.command == "backtest":
            table, paths = backtesting.write_backtest(
                training.load_params(args.params), args.dates, args.warehouse, args.models_dir, args.metrics_dir
            )
            print(table.to_string(index=False))
            print(f"wrote {paths[0]} and {paths[1]}")
        elif args.command == "report":
            folder = reports.run_reports(
                as_of=args.as_of,
                reports=args.reports.split(",") if args.reports else None,
                parameters=dict(args.parameter),
                warehouse_path=args.warehouse,
                models_dir=args.models_dir,
                reports_dir=args.reports_dir,
                cell_timeout=args.cell_timeout,
            )
            print(f"published {folder}; index: {folder.parent / 'index.html'}")
        elif args.command == "ingest":
            ingest.ingest(args.customers, args.subscriptions, args.events, args.tickets, args.warehouse, args.data_end)
            _print_summary(args.warehouse)
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
    except (ingest.IngestError, warehouse.WarehouseError, FileNotFoundError, ValueError,
            SparkEngineError, ReportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
