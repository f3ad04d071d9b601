"""The marts' readers outside dbt are exposures: the notebooks, the training job, the API."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.settings import REPO_ROOT


def test_every_reader_of_the_marts_is_an_exposure_on_the_models_it_reads() -> None:
    from pipelines.transform.project import prepare_manifest

    manifest = json.loads(Path(prepare_manifest()).read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {e["type"] for e in exposures.values()} == {"notebook", "ml", "application"}
    reads = {
        name: {node.rsplit(".", 1)[1] for node in exposure["depends_on"]["nodes"]}
        for name, exposure in exposures.items()
    }
    # A notebook's exposure lists exactly the marts its queries name.
    for notebook in ("engagement_and_trends", "recommendation_performance"):
        source = (REPO_ROOT / "notebooks" / f"{notebook}.py").read_text()
        named = set(re.findall(r"marts\.([a-z_]+)", source))
        assert reads[f"{notebook}_notebook"] == named
    assert reads["recommender_training_job"] == {
        "ml_training_interactions",
        "ml_event_features",
        "ml_user_features",
    }
    assert reads["serving_api_recommendations"] == {"mart_event_popularity"}
