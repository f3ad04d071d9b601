"""MLflow packaging: a fitted recommender as an ``mlflow.pyfunc`` model, and back.

The fitted object is pickled as an artifact and the ``models`` package ships with it
(``code_paths``), so a loaded model needs neither this repository nor a training environment
beyond the pinned numeric stack.
"""

from __future__ import annotations

import pickle
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from models.base import Recommender

ARTIFACT_KEY = "recommender"
DEFAULT_K = 10
_RUNTIME_PACKAGES = ("numpy", "scipy", "polars", "pandas", "pyarrow", "scikit-learn")


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    """Serves ``recommend``: input rows carry ``user_id``.

    Output: ``user_id, rank, item_id, score``, at most ``k`` rows per user, seen items excluded.
    Both are parameters with defaults in the signature: ``params={"k": 5}`` asks for five,
    ``params={"exclude_seen": False}`` keeps seen items; a ``k`` column is still honoured.
    """

    def __init__(self, recommender: Recommender | None = None) -> None:
        self.recommender = recommender

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[ARTIFACT_KEY], "rb") as handle:
            self.recommender = pickle.load(handle)  # noqa: S301 - our own artifact

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.recommender is None:
            raise RuntimeError("no recommender loaded")
        frame = pd.DataFrame(model_input)
        params = params or {}
        if "k" in frame.columns and len(frame):
            k = int(frame["k"].max())
        else:
            k = int(params.get("k", DEFAULT_K))
        exclude_seen = bool(params.get("exclude_seen", True))
        users = frame["user_id"].to_numpy()  # integer or string ids, as the model was fitted
        recs = self.recommender.recommend(users, k, exclude_seen=exclude_seen)
        return recs.to_pandas()


def _pip_requirements() -> list[str]:
    pins = []
    for package in _RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:  # optional at serving time
            continue
    return pins


def log_recommender(
    model: Recommender, name: str, *, input_example: pd.DataFrame | None = None
) -> ModelInfo:
    """Log a fitted recommender to the active (or a new) MLflow run as a pyfunc model.

    Requirements are pinned explicitly because inferring them costs seconds per call.
    """
    if input_example is None:
        first_user = int(model.user_ids_[0]) if model.user_ids_.size else 0
        input_example = pd.DataFrame({"user_id": [first_user]})
    output_example = RecommenderPyfunc(model).predict(None, input_example)
    signature = infer_signature(
        input_example, output_example, params={"k": DEFAULT_K, "exclude_seen": True}
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recommender.pkl"
        with path.open("wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=RecommenderPyfunc(),
            artifacts={ARTIFACT_KEY: str(path)},
            signature=signature,
            input_example=input_example,
            pip_requirements=_pip_requirements(),
            code_paths=[str(Path(__file__).resolve().parent)],
        )


def load_recommender(model_uri: str) -> Recommender:
    """The fitted recommender inside a logged pyfunc model (e.g. ``models:/name@champion``)."""
    wrapper = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    if not isinstance(wrapper, RecommenderPyfunc) or wrapper.recommender is None:
        raise TypeError(f"{model_uri} does not hold a recommender")
    return wrapper.recommender
