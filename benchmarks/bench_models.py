"""Benchmark of the recommendation library: the training job, then batch scoring.

Generates the pipeline's synthetic world of the requested size (``pipelines.synthetic``:
organisers, recurring series, venues, cold upcoming events; or reads interactions from a file)
and times what the training pipeline does — the experiment (tuning on a validation split, fit
and evaluation of every candidate model) plus the refit of the winner on all the data — then
what the serving job does: top-``score-k`` recommendations for every user among the upcoming
events (those starting after the protocol's cut-off; every item for a file) and similar
events for each of them. Prints medians over repeated runs, CPU seconds (the machine may be
shared) and the peak resident memory as markdown tables.

    python benchmarks/bench_models.py --users 100000 --items 20000 --interactions 5000000
    python benchmarks/bench_models.py --interactions-file u.data --protocol stratified-item
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.experiment import fit_final, run_experiment  # noqa: E402
from models.io import read_interactions  # noqa: E402
from models.matrix import to_utc  # noqa: E402
from models.registry import MODEL_REGISTRY, make_model  # noqa: E402
from models.splitters import default_cutoff  # noqa: E402

# A fixed clock, so a given size and seed is the same world on any day.
SYNTHETIC_NOW = datetime(2026, 6, 1, tzinfo=UTC)


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
    parser.add_argument("--days", type=int, default=120, help="days of synthetic history")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--string-ids", action="store_true", help="alphanumeric ids, as partners")
    parser.add_argument("--interactions-file", help="read interactions instead of generating")
    parser.add_argument("--protocol", default=None, help="default: future-events (synthetic)")
    parser.add_argument(
        "--models",
        default=",".join(MODEL_REGISTRY),
        help="comma-separated (default: every model and reference, as the training job)",
    )
    parser.add_argument("--k", type=int, default=10, help="evaluation cut-off")
    parser.add_argument("--score-k", type=int, default=50, help="recommendations per user")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-trials", type=int, default=None, help="default: the library's")
    parser.add_argument("--tuning-budget", type=float, default=None, help="seconds; 0 = none")
    parser.add_argument("--tuning-users", type=int, default=None, help="0 = every user")
    parser.add_argument("--eval-users", type=int, default=None, help="0 = every test user")
    parser.add_argument("--no-tuning", action="store_true")
    return parser.parse_args()


def experiment_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the bounds given on the command line; the library's defaults otherwise."""
    options: dict[str, Any] = {}
    for flag, name in (
        ("max_trials", "max_trials"),
        ("tuning_budget", "tuning_budget_s"),
        ("tuning_users", "tuning_users"),
        ("eval_users", "eval_users"),
    ):
        value = getattr(args, flag)
        if value is not None:
            options[name] = value or None
    return options


def timed(step: str, times: dict[str, list[tuple[float, float]]], func: Any, *a: Any) -> Any:
    """Run ``func(*a)``, recording its wall and CPU seconds under ``step``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = func(*a)
    times.setdefault(step, []).append((time.perf_counter() - wall, time.process_time() - cpu))
    return out


def main() -> int:
    args = parse_args()
    if args.interactions_file:
        interactions, items, users = read_interactions(args.interactions_file), None, None
        protocol = args.protocol or "stratified-item"
        label = Path(args.interactions_file).name
    else:
        from pipelines.synthetic import GenerationSpec, model_frames

        spec = GenerationSpec(
            users=args.users,
            events=args.items,
            interactions=args.interactions,
            days=args.days,
            seed=args.seed,
            now=SYNTHETIC_NOW,
        )
        interactions, items, users = model_frames(spec, string_ids=args.string_ids)
        protocol = args.protocol or "future-events"
        label = (
            f"synthetic world {args.users}u x {args.items}i x {args.interactions} raw interactions "
            f"({interactions.height} user-event pairs, {args.days} days, seed {args.seed})"
        )
    names = [m.strip() for m in args.models.split(",")]
    cutoff = default_cutoff(interactions) if "timestamp" in interactions.columns else None
    candidates = None
    if items is not None and cutoff is not None:
        upcoming = to_utc(items["starts_at"]) > cutoff
        candidates = items["item_id"].filter(upcoming).to_numpy()
    times: dict[str, list[tuple[float, float]]] = {}
    fit_s: dict[str, list[float]] = {}
    result = model = recs = None
    for _ in range(args.repeats):
        experiment = partial(
            run_experiment,
            protocol=protocol,
            k=args.k,
            model_names=names,
            tune_models=not args.no_tuning,
            **experiment_options(args),
        )
        result = timed("experiment", times, experiment, interactions, items, users)
        for row in result.table.iter_rows(named=True):
            fit_s.setdefault(row["model"], []).append(row["fit_s"] or float("nan"))
        params = dict(result.best_params)
        if cutoff is not None and "now" in make_model(result.best_model).get_params():
            params["now"] = cutoff  # score "at the cut-off": the upcoming events are open
        model = timed(
            "refit", times, fit_final, result.best_model, params, interactions, items, users
        )
        score = partial(model.recommend, candidates=candidates)
        recs = timed("score", times, score, model.user_ids_, args.score_k)
        targets = model.item_ids_ if candidates is None else candidates
        with contextlib.suppress(NotImplementedError):
            similar = partial(model.similar_items, candidates=candidates)
            timed("similar", times, similar, targets, args.k)
    assert result is not None
    assert model is not None
    assert recs is not None
    print(f"## {label}, protocol {protocol}, k={args.k}, {args.repeats} run(s) (medians)\n")
    print("| model | ndcg@k | precision@k | recall@k | cold recall@k | tune_s | fit_s | note |")
    print("|---|---|---|---|---|---|---|---|")
    for row in result.table.iter_rows(named=True):
        cells = [
            f"{row[c]:.4f}" if row[c] is not None else ""
            for c in ("ndcg@k", "precision@k", "recall@k", "cold_start_recall")
        ]
        median_fit = statistics.median(fit_s[row["model"]])
        tune_s = f"{row['tune_s']:.1f}" if row["tune_s"] is not None else ""
        note = (row["skipped_reason"] or "")[:90]
        print(f"| {row['model']} | {' | '.join(cells)} | {tune_s} | {median_fit:.1f} | {note} |")
    n_cands = model.item_ids_.size if candidates is None else candidates.size
    steps = {
        "experiment": "tune + fit + evaluate every model",
        "refit": f"refit the winner ({result.best_model}) on all data",
        "score": f"top-{args.score_k} for every user ({model.user_ids_.size}) "
        f"among {n_cands} candidates",
        "similar": f"top-{args.k} similar for {n_cands} candidates",
    }
    print("\n| step | median wall s | median CPU s |")
    print("|---|---|---|")
    for step, text in steps.items():
        if step in times:
            wall = statistics.median(w for w, _ in times[step])
            cpu = statistics.median(c for _, c in times[step])
            print(f"| {text} | {wall:.1f} | {cpu:.1f} |")
    job = [sum(times[s][i][0] for s in ("experiment", "refit")) for i in range(args.repeats)]
    print(f"| training job (experiment + refit) | {statistics.median(job):.1f} | |")
    print(f"| rows scored | {recs.height} | |")
    print(f"| peak RSS MiB | {peak_rss_mib():.0f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
