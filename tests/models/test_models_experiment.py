"""Experiment, tuning and CLI on the synthetic events marketplace."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from models_synthetic import make_events_dataset

from models import PARAM_GRIDS
from models.evaluate import main
from models.experiment import fit_final, run_experiment
from models.io import read_interactions
from models.tuning import param_candidates, tune, validation_split


@pytest.fixture(scope="module")
def events():
    return make_events_dataset(n_users=300, n_items=400, n_interactions=8000, seed=0)


@pytest.fixture(scope="module")
def future_result(events):
    return run_experiment(
        events.interactions,
        events.items,
        events.users,
        protocol="future-events",
        k=10,
        model_names=["popularity", "content", "item_knn", "hybrid"],
        max_trials=4,
    )


def test_hybrid_beats_popularity_and_content_on_future_events(future_result) -> None:
    table = future_result.table
    metric = {row["model"]: row for row in table.iter_rows(named=True)}
    for name in ("popularity", "content"):
        assert metric["hybrid"]["recall@k"] > metric[name]["recall@k"]
        assert metric["hybrid"]["ndcg@k"] > metric[name]["ndcg@k"]
    # Cold events can only be reached from content: pure collaborative filtering gets none.
    assert metric["item_knn"]["cold_start_recall"] == 0.0
    assert metric["hybrid"]["cold_start_recall"] > 0.2
    assert future_result.best_model == "hybrid"


def test_experiment_table_and_summary_shapes(future_result) -> None:
    table = future_result.table
    assert table.columns[:15] == [
        "model",
        "kind",
        "precision@k",
        "recall@k",
        "ndcg@k",
        "map",
        "map@k",
        "coverage",
        "cold_start_recall",
        "warm_start_recall",
        "ndcg_low",
        "ndcg_high",
        "fit_s",
        "tune_s",
        "params",
    ]
    assert table["skipped_reason"].null_count() == table.height
    assert isinstance(json.loads(table["params"][0]), dict)
    summary = future_result.split_summary
    assert summary["train_rows"] + summary["test_rows"] <= 8000
    assert datetime.fromisoformat(summary["cutoff"]).tzinfo is not None
    assert set(future_result.best_params) <= set(PARAM_GRIDS.get(future_result.best_model, {}))
    for row in table.iter_rows(named=True):
        assert row["ndcg_low"] <= row["ndcg@k"] <= row["ndcg_high"]


def test_too_large_and_failing_models_are_skipped_with_a_reason(events, monkeypatch) -> None:
    monkeypatch.setitem(PARAM_GRIDS, "ease", {"max_items": [5]})
    result = run_experiment(
        events.interactions,
        protocol="temporal",
        model_names=["ease", "content", "popularity"],
        max_trials=2,
    )
    reasons = dict(zip(result.table["model"], result.table["skipped_reason"], strict=True))
    assert "max_items=5" in reasons["ease"]
    assert "items frame" in reasons["content"]
    assert reasons["popularity"] is None
    assert result.best_model == "popularity"


def test_tuning_only_sees_train_and_returns_a_grid_point(events) -> None:
    train = events.interactions.head(6000)
    split = validation_split("stratified-item", train)
    assert split.train.height + split.test.height == train.height
    grid = {"k_neighbors": [5, 50], "similarity": ["cosine"]}
    result = tune("item_knn", train, protocol="stratified-item", grid=grid)
    assert result.params in param_candidates(grid)
    assert result.trials.height == 2
    assert result.score == pytest.approx(result.trials["ndcg@k"].max())


def test_param_candidates_samples_reproducibly() -> None:
    grid = {"a": [1, 2, 3], "b": [4, 5]}
    assert len(param_candidates(grid)) == 6
    sample = param_candidates(grid, max_trials=3, random_state=1)
    assert sample == param_candidates(grid, max_trials=3, random_state=1)
    assert len(sample) == 3


def test_fit_final_refits_on_everything(events) -> None:
    model = fit_final("blend", {"cf_model": "item_knn"}, events.interactions, events.items)
    assert model.item_ids_.size == events.items.height
    assert model.cf_model == "item_knn"


def write_movielens(path: Path) -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(1, 40, 600)
    items = rng.integers(1, 60, 600)
    lines = [
        f"{u}\t{i}\t{r}\t{t}"
        for u, i, r, t in zip(
            users, items, rng.integers(1, 6, 600), 880000000 + np.arange(600), strict=True
        )
    ]
    path.write_text("\n".join(lines) + "\n")


def test_movielens_u_data_is_read_as_is(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    write_movielens(path)
    frame = read_interactions(path)
    assert frame.columns == ["user_id", "item_id", "weight", "timestamp"]
    assert frame.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert frame["timestamp"][0] == datetime.fromtimestamp(880000000, tz=UTC)
    assert frame.height == 600


def test_cli_prints_every_model(tmp_path: Path, capsys) -> None:
    path = tmp_path / "u.data"
    write_movielens(path)
    code = main(
        [
            "--interactions",
            str(path),
            "--protocol",
            "stratified-item",
            "--k",
            "5",
            "--models",
            "popularity,ease,item_knn",
            "--no-tuning",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| model | ndcg@k | ndcg 95% CI | precision@k | recall@k |" in out
    for name in ("popularity", "ease", "item_knn"):
        assert f"| {name} | 0." in out


def test_tuning_budget_and_user_sample_bound_the_search(events) -> None:
    grid = {"k_neighbors": [5, 20, 50], "similarity": ["cosine"]}
    result = tune(
        "item_knn",
        events.interactions,
        protocol="stratified-item",
        grid=grid,
        time_budget_s=0.0,
        max_users=100,
    )
    assert result.trials.height == 1  # the first trial always runs, then the budget is spent
    assert result.params in param_candidates(grid)


def test_evaluation_on_a_user_sample_scores_only_those_users(events, monkeypatch) -> None:
    from models.base import Recommender
    from models.protocols import evaluate_on_split, make_split
    from models.registry import make_model

    split = make_split("temporal", events.interactions)
    model = make_model("popularity").fit(split.train)
    asked: list[int] = []
    original = Recommender.recommend

    def spy(self, user_ids, k, exclude_seen=True, candidates=None, as_of=None):
        asked.append(len(user_ids))
        return original(self, user_ids, k, exclude_seen, candidates, as_of)

    monkeypatch.setattr(Recommender, "recommend", spy)
    full = evaluate_on_split(model, split, 10)
    sampled = evaluate_on_split(model, split, 10, max_users=50, random_state=1)
    assert asked[1] == 50 < asked[0]
    again = evaluate_on_split(model, split, 10, max_users=50, random_state=1)
    assert sampled["recall@k"] == pytest.approx(again["recall@k"])
    assert sampled["ndcg@k"] == pytest.approx(again["ndcg@k"])
    assert abs(sampled["recall@k"] - full["recall@k"]) < 0.2
