"""The asset specs as committed: a change to keys, lineage, owners, tags or automation shows here.

Refresh the snapshot after an intended change with
``UPDATE_ASSET_SNAPSHOT=1 .venv/bin/python -m pytest tests/pipelines/test_asset_snapshot.py``
and commit ``tests/pipelines/asset_specs.json`` with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

SNAPSHOT = Path(__file__).with_name("asset_specs.json")


def spec_snapshot(defs: dg.Definitions) -> dict[str, dict[str, Any]]:
    """What a reviewer checks of each asset, in a stable order."""
    graph = defs.resolve_asset_graph()
    found = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        condition = node.automation_condition
        found[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/")},
            "automation": condition.get_label() if condition else None,
            "partitioned": node.partitions_def is not None,
        }
    return found


def test_asset_specs_match_the_snapshot() -> None:
    from pipelines.transform.project import prepare_manifest

    prepare_manifest()
    from pipelines.definitions import defs

    current = spec_snapshot(defs)
    if os.environ.get("UPDATE_ASSET_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())
