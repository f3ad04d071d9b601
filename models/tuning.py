"""Hyper-parameter search on a validation split carved out of the training data only.

The test split is never looked at while choosing parameters, so the reported test metrics are
an honest estimate. Grids are small; past ``max_trials`` points a seeded random subset is tried.
At scale the search is bounded by a time budget and runs on a sample of users: hyper-parameters
that rank well for 10 000 users rank well for a million, at a fraction of the cost.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from models.base import fit_shared
from models.protocols import Split, evaluate_on_split, make_split, sample_ids
from models.registry import PARAM_GRIDS, make_model


@dataclass
class TuningResult:
    """The chosen parameters, their validation nDCG@k and every trial (for logging)."""

    params: dict[str, Any]
    score: float
    trials: pl.DataFrame = field(repr=False)


def param_candidates(
    grid: dict[str, list[Any]], max_trials: int | None = None, random_state: int = 42
) -> list[dict[str, Any]]:
    """Every grid point, or a seeded random sample of ``max_trials`` of them."""
    names = sorted(grid)
    points = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(grid[name] for name in names))
    ]
    if max_trials is not None and len(points) > max_trials:
        rng = np.random.default_rng(random_state)
        keep = np.sort(rng.choice(len(points), size=max_trials, replace=False))
        points = [points[i] for i in keep]
    return points or [{}]


def validation_split(
    protocol: str,
    train: pl.DataFrame,
    items: pl.DataFrame | None = None,
    *,
    random_state: int = 42,
) -> Split:
    """The same protocol applied again to the training data (a seed distinct from the test's)."""
    return make_split(protocol, train, items, seed=random_state + 1)


def tuning_split(
    protocol: str,
    train: pl.DataFrame,
    items: pl.DataFrame | None = None,
    *,
    max_users: int | None = None,
    random_state: int = 42,
) -> Split:
    """The validation split :func:`tune` searches on, from a seeded sample of ``max_users``.

    Built once per experiment and passed to every model's search: the sampling and splitting
    of a large train part cost seconds, and one shared split lets ``fit_shared`` reuse the
    hybrid's components across models and trials.
    """
    if max_users is not None and train["user_id"].n_unique() > max_users:
        keep = sample_ids(train["user_id"].unique().to_numpy(), max_users, random_state)
        train = train.filter(pl.col("user_id").is_in(pl.Series(keep).implode()))
    return validation_split(protocol, train, items, random_state=random_state)


def tune(
    name: str,
    train: pl.DataFrame,
    items: pl.DataFrame | None = None,
    users: pl.DataFrame | None = None,
    *,
    protocol: str = "stratified-item",
    k: int = 10,
    grid: dict[str, list[Any]] | None = None,
    max_trials: int | None = 12,
    random_state: int = 42,
    fixed_params: dict[str, Any] | None = None,
    time_budget_s: float | None = None,
    max_users: int | None = None,
    split: Split | None = None,
) -> TuningResult:
    """Pick the parameters of model ``name`` maximising nDCG@k on a validation split of ``train``.

    ``max_users`` tunes on the interactions of a seeded sample of that many users only;
    ``split`` gives that validation split already made by :func:`tuning_split` (``train`` and
    ``max_users`` are then not used). ``time_budget_s`` stops starting new trials once that
    many seconds are spent (the first trial always runs). Failing points (e.g. a too-large EASE)
    are recorded with their error and skipped; if every point fails the last error propagates.
    """
    grid = PARAM_GRIDS.get(name, {}) if grid is None else grid
    if split is None:
        split = tuning_split(protocol, train, items, max_users=max_users, random_state=random_state)
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    last_error: Exception | None = None
    for point in param_candidates(grid, max_trials, random_state):
        if rows and time_budget_s is not None and time.perf_counter() - began >= time_budget_s:
            break
        params = {**(fixed_params or {}), **point}
        started = time.perf_counter()
        try:
            model = fit_shared(make_model(name, params), split.train, items, users)
            score = evaluate_on_split(model, split, k)["ndcg@k"] or 0.0
            error = None
        except Exception as exc:  # recorded, the search goes on
            score, error, last_error = float("nan"), f"{type(exc).__name__}: {exc}", exc
        rows.append(
            {
                "params": json.dumps(point, default=str, sort_keys=True),
                "ndcg@k": score,
                "seconds": time.perf_counter() - started,
                "error": error,
            }
        )
        if error is None and (best is None or score > best[0]):
            best = (score, params)
    if best is None:
        assert last_error is not None
        raise last_error
    return TuningResult(params=best[1], score=best[0], trials=pl.DataFrame(rows))
