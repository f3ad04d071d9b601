"""Recommendation library: algorithms, metrics, splitters, evaluation protocols, MLflow wrapper.

Pure Python over polars, numpy, scipy and scikit-learn: it knows nothing of Dagster, the
database or the API. Every model follows one interface (:class:`models.base.Recommender`).
"""

from models.base import ModelTooLargeError, Recommender
from models.registry import MODEL_REGISTRY, PARAM_GRIDS, make_model

__all__ = ["MODEL_REGISTRY", "PARAM_GRIDS", "ModelTooLargeError", "Recommender", "make_model"]
