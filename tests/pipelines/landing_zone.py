"""The landing zone the loaders read, arranged for a test."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from core.settings import get_settings


def fresh_landing(files: Mapping[str, str | bytes]) -> Path:
    """The settings' landing zone, emptied, holding ``files`` (paths under it: contents)."""
    root = get_settings().landing_dir
    shutil.rmtree(root, ignore_errors=True)
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root
