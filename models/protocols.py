"""Evaluation protocols: how to split, what counts as relevant, which items may be recommended.

Shared by tuning (on a validation split carved out of train) and by the experiment (on the
test split), so both measure a model the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from models.base import Recommender
from models.matrix import prepare_interactions, to_utc
from models.metrics import evaluate
from models.splitters import (
    default_cutoff,
    future_events,
    random_by_user,
    stratified_by_item,
    temporal,
)

PROTOCOLS = ("stratified-item", "user", "temporal", "future-events")


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
) -> Split:
    """Split ``interactions`` according to a named protocol.

    ``stratified-item`` (ratio 0.75) and ``user`` (0.75) are random per-item / per-user splits;
    ``temporal`` and ``future-events`` cut at ``cutoff`` (default: the 80 % time quantile).
    ``future-events`` also restricts candidates to events starting after the cut-off.
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
        cutoff = cutoff or default_cutoff(interactions, ratio or 0.8)
        if protocol == "temporal":
            train, test = temporal(interactions, cutoff)
            return Split(protocol, train, test, cutoff)
        if items is None:
            raise ValueError("protocol 'future-events' needs an items frame with starts_at")
        train, test = future_events(interactions, items, cutoff)
        starts = to_utc(items["starts_at"])
        upcoming = items["item_id"].cast(pl.Int64).filter(starts > cutoff).unique().to_numpy()
        return Split(protocol, train, test, cutoff, np.sort(upcoming))
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")


def sample_ids(ids: np.ndarray, limit: int | None, random_state: int) -> np.ndarray:
    """A sorted seeded sample of ``limit`` distinct ids (all of them when there are fewer)."""
    ids = np.unique(np.asarray(ids))
    if limit is None or ids.size <= limit:
        return ids
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(ids, size=limit, replace=False))


def evaluate_on_split(
    model: Recommender,
    split: Split,
    k: int,
    *,
    max_users: int | None = None,
    random_state: int = 0,
) -> dict[str, float | None]:
    """Recommend for every test user and compute every metric against the split's truth.

    With ``max_users``, a seeded sample of that many test users is scored instead: scoring
    every user × candidate is the dominant cost of an evaluation at millions of users, while
    the mean of a per-user metric over tens of thousands of users already has a standard error
    far below the gaps between models.
    """
    truth = split.truth()
    users = np.sort(truth["user_id"].unique().to_numpy())
    users = sample_ids(users, max_users, random_state)
    if max_users is not None and users.size < truth["user_id"].n_unique():
        truth = truth.filter(pl.col("user_id").is_in(pl.Series(users).implode()))
    recs = model.recommend(users, k, exclude_seen=True, candidates=split.candidates)
    catalogue = (
        split.candidates
        if split.candidates is not None
        else split.train["item_id"].unique().to_numpy()
    )
    return evaluate(
        recs,
        truth,
        k,
        catalogue=catalogue,
        train_items=split.train["item_id"].unique().to_numpy(),
    )
