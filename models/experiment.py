"""Offline experiment: split once, tune and fit every model, evaluate all the same way.

The result table is what the training pipeline logs and what picks the model to ship: the best
model by nDCG@k, refitted on all the data with :func:`fit_final`.

The defaults keep the whole training job (tuning, fits, evaluation, refit of the winner) within
about five minutes on two cores for 100k users × 20k events × 5M interactions: tuning shares a
time budget across models and runs on a sample of users, and evaluation scores a seeded sample
of test users. Small data sets (MovieLens-100k, the tests) are below every limit and unaffected.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from models.base import ModelTooLargeError, Recommender, fit_shared, shared_fits
from models.metrics import bootstrap_ci
from models.protocols import (
    HORIZON_DAYS,
    Split,
    evaluation_users,
    make_split,
    rolling_splits,
    score_split,
)
from models.registry import MODEL_REGISTRY, PARAM_GRIDS, is_reference, make_model
from models.tuning import tune, tuning_split

# Defaults sized for the medium data set (see the module docstring and docs/benchmarks/models.md).
TUNING_BUDGET_S = 90.0
TUNING_USERS = 10_000
EVAL_USERS = 25_000

TABLE_SCHEMA = {
    "model": pl.Utf8,
    "kind": pl.Utf8,
    "precision@k": pl.Float64,
    "recall@k": pl.Float64,
    "ndcg@k": pl.Float64,
    "map": pl.Float64,
    "map@k": pl.Float64,
    "coverage": pl.Float64,
    "cold_start_recall": pl.Float64,
    "warm_start_recall": pl.Float64,
    "ndcg_low": pl.Float64,
    "ndcg_high": pl.Float64,
    "fit_s": pl.Float64,
    "tune_s": pl.Float64,
    "params": pl.Utf8,
    "skipped_reason": pl.Utf8,
}


@dataclass
class ExperimentResult:
    """One row per model and reference in ``table`` (``kind``); the winner by nDCG@k (never a
    reference that ranks at random), the splits' sizes, and per model the per-user metrics of
    every cut-off (``cutoff, user_id, ndcg, recall, hits``), the unit of paired comparisons."""

    table: pl.DataFrame
    best_model: str
    best_params: dict[str, Any]
    split_summary: dict[str, Any]
    tuning_trials: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    per_user: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    splits: list[Split] = field(default_factory=list, repr=False)
    users: list[np.ndarray] = field(default_factory=list, repr=False)


def _models_for(model_names: Sequence[str] | None) -> list[str]:
    if model_names is not None:
        unknown = sorted(set(model_names) - set(MODEL_REGISTRY))
        if unknown:
            raise KeyError(f"unknown models {unknown}; known: {sorted(MODEL_REGISTRY)}")
        return list(model_names)
    return list(MODEL_REGISTRY)


def run_experiment(
    interactions: pl.DataFrame,
    items: pl.DataFrame | None = None,
    users: pl.DataFrame | None = None,
    *,
    protocol: str = "future-events",
    k: int = 10,
    model_names: Sequence[str] | None = None,
    random_state: int = 42,
    now: datetime | None = None,
    tune_models: bool = True,
    max_trials: int | None = 12,
    tuning_budget_s: float | None = TUNING_BUDGET_S,
    tuning_users: int | None = TUNING_USERS,
    eval_users: int | None = EVAL_USERS,
    cutoffs: int = 1,
    horizon_days: float = HORIZON_DAYS,
) -> ExperimentResult:
    """Compare models and references on the same splits, users and candidates.

    ``now`` is the cut-off of the time-based protocols (default: the 80 % time quantile);
    ``cutoffs > 1`` (``future-events`` only) evaluates at that many rolling cut-offs
    (:func:`models.protocols.rolling_splits`) and pools their users. Each model is tuned on a
    validation split of the earliest split's train part (unless ``tune_models`` is False), so
    no test window is ever seen while choosing parameters, then refitted on each train part
    and scored on the same test users as every other model. A model that is too large or
    fails is recorded with ``skipped_reason`` instead of stopping the run.

    Bounds for large data (``None`` lifts each): ``tuning_budget_s`` seconds of tuning in all,
    shared evenly by the models still to tune (each runs at least one trial, at most
    ``max_trials``); tuning on ``tuning_users`` sampled users; metrics on ``eval_users`` sampled
    test users.
    """
    if cutoffs > 1:
        if protocol != "future-events" or items is None:
            raise ValueError("rolling cut-offs need the future-events protocol and items")
        splits = rolling_splits(interactions, items, cutoffs, horizon_days=horizon_days)
    else:
        splits = [
            make_split(
                protocol,
                interactions,
                items,
                seed=random_state,
                cutoff=now,
                horizon_days=horizon_days,
            )
        ]
    eval_sets = [evaluation_users(split, eval_users, random_state) for split in splits]
    names = _models_for(model_names)
    to_tune = [name for name in names if tune_models and PARAM_GRIDS.get(name)]
    # One validation split for every search, and one fit per (model, parameters, data) in the
    # whole experiment: the hybrid's components are the stand-alone models fitted again.
    with shared_fits():
        validation = (
            tuning_split(
                protocol, splits[0].train, items, max_users=tuning_users, random_state=random_state
            )
            if to_tune
            else None
        )
        rows, trials, per_user = _run_models(
            names,
            to_tune,
            splits,
            eval_sets,
            validation,
            items,
            users,
            protocol=protocol,
            k=k,
            random_state=random_state,
            max_trials=max_trials,
            tuning_budget_s=tuning_budget_s,
        )
    table = pl.DataFrame(
        [{column: row.get(column) for column in TABLE_SCHEMA} for row in rows],
        schema=TABLE_SCHEMA,
    )
    ranked = table.filter(pl.col("skipped_reason").is_null() & (pl.col("model") != "random")).sort(
        "ndcg@k", descending=True, nulls_last=True
    )
    best_model = ranked["model"][0] if ranked.height else ""
    best_params = json.loads(ranked["params"][0]) if ranked.height else {}
    summary = splits[-1].summary()
    if len(splits) > 1:
        summary["cutoffs"] = [split.cutoff.isoformat() for split in splits if split.cutoff]
    return ExperimentResult(
        table=table,
        best_model=best_model,
        best_params=best_params,
        split_summary=summary,
        tuning_trials=trials,
        per_user=per_user,
        splits=splits,
        users=eval_sets,
    )


def _run_models(
    names: list[str],
    to_tune: list[str],
    splits: list[Split],
    eval_sets: list[np.ndarray],
    validation: Split | None,
    items: pl.DataFrame | None,
    users: pl.DataFrame | None,
    *,
    protocol: str,
    k: int,
    random_state: int,
    max_trials: int | None,
    tuning_budget_s: float | None,
) -> tuple[list[dict[str, Any]], dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Tune, fit and evaluate each model in turn: its table row, trials and per-user metrics."""
    rows: list[dict[str, Any]] = []
    trials: dict[str, pl.DataFrame] = {}
    per_user: dict[str, pl.DataFrame] = {}
    tuning_left = tuning_budget_s
    for name in names:
        row: dict[str, Any] = {
            "model": name,
            "kind": "reference" if is_reference(name) else "model",
            "params": "{}",
            "skipped_reason": None,
        }
        try:
            started = time.perf_counter()
            params: dict[str, Any] = {}
            if name in to_tune:
                share = None
                if tuning_left is not None:
                    share = max(0.0, tuning_left) / (len(to_tune) - to_tune.index(name))
                try:
                    tuned = tune(
                        name,
                        splits[0].train,
                        items,
                        users,
                        protocol=protocol,
                        k=k,
                        max_trials=max_trials,
                        random_state=random_state,
                        time_budget_s=share,
                        split=validation,
                    )
                finally:
                    if tuning_left is not None:
                        tuning_left -= time.perf_counter() - started
                params, trials[name] = tuned.params, tuned.trials
            row["tune_s"] = time.perf_counter() - started
            row["params"] = json.dumps(params, default=str, sort_keys=True)
            row["fit_s"] = 0.0
            metrics, frames = [], []
            for split, eval_users in zip(splits, eval_sets, strict=True):
                started = time.perf_counter()
                model = fit_shared(make_model(name, params), split.train, items, users)
                row["fit_s"] += time.perf_counter() - started
                scored, users_frame = score_split(
                    model, split, k, users=eval_users, random_state=random_state
                )
                metrics.append(scored)
                frames.append(users_frame.with_columns(pl.lit(split.cutoff).alias("cutoff")))
            row.update(_pooled(metrics, pl.concat(frames), random_state))
            per_user[name] = pl.concat(frames)
        except ModelTooLargeError as exc:
            row["skipped_reason"] = str(exc)
        except Exception as exc:  # one failing model must not sink the comparison
            row["skipped_reason"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    return rows, trials, per_user


def _pooled(
    metrics: list[dict[str, float | None]], per_user: pl.DataFrame, random_state: int
) -> dict[str, float | None]:
    """Metrics of several cut-offs: means of each, and one interval over all users pooled."""
    if len(metrics) == 1:
        return metrics[0]
    out: dict[str, float | None] = {}
    for name in metrics[0]:
        values = [m[name] for m in metrics if m.get(name) is not None]
        out[name] = float(np.mean(values)) if values else None
    out["ndcg_low"], out["ndcg_high"] = bootstrap_ci(
        per_user["ndcg"].to_numpy(), random_state=random_state
    )
    return out


def fit_final(
    name: str,
    params: dict[str, Any],
    interactions: pl.DataFrame,
    items: pl.DataFrame | None = None,
    users: pl.DataFrame | None = None,
) -> Recommender:
    """Refit the chosen model with its chosen parameters on all the data, for shipping."""
    return make_model(name, params).fit(interactions, items, users)
