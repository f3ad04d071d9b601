"""Every model by name, with the hyper-parameter grid that tuning searches by default."""

from __future__ import annotations

from typing import Any

from models.als import ALSRecommender
from models.base import Recommender
from models.content import ContentRecommender
from models.ease import EASERecommender
from models.hybrid import HybridRecommender
from models.item_knn import ItemKNNRecommender
from models.popularity import PopularityRecommender

MODEL_REGISTRY: dict[str, type[Recommender]] = {
    "popularity": PopularityRecommender,
    "item_knn": ItemKNNRecommender,
    "ease": EASERecommender,
    "als": ALSRecommender,
    "content": ContentRecommender,
    "hybrid": HybridRecommender,
}

# Small grids on purpose: each point is one fit on the validation split. Values are the ranges
# that matter on implicit feedback (e.g. EASE's L2 peaks in the hundreds on MovieLens-size data).
PARAM_GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {"half_life_days": [7.0, 30.0, 180.0, None]},
    "item_knn": {
        "k_neighbors": [50, 100, 200, 400],
        "similarity": ["cosine", "bm25"],
    },
    "ease": {"l2": [50.0, 150.0, 300.0, 500.0, 800.0, 1500.0]},
    "als": {
        "factors": [32, 64],
        "regularization": [0.05, 1.0],
        "alpha": [5.0, 20.0],
    },
    "content": {
        "category_weight": [0.5, 1.0, 2.0],
        "location_weight": [0.0, 0.5, 1.0],
    },
    "hybrid": {
        "cf_model": ["ease", "item_knn"],
        "content_weight": [0.25, 0.5, 1.0],
        "popularity_weight": [0.1, 0.3],
        "distance_weight": [0.0, 0.3],
    },
}


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate a registered model by name with the given hyper-parameters."""
    if name not in MODEL_REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](**(params or {}))
