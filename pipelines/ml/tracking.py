"""MLflow plumbing: where runs and models go, and who the champion is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.settings import get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

EXPERIMENT_NAME = "event-recommendations"
CHAMPION = "champion"
CHALLENGER = "challenger"


def configure_mlflow(experiment: str = EXPERIMENT_NAME) -> MlflowClient:
    """Point MLflow at the platform's tracking store and make sure ``experiment`` exists.

    The experiment's artifact location is set explicitly so that artifacts land in the configured
    folder (or bucket), whichever process created the experiment first.
    """
    import mlflow

    settings = get_settings()
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    client = mlflow.MlflowClient()
    if client.get_experiment_by_name(experiment) is None:
        settings.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
        client.create_experiment(
            experiment, artifact_location=settings.mlflow_artifacts.resolve().as_uri()
        )
    mlflow.set_experiment(experiment)
    return client


def version_by_alias(client: MlflowClient, alias: str) -> ModelVersion | None:
    """The registered version holding ``alias``, or None (no such model or alias yet)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(get_settings().mlflow_model_name, alias)
    except MlflowException:
        return None


def model_version_label(version: ModelVersion) -> str:
    """How serving tables and API responses name a model version: ``<name>/<version>``."""
    return f"{version.name}/{version.version}"
