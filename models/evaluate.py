"""Command line: compare every model on a data set under one evaluation protocol.

Input files (CSV, TSV or Parquet; list cells in CSV as ``a|b|c``; ids may be integers or
strings; the full schema and its aliases are in models/schema.py):

  interactions  user_id, item_id, weight (optional, >0; "rating" also accepted),
                timestamp (datetime or unix seconds; needed by temporal protocols).
                A MovieLens u.data file (no header, tab-separated user item rating timestamp)
                works as is.
  items         item_id, title, description, category, tags, city, lat, lng, price, starts_at,
                created_at, organizer_id, series_id, venue_id.
  users         user_id, home_city, home_lat, home_lng, interests.

The future-events protocol (the default) asks what a marketplace asks: at a cut-off, which of
the events starting in the next --horizon-days will each user go to? Candidates are exactly
those events (most without any interaction yet); events a user already had are excluded;
--cutoffs N repeats it at N rolling cut-offs 30 days apart and pools the users. Simple
references (random, organiser popularity, same organiser, TF-IDF, nearest venue) are printed
beside the models, with a 95 % bootstrap interval of nDCG@k and recall on cold (no
interaction before the cut-off) and warm events.

Examples:
  python -m models.evaluate --items items.parquet --interactions interactions.parquet --cutoffs 4
  python -m models.evaluate --interactions ml-100k/u.data --protocol stratified-item
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import polars as pl

from models.experiment import ExperimentResult, run_experiment
from models.io import read_interactions, read_list_columns, read_table
from models.metrics import METRIC_COLUMNS, metric_key
from models.protocols import HORIZON_DAYS, PROTOCOLS
from models.references import REFERENCES

PRINTED = (
    "model",
    "ndcg@k",
    "ndcg 95% CI",
    "precision@k",
    "recall@k",
    "cold recall@k",
    "warm recall@k",
    "map@k",
    "coverage",
    "fit_s",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m models.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--interactions", required=True, help="interactions file (see above)")
    parser.add_argument("--items", help="items file: item_id, title, category, tags, starts_at...")
    parser.add_argument("--users", help="users file: user_id, home_lat, home_lng, interests...")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="future-events")
    parser.add_argument("--k", type=int, default=10, help="list length (default 10)")
    parser.add_argument(
        "--models",
        help="comma-separated model names (default: all); the references are always added",
    )
    parser.add_argument(
        "--cutoffs", type=int, default=1, help="rolling cut-offs (future-events; default 1)"
    )
    parser.add_argument(
        "--horizon-days",
        type=float,
        default=HORIZON_DAYS,
        help=f"candidate window after each cut-off (default {HORIZON_DAYS:g})",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-tuning", action="store_true", help="use default hyper-parameters")
    parser.add_argument(
        "--tuning-budget",
        type=float,
        default=None,
        help="seconds of tuning in all (default: none, so results do not depend on the "
        "machine's load; the training pipeline uses the library's budget)",
    )
    parser.add_argument(
        "--mlflow", action="store_true", help="log to the MLflow tracking URI of the environment"
    )
    return parser


def _cells(row: dict) -> list[str]:
    def number(name: str) -> str:
        value = row.get(name)
        return "" if value is None else f"{value:.4f}"

    interval = (
        f"{row['ndcg_low']:.4f}–{row['ndcg_high']:.4f}" if row.get("ndcg_low") is not None else ""
    )
    return [
        row["model"],
        number("ndcg@k"),
        interval,
        number("precision@k"),
        number("recall@k"),
        number("cold_start_recall"),
        number("warm_start_recall"),
        number("map@k"),
        number("coverage"),
        "" if row.get("fit_s") is None else f"{row['fit_s']:.1f}",
    ]


def format_table(result: ExperimentResult) -> str:
    """Markdown table: the models, then the simple references (skipped models show why)."""
    lines = ["| " + " | ".join(PRINTED) + " | note |", "|" + "---|" * (len(PRINTED) + 1)]
    for kind in ("model", "reference"):
        rows = result.table.filter(pl.col("kind") == kind)
        if kind == "reference" and rows.height:
            lines.append("| **references** |" + " |" * len(PRINTED))
        for row in rows.iter_rows(named=True):
            lines.append("| " + " | ".join(_cells(row)) + f" | {row['skipped_reason'] or ''} |")
    return "\n".join(lines)


def log_to_mlflow(result: ExperimentResult, args: argparse.Namespace) -> str:
    """One run per experiment: split summary and args as params, each model's metrics."""
    import mlflow

    with mlflow.start_run(run_name=f"evaluate-{args.protocol}") as run:
        mlflow.log_params(
            {"protocol": args.protocol, "k": args.k, "seed": args.seed, "cutoffs": args.cutoffs}
        )
        mlflow.log_params({f"split.{k}": v for k, v in result.split_summary.items()})
        mlflow.log_param("best_model", result.best_model)
        mlflow.log_text(json.dumps(result.best_params, default=str), "best_params.json")
        for row in result.table.iter_rows(named=True):
            metrics = {
                metric_key(row["model"], name, args.k): row[name]
                for name in METRIC_COLUMNS
                if row.get(name) is not None
            }
            mlflow.log_metrics(metrics)
        mlflow.log_text(result.table.write_csv(), "experiment.csv")
        return run.info.run_id


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    interactions = read_interactions(args.interactions)
    items = read_list_columns(read_table(args.items), ("tags",)) if args.items else None
    users = read_list_columns(read_table(args.users), ("interests",)) if args.users else None
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    if models is not None:
        # The references stay beside whatever models are asked for.
        models += [name for name in REFERENCES if name not in models]
    result = run_experiment(
        interactions,
        items,
        users,
        protocol=args.protocol,
        k=args.k,
        model_names=models,
        random_state=args.seed,
        tune_models=not args.no_tuning,
        tuning_budget_s=args.tuning_budget,
        cutoffs=args.cutoffs,
        horizon_days=args.horizon_days,
    )
    print(f"split: {json.dumps(result.split_summary, default=str)}")
    print(format_table(result))
    print(f"best: {result.best_model} {json.dumps(result.best_params, default=str)}")
    if args.mlflow:
        print(f"mlflow run: {log_to_mlflow(result, args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
