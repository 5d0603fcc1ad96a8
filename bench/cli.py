"""Command line of the benchmark: ``python -m bench --help``.

Only parses arguments and prints; bench/harness.py does the work. Exit code 0
when every step ran (targets missed or not), 1 when a step failed, a
reference or stacked_snapshots disagreed with the snapshot or a Spark step
with DuckDB, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cache import DEFAULT_CACHE_DIR
from bench.harness import DEFAULT_REPORT_COMMAND, RESULTS_DIR, Benchmark, Settings, StepFailed
from bench.markdown import render
from bench.steps import REFERENCE_STEPS, SPARK_STEPS, SUITE_STEPS
from helpers.cli import int_at_least, iso_date


def _report(text: str) -> tuple[str, str]:
    name, separator, command = text.partition("=")
    if not separator or not name.strip() or not command.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=COMMAND, e.g. cohort='{{python}} -m helpers report ...'")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise argparse.ArgumentTypeError(f"report name {name!r}: use letters, digits, - and _ only")
    return name.strip(), command.strip()


def _setting(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. spark.sql.shuffle.partitions=2")
    return key.strip(), value.strip()


STEP_NAMES = (*SUITE_STEPS, *REFERENCE_STEPS, "reports", *SPARK_STEPS, "spark")


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time every step of the suite in fresh processes on a synthetic warehouse, beside "
                    "reference points (one GROUP BY, the per-customer loop, pandas), and write "
                    "bench/results/latest.json and latest.md.",
    )
    parser.add_argument("--customers", type=int_at_least(1), default=100_000, help="customers (default 100000)")
    parser.add_argument("--events", type=int_at_least(1), default=20_000_000,
                        help="usage events, in expectation (default 20000000)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--repeat", type=int_at_least(1), default=3, help="timed runs per step (default 3)")
    parser.add_argument("--warmup", type=int_at_least(0), default=1, help="untimed runs before them (default 1)")
    parser.add_argument("--setup-repeat", type=int_at_least(1), default=1,
                        help="runs of generation, build and training when the cache is missing (default 1)")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "latest.json", dest="json_path",
                        help="results file (default bench/results/latest.json)")
    parser.add_argument("--markdown", type=Path, default=None, dest="markdown_path",
                        help="markdown table (default: beside --json, same name, .md)")
    parser.add_argument("--as-of", type=iso_date, default=None,
                        help="as-of date of the snapshot, survival and scoring (default: the reports' auto as-of)")
    parser.add_argument("--sample-customers", type=int_at_least(1), default=200,
                        help="customers timed in the per-customer loop before extrapolating (default 200)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                        help="cached warehouses and models, one folder per scale (default bench/cache)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate and rebuild even when cached")
    parser.add_argument("--train-params", type=Path, default=None,
                        help="parameters file for training (default params.yaml)")
    parser.add_argument("--train-max-iter", type=int_at_least(1), default=None,
                        help="override max_iter of both models (default: params.yaml's)")
    parser.add_argument(
        "--report", action="append", type=_report, default=None, dest="reports", metavar="NAME=COMMAND",
        help="a report command to time end to end (repeatable). Default: one "
             f"{DEFAULT_REPORT_COMMAND!r} per report of helpers.reports, when it imports. "
             "Placeholders: {python} {warehouse} {as_of} {models_dir} {output_dir}",
    )
    parser.add_argument("--no-reports", action="store_true", help="time no report command")
    parser.add_argument("--only", action="append", choices=STEP_NAMES, default=None, metavar="STEP",
                        help=f"time only these steps (repeatable): {', '.join(STEP_NAMES)}. "
                             "The Spark steps (spark_<step>; 'spark': all of them) run only when named here")
    parser.add_argument("--spark-conf", action="append", type=_setting, default=[], metavar="KEY=VALUE",
                        help="a setting for the Spark steps' sessions (repeatable), over "
                             "helpers.warehouse.spark.create_session's, e.g. spark.sql.shuffle.partitions=2")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print and save the table; return the exit code."""
    args = build_parser().parse_args(argv)
    json_path = args.json_path.resolve()
    markdown_path = (args.markdown_path or json_path.with_suffix(".md")).resolve()
    if json_path == markdown_path:
        print("error: --json and --markdown name the same file", file=sys.stderr)
        return 2
    settings = Settings(
        customers=args.customers,
        events=args.events,
        seed=args.seed,
        repeat=args.repeat,
        warmup=args.warmup,
        setup_repeat=args.setup_repeat,
        as_of=args.as_of,
        sample_customers=args.sample_customers,
        cache_dir=args.cache_dir,
        json_path=json_path,
        markdown_path=markdown_path,
        reports=[] if args.no_reports else args.reports,
        only=frozenset(args.only) if args.only else None,
        rebuild=args.rebuild,
        train_params=args.train_params.resolve() if args.train_params else None,
        train_max_iter=args.train_max_iter,
        spark_conf=tuple(args.spark_conf),
    )
    try:
        results = Benchmark(settings, log=lambda line: print(line, file=sys.stderr, flush=True)).run()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except StepFailed as error:
        print(f"error: the benchmark could not set up its warehouse or models: {error}", file=sys.stderr)
        return 1
    print(render(results))
    print(f"wrote {json_path} and {markdown_path}", file=sys.stderr)
    entries = [(name, entry) for section in ("steps", "reference", "spark")
               for name, entry in results.get(section, {}).items()]
    failed = [name for name, entry in entries if entry.get("status") == "failed"]
    wrong = [name for name, entry in entries if (entry.get("info") or {}).get("matches_snapshot") is False]
    if wrong:
        print(f"error: {', '.join(wrong)} computed other features than the snapshot (see the JSON)", file=sys.stderr)
    differ = [name for name, entry in entries if (entry.get("info") or {}).get("matches_duckdb") is False]
    if differ:
        print(f"error: {', '.join(differ)} computed another result than DuckDB (see the JSON)", file=sys.stderr)
    return 1 if failed or wrong or differ else 0
