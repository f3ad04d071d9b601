"""Benchmark of the recommendation library: tuning + fit + evaluation, then batch scoring.

Generates a synthetic events data set of the requested size (or reads interactions from a file),
runs the experiment for the chosen models, then scores every user with the best model, and
prints medians over repeated runs and the peak resident memory as a markdown table.

    python benchmarks/bench_models.py --users 20000 --items 5000 --interactions 500000
    python benchmarks/bench_models.py --interactions-file u.data --protocol stratified-item
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests" / "models"))

from models.experiment import fit_final, run_experiment  # noqa: E402
from models.io import read_interactions  # noqa: E402


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--interactions-file", help="read interactions instead of generating")
    parser.add_argument("--protocol", default=None, help="default: future-events (synthetic)")
    parser.add_argument("--models", default="popularity,item_knn,ease,als,content,hybrid")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-trials", type=int, default=4)
    parser.add_argument("--no-tuning", action="store_true")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.interactions_file:
        interactions, items, users = read_interactions(args.interactions_file), None, None
        protocol = args.protocol or "stratified-item"
        label = Path(args.interactions_file).name
    else:
        from models_synthetic import make_events_dataset

        data = make_events_dataset(args.users, args.items, args.interactions, seed=0)
        interactions, items, users = data.interactions, data.items, data.users
        protocol = args.protocol or "future-events"
        label = f"synthetic {args.users}u x {args.items}i x {args.interactions}"
    names = [m.strip() for m in args.models.split(",")]
    experiment_s, scoring_s, fit_s = [], [], {}
    result = None
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = run_experiment(
            interactions,
            items,
            users,
            protocol=protocol,
            k=args.k,
            model_names=names,
            tune_models=not args.no_tuning,
            max_trials=args.max_trials,
        )
        experiment_s.append(time.perf_counter() - started)
        for row in result.table.iter_rows(named=True):
            fit_s.setdefault(row["model"], []).append(row["fit_s"] or float("nan"))
        model = fit_final(result.best_model, result.best_params, interactions, items, users)
        started = time.perf_counter()
        recs = model.recommend(model.user_ids_, args.k)
        scoring_s.append(time.perf_counter() - started)
    assert result is not None
    print(f"## {label}, protocol {protocol}, k={args.k}, {args.repeats} runs (medians)\n")
    print("| model | ndcg@k | precision@k | recall@k | fit_s | note |")
    print("|---|---|---|---|---|---|")
    for row in result.table.iter_rows(named=True):
        cells = [
            f"{row[c]:.4f}" if row[c] is not None else ""
            for c in ("ndcg@k", "precision@k", "recall@k")
        ]
        median_fit = statistics.median(fit_s[row["model"]])
        note = row["skipped_reason"] or ""
        print(f"| {row['model']} | {' | '.join(cells)} | {median_fit:.2f} | {note} |")
    print()
    print("| step | median s |")
    print("|---|---|")
    print(f"| tune + fit + evaluate all models | {statistics.median(experiment_s):.2f} |")
    scoring = statistics.median(scoring_s)
    print(f"| score every user ({model.user_ids_.size}) with {result.best_model} | {scoring:.2f} |")
    print(f"| rows scored | {recs.height} |")
    print(f"| peak RSS MiB | {peak_rss_mib():.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
