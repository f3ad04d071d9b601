"""Evaluation protocols: how to split, what counts as relevant, which items may be recommended.

Shared by tuning (on a validation split carved out of train) and by the experiment (on the
test split), so both measure a model the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from models.base import Recommender
from models.matrix import id_column, prepare_interactions, to_utc
from models.metrics import bootstrap_ci, evaluate, per_user_metrics
from models.splitters import (
    default_cutoff,
    future_events,
    random_by_user,
    stratified_by_item,
    temporal,
)

PROTOCOLS = ("stratified-item", "user", "temporal", "future-events")
# Events a recommendation is for: those starting within this many days of the cut-off.
HORIZON_DAYS = 90.0


@dataclass
class Split:
    """A train/test split and the facts evaluation needs about it."""

    protocol: str
    train: pl.DataFrame
    test: pl.DataFrame
    cutoff: datetime | None = None
    candidates: np.ndarray | None = None

    def truth(self) -> pl.DataFrame:
        """Relevant (user, item) pairs: test pairs the user had not already met in train.

        Models exclude seen items, so a test pair also present in train can never be hit;
        keeping it would only lower every model's recall by the same amount.
        """
        pairs = self.test.select("user_id", "item_id").unique()
        seen = self.train.select("user_id", "item_id").unique()
        return pairs.join(seen, on=["user_id", "item_id"], how="anti")

    def summary(self) -> dict[str, object]:
        """Sizes of both sides, for logs and the experiment report."""
        out: dict[str, object] = {
            "protocol": self.protocol,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
        }
        for name, frame in (("train", self.train), ("test", self.test)):
            out[f"{name}_rows"] = frame.height
            out[f"{name}_users"] = frame["user_id"].n_unique()
            out[f"{name}_items"] = frame["item_id"].n_unique()
        if self.candidates is not None:
            out["candidate_items"] = int(self.candidates.size)
        return out


def make_split(
    protocol: str,
    interactions: pl.DataFrame,
    items: pl.DataFrame | None = None,
    *,
    seed: int = 42,
    ratio: float | None = None,
    cutoff: datetime | None = None,
    horizon_days: float | None = HORIZON_DAYS,
) -> Split:
    """Split ``interactions`` according to a named protocol.

    ``stratified-item`` (ratio 0.75) and ``user`` (0.75) are random per-item / per-user splits;
    ``temporal`` cuts at ``cutoff`` (default: the 80 % time quantile), ``future-events`` by
    default where its window is complete (:func:`complete_window_cutoff`).
    ``future-events`` asks the marketplace's question: the candidates are the events starting
    in ``(cutoff, cutoff + horizon_days]`` (``None``: any time after), the truth every later
    interaction with them; an event a user had before the cut-off is not theirs to discover
    (see :meth:`Split.truth`).
    """
    interactions = prepare_interactions(interactions)
    if protocol == "stratified-item":
        train, test = stratified_by_item(interactions, ratio or 0.75, seed)
        return Split(protocol, train, test)
    if protocol == "user":
        train, test = random_by_user(interactions, ratio or 0.75, seed)
        return Split(protocol, train, test)
    if protocol in ("temporal", "future-events"):
        if "timestamp" not in interactions.columns:
            raise ValueError(f"protocol {protocol!r} needs a timestamp column")
        if cutoff is None and protocol == "future-events" and horizon_days is not None:
            cutoff = complete_window_cutoff(interactions, horizon_days)
        cutoff = cutoff or default_cutoff(interactions, ratio or 0.8)
        if protocol == "temporal":
            train, test = temporal(interactions, cutoff)
            return Split(protocol, train, test, cutoff)
        if items is None or "starts_at" not in items.columns:
            raise ValueError("protocol 'future-events' needs an items frame with starts_at")
        train, test = future_events(interactions, items, cutoff)
        starts = to_utc(items["starts_at"])
        upcoming = starts > cutoff
        if horizon_days is not None:
            upcoming &= starts <= cutoff + timedelta(days=horizon_days)
        candidates = np.sort(
            items.select(id_column(items, "item_id"))["item_id"]
            .filter(upcoming)
            .unique()
            .to_numpy()
        )
        test = test.filter(pl.col("item_id").is_in(pl.Series(candidates).implode()))
        return Split(protocol, train, test, cutoff, candidates)
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")


def complete_window_cutoff(interactions: pl.DataFrame, horizon_days: float) -> datetime:
    """``horizon_days`` before the latest interaction, so that every interaction with the
    window's events is in the data (a truncated window favours the events that start first);
    the 80 % time quantile when that would leave less than a fifth of the data to train on."""
    latest = interactions["timestamp"].max()
    cutoff = latest - timedelta(days=horizon_days)  # type: ignore[operator]
    if interactions.filter(pl.col("timestamp") < pl.lit(cutoff)).height < 0.2 * interactions.height:
        return default_cutoff(interactions, 0.8)
    return cutoff  # type: ignore[return-value]


def rolling_splits(
    interactions: pl.DataFrame,
    items: pl.DataFrame,
    n_cutoffs: int,
    *,
    horizon_days: float = HORIZON_DAYS,
    step_days: float = 30.0,
) -> list[Split]:
    """``future-events`` splits at ``n_cutoffs`` cut-offs ``step_days`` apart, oldest first.

    The last cut-off is ``horizon_days`` before the latest interaction, so every window is
    complete (all its interactions are in the data); when that leaves less than a fifth of the
    data before it, the 80 % time quantile is used instead. Cut-offs that would leave less than
    5 % of the interactions to train on are dropped.
    """
    interactions = prepare_interactions(interactions)
    last = complete_window_cutoff(interactions, horizon_days)
    splits = []
    for back in range(n_cutoffs - 1, -1, -1):
        cutoff = last - timedelta(days=back * step_days)
        before = interactions.filter(pl.col("timestamp") < pl.lit(cutoff)).height
        if before >= 0.05 * interactions.height:
            splits.append(
                make_split(
                    "future-events", interactions, items, cutoff=cutoff, horizon_days=horizon_days
                )
            )
    if not splits:
        raise ValueError("no cut-off leaves enough interactions before it to train on")
    return splits


def sample_ids(ids: np.ndarray, limit: int | None, random_state: int) -> np.ndarray:
    """A sorted seeded sample of ``limit`` distinct ids (all of them when there are fewer)."""
    ids = np.unique(np.asarray(ids))
    if limit is None or ids.size <= limit:
        return ids
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(ids, size=limit, replace=False))


def evaluation_users(split: Split, max_users: int | None, random_state: int) -> np.ndarray:
    """The test users a split is scored on: every user with a relevant pair, or a seeded
    sample of ``max_users`` of them. Two models scored on the same users can be compared."""
    users = np.sort(split.truth()["user_id"].unique().to_numpy())
    return sample_ids(users, max_users, random_state)


def evaluate_on_split(
    model: Recommender,
    split: Split,
    k: int,
    *,
    max_users: int | None = None,
    random_state: int = 0,
    users: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Every metric of ``model`` against the split's truth (see :func:`score_split`)."""
    return score_split(
        model, split, k, max_users=max_users, random_state=random_state, users=users
    )[0]


