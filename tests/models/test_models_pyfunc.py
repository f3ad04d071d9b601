"""Round trip through a real local MLflow store: log, load, predict."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.ease import EASERecommender
from models.pyfunc import RecommenderPyfunc, load_recommender, log_recommender

INTERACTIONS = pl.DataFrame(
    {
        "user_id": [1, 1, 2, 2, 3, 3, 3],
        "item_id": [10, 11, 10, 12, 11, 12, 13],
        "weight": [1.0] * 7,
    }
)


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[str]:
    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    # Artifacts would otherwise default to ./mlruns in the working directory.
    mlflow.create_experiment("recommenders-test", artifact_location=(tmp_path / "art").as_uri())
    mlflow.set_experiment("recommenders-test")
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)


def test_logged_recommender_loads_and_predicts_like_the_original(tracking: str) -> None:
    model = EASERecommender(l2=1.0).fit(INTERACTIONS)
    with mlflow.start_run():
        info = log_recommender(model, "recommender")
    loaded = load_recommender(info.model_uri)
    assert isinstance(loaded, EASERecommender)
    assert np.array_equal(loaded.B_, model.B_)

    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    out = pyfunc.predict(pd.DataFrame({"user_id": [1, 2], "k": [2, 2]}))
    expected = model.recommend([1, 2], k=2).to_pandas()
    assert out["item_id"].tolist() == expected["item_id"].tolist()
    assert out.columns.tolist() == ["user_id", "rank", "item_id", "score"]
    assert isinstance(pyfunc.unwrap_python_model(), RecommenderPyfunc)
    assert mlflow.pyfunc.get_model_dependencies(info.model_uri)


def test_k_and_exclude_seen_are_parameters_with_defaults(tracking: str) -> None:
    model = EASERecommender(l2=1.0).fit(INTERACTIONS)
    with mlflow.start_run():
        info = log_recommender(model, "recommender")
    defaults = {p.name: p.default for p in info.signature.params.params}
    assert defaults == {"k": 10, "exclude_seen": True}
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    users = pd.DataFrame({"user_id": [3]})
    # User 3 has seen three of the four items: by default only the fourth is left.
    assert pyfunc.predict(users)["item_id"].tolist() == [10]
    everything = pyfunc.predict(users, params={"exclude_seen": False})
    assert sorted(everything["item_id"]) == [10, 11, 12, 13]
    assert len(pyfunc.predict(users, params={"k": 2, "exclude_seen": False})) == 2
