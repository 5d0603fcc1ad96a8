"""One benchmark step in a process of its own.

    python -m bench.step NAME --warehouse PATH --result PATH [options]

Runs ``bench.steps.ALL_STEPS[NAME]`` and writes its measured parts (seconds
after imports, peak RSS at the end of each part), its information and the
process's final peak RSS as JSON to ``--result``. The harness (bench/harness.py)
starts a fresh one per run, so every run starts cold in memory and the peak
belongs to that run alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from bench.steps import ALL_STEPS, Clock, StepContext, peak_rss_mb


def _path(text: str) -> Path:
    return Path(text).expanduser().resolve()


def _setting(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    return key.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    """Arguments of one step (the harness fills them)."""
    parser = argparse.ArgumentParser(prog="python -m bench.step", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(ALL_STEPS), help="the step to run")
    parser.add_argument("--warehouse", type=_path, required=True, help="the warehouse file")
    parser.add_argument("--result", type=_path, required=True, help="where to write the JSON result")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="as-of date, YYYY-MM-DD")
    parser.add_argument("--models-dir", type=_path, default=None)
    parser.add_argument("--metrics-dir", type=_path, default=None)
    parser.add_argument("--raw-dir", type=_path, default=None)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--sample-customers", type=int, default=200)
    parser.add_argument("--verify", action="store_true", help="check a reference against the snapshot (untimed)")
    parser.add_argument("--train-params", type=_path, default=None)
    parser.add_argument("--train-max-iter", type=int, default=None)
    parser.add_argument("--parquet-dir", type=_path, default=None, help="the warehouse's Parquet export")
    parser.add_argument("--spark-conf", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the Spark steps' session (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the step and write its result; an exception propagates (non-zero exit)."""
    args = build_parser().parse_args(argv)
    context = StepContext(
        warehouse=args.warehouse,
        as_of=args.as_of,
        models_dir=args.models_dir,
        metrics_dir=args.metrics_dir,
        raw_dir=args.raw_dir,
        customers=args.customers,
        events=args.events,
        seed=args.seed,
        sample_customers=args.sample_customers,
        verify=args.verify,
        train_params=args.train_params,
        train_max_iter=args.train_max_iter,
        parquet_dir=args.parquet_dir,
        spark_conf=tuple(args.spark_conf),
    )
    clock = Clock()
    info = ALL_STEPS[args.name](context, clock)
    result = {"step": args.name, "parts": clock.parts, "info": info, "peak_rss_mb": peak_rss_mb()}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
