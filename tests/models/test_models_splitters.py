"""Splitters: the recommenders-team stratified protocol, reproduced exactly, and time cuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl

from models.splitters import future_events, random_by_user, stratified_by_item, temporal


def reference_stratified(data: pd.DataFrame, by: str, ratio: float, seed: int) -> pd.DataFrame:
    """The published python_stratified_split algorithm, step by step, as the oracle."""
    data = data.copy()
    np.random.seed(seed)
    data["random"] = np.random.rand(data.shape[0])
    data = data.sort_values([by, "random"])
    groups = data.groupby(by)
    data["count"] = groups[by].transform("count")
    data["rank"] = (groups.cumcount() + 1) / data["count"]
    return data[data["rank"] <= ratio][["user_id", "item_id"]]


def random_interactions(n: int = 500, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "user_id": rng.integers(0, 40, n),
            "item_id": rng.integers(0, 30, n),
            "weight": np.ones(n),
        }
    )


def pairs(frame: pl.DataFrame | pd.DataFrame) -> list[tuple[int, int]]:
    if isinstance(frame, pl.DataFrame):
        frame = frame.to_pandas()
    return sorted(map(tuple, frame[["user_id", "item_id"]].to_numpy().tolist()))


def test_stratified_by_item_matches_the_reference_protocol_row_for_row() -> None:
    data = random_interactions().with_row_index("row")
    train, test = stratified_by_item(data, ratio=0.75, seed=42)
    expected = reference_stratified(data.to_pandas(), "item_id", 0.75, 42)
    assert sorted(train["row"].to_list()) == sorted(data.to_pandas().loc[expected.index, "row"])
    assert train.height + test.height == data.height
    assert set(train["row"]).isdisjoint(set(test["row"]))


def test_stratified_by_item_keeps_the_ratio_per_item() -> None:
    data = pl.DataFrame({"user_id": [1, 2, 3, 4, 5], "item_id": [7, 7, 7, 7, 8]})
    train, test = stratified_by_item(data, ratio=0.75, seed=42)
    # 4 rows of item 7: ranks 1/4..4/4, three are <= 0.75. Item 8's only row has rank 1 > 0.75.
    assert train["item_id"].to_list() == [7, 7, 7]
    assert sorted(test["item_id"].to_list()) == [7, 8]


def test_random_by_user_matches_reference_and_puts_every_user_in_train() -> None:
    data = random_interactions(seed=5).with_row_index("row")
    train, _ = random_by_user(data, ratio=0.6, seed=7)
    expected = reference_stratified(data.to_pandas(), "user_id", 0.6, 7)
    assert sorted(train["row"].to_list()) == sorted(data.to_pandas().loc[expected.index, "row"])
    assert set(train["user_id"]) == set(data["user_id"])


def _timed() -> tuple[pl.DataFrame, pl.DataFrame]:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    interactions = pl.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3],
            "item_id": [10, 11, 10, 12, 13],
            "weight": [1.0] * 5,
            "timestamp": [t0 + timedelta(days=d) for d in (1, 2, 3, 6, 7)],
        }
    )
    items = pl.DataFrame(
        {
            "item_id": [10, 11, 12, 13],
            "starts_at": [t0 + timedelta(days=d) for d in (4, 3, 8, 9)],
        }
    )
    return interactions, items


def test_temporal_cuts_at_the_given_time() -> None:
    interactions, _ = _timed()
    cutoff = datetime(2025, 1, 5, tzinfo=UTC)
    train, test = temporal(interactions, cutoff)
    assert train["item_id"].to_list() == [10, 11, 10]
    assert test["item_id"].to_list() == [12, 13]


def test_temporal_default_cutoff_keeps_the_ratio() -> None:
    interactions, _ = _timed()
    train, test = temporal(interactions, ratio=0.6)
    assert (train.height, test.height) == (3, 2)


def test_future_events_tests_only_events_starting_after_the_cutoff() -> None:
    interactions, items = _timed()
    cutoff = datetime(2025, 1, 5, tzinfo=UTC)
    train, test = future_events(interactions, items, cutoff)
    assert train.height == 3
    assert sorted(test["item_id"].to_list()) == [12, 13]
    starts = dict(zip(items["item_id"], items["starts_at"], strict=True))
    assert all(starts[i] > cutoff for i in test["item_id"])
    # Both test events are cold: nobody touched them before the cut-off.
    assert set(test["item_id"]).isdisjoint(set(train["item_id"]))
