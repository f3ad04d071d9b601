"""Every model by name, with the hyper-parameter grid that tuning searches by default.

``hybrid`` is the events model (:class:`models.event_ranker.EventRanker`, a learned ranker
over organiser, series, venue, place, time, text, popularity and collaborative signals);
``blend`` the weighted blend for catalogues without event structure (e.g. MovieLens). The
simple references of :mod:`models.references` are registered too, so every evaluation can
print them beside the models.
"""

from __future__ import annotations

from typing import Any

from models.als import ALSRecommender
from models.base import Recommender
from models.content import ContentRecommender
from models.ease import EASERecommender
from models.event_ranker import EventRanker
from models.hybrid import HybridRecommender
from models.item_knn import ItemKNNRecommender
from models.popularity import PopularityRecommender
from models.references import REFERENCES

MODEL_REGISTRY: dict[str, type[Recommender]] = {
    "popularity": PopularityRecommender,
    "item_knn": ItemKNNRecommender,
    "ease": EASERecommender,
    "als": ALSRecommender,
    "content": ContentRecommender,
    "blend": HybridRecommender,
    "hybrid": EventRanker,
    **REFERENCES,
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
    "blend": {
        "cf_model": ["ease", "item_knn"],
        "content_weight": [0.25, 0.5, 1.0],
        "popularity_weight": [0.1, 0.3],
        "distance_weight": [0.0, 0.3],
    },
}


def is_reference(name: str) -> bool:
    """Whether ``name`` is one of the simple references rather than a model to ship."""
    return name in REFERENCES


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate a registered model by name with the given hyper-parameters."""
    if name not in MODEL_REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](**(params or {}))
