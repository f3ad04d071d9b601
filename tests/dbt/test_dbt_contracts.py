"""Every mart is a contract: its columns' names and types are declared, and dbt enforces them."""

from __future__ import annotations

import json
from pathlib import Path


def test_every_mart_declares_and_enforces_its_columns() -> None:
    from pipelines.transform.project import prepare_manifest

    manifest = json.loads(Path(prepare_manifest()).read_text())
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"].endswith("marts")
    ]
    assert len(marts) >= 20
    unenforced = [m["name"] for m in marts if not m["config"]["contract"]["enforced"]]
    assert unenforced == []
    untyped = [
        f"{m['name']}.{column}"
        for m in marts
        for column, spec in m["columns"].items()
        if not spec.get("data_type")
    ]
    assert untyped == []
    assert all(m["columns"] for m in marts)