def score_split(
    model: Recommender,
    split: Split,
    k: int,
    *,
    max_users: int | None = None,
    random_state: int = 0,
    users: np.ndarray | None = None,
) -> tuple[dict[str, float | None], pl.DataFrame]:
    """Recommend for the test users; every metric and the per-user ``ndcg, recall, hits``.

    ``users`` fixes who is scored (e.g. the users a champion was scored on); otherwise
    :func:`evaluation_users` with ``max_users``: scoring every user × candidate is the
    dominant cost of an evaluation at millions of users, while the mean of a per-user metric
    over tens of thousands of users already has a standard error far below the gaps between
    models. The metrics include ``ndcg_low`` / ``ndcg_high``, a 95 % bootstrap interval.
    """
    truth = split.truth()
    if users is None:
        users = evaluation_users(split, max_users, random_state)
    truth = truth.filter(pl.col("user_id").is_in(pl.Series(users).implode()))
    recs = model.recommend(
        users, k, exclude_seen=True, candidates=split.candidates, as_of=split.cutoff
    )
    catalogue = (
        split.candidates
        if split.candidates is not None
        else split.train["item_id"].unique().to_numpy()
    )
    metrics = evaluate(
        recs,
        truth,
        k,
        catalogue=catalogue,
        train_items=split.train["item_id"].unique().to_numpy(),
    )
    per_user = per_user_metrics(recs, truth, k)
    metrics["ndcg_low"], metrics["ndcg_high"] = bootstrap_ci(
        per_user["ndcg"].to_numpy(), random_state=random_state
    )
    return metrics, per_user
