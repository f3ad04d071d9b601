"""Command line: compare every model on a data set under one evaluation protocol.

Input files (CSV, TSV or Parquet; list cells in CSV as ``a|b|c``):

  interactions  user_id, item_id, weight (optional, >0; "rating" also accepted),
                timestamp (datetime or unix seconds; needed by temporal protocols).
                A MovieLens u.data file (no header, tab-separated user item rating timestamp)
                works as is.
  items         item_id, title, description, category, tags, city, lat, lng, price, starts_at.
  users         user_id, home_city, home_lat, home_lng, interests.

Example: python -m models.evaluate --interactions ml-100k/u.data --protocol stratified-item
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from models.experiment import ExperimentResult, run_experiment
from models.io import read_interactions, read_list_columns, read_table
from models.protocols import PROTOCOLS

PRINTED = ("model", "precision@k", "recall@k", "ndcg@k", "map", "map@k", "coverage", "fit_s")


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
    parser.add_argument("--models", help="comma-separated model names (default: all)")
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


def format_table(result: ExperimentResult) -> str:
    """Markdown table of every model's metrics (skipped models show their reason)."""
    table = result.table
    lines = ["| " + " | ".join(PRINTED) + " | note |", "|" + "---|" * (len(PRINTED) + 1)]
    for row in table.iter_rows(named=True):
        cells = [row["model"]] + ["" if row[c] is None else f"{row[c]:.4f}" for c in PRINTED[1:]]
        lines.append("| " + " | ".join(cells) + f" | {row['skipped_reason'] or ''} |")
    return "\n".join(lines)


def log_to_mlflow(result: ExperimentResult, args: argparse.Namespace) -> str:
    """One run per experiment: split summary and args as params, each model's metrics."""
    import mlflow

    with mlflow.start_run(run_name=f"evaluate-{args.protocol}") as run:
        mlflow.log_params({"protocol": args.protocol, "k": args.k, "seed": args.seed})
        mlflow.log_params({f"split.{k}": v for k, v in result.split_summary.items()})
        mlflow.log_param("best_model", result.best_model)
        mlflow.log_text(json.dumps(result.best_params, default=str), "best_params.json")
        for row in result.table.iter_rows(named=True):
            metrics = {
                f"{row['model']}.{name.replace('@k', f'_at_{args.k}')}": row[name]
                for name in (*PRINTED[1:], "cold_start_recall")
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
    )
    print(f"split: {json.dumps(result.split_summary, default=str)}")
    print(format_table(result))
    print(f"best: {result.best_model} {json.dumps(result.best_params, default=str)}")
    if args.mlflow:
        print(f"mlflow run: {log_to_mlflow(result, args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
