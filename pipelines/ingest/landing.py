"""Where landed files are: the landing-zone layout of the design, as pure path logic."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

from core.contracts import INTERACTIONS, LandingDataset

_DAY_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def dataset_files(root: Path, dataset: LandingDataset) -> list[Path]:
    """The dataset's landed files in a stable order (by name), whatever their format."""
    folder = root / dataset.folder
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lstrip(".") in dataset.formats
    )


def interaction_days(root: Path) -> list[date]:
    """The days that have an ``interactions/date=YYYY-MM-DD`` folder, oldest first."""
    folder = root / INTERACTIONS.folder
    if not folder.is_dir():
        return []
    days = []
    for child in folder.iterdir():
        match = _DAY_FOLDER.match(child.name)
        if child.is_dir() and match:
            days.append(date.fromisoformat(match.group(1)))
    return sorted(days)


def interaction_files(root: Path, day: date) -> list[Path]:
    """The files landed for ``day``, in any of the contract's formats (JSON Lines, Parquet)."""
    folder = root / INTERACTIONS.folder / f"date={day.isoformat()}"
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lstrip(".") in INTERACTIONS.formats
    )


class LedgerEntry(NamedTuple):
    """What the ledger knows of a path: the size of the file loaded and when it was loaded."""

    size_bytes: int
    loaded_at: datetime


def pending_files(paths: list[Path], ledger: Mapping[str, LedgerEntry]) -> list[Path]:
    """The files not loaded as they are now: new, of another size, or changed since loading.

    A file rewritten in place (a corrected delivery under the same name) has a modification time
    after its load, which is what catches a correction of the same size.
    """
    pending = []
    for path in paths:
        entry = ledger.get(str(path))
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        if entry is None or entry.size_bytes != stat.st_size or modified > entry.loaded_at:
            pending.append(path)
    return pending
