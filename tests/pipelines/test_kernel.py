"""Domains share the kernel, never each other's asset or loading modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pipelines

ROOT = Path(pipelines.__file__).parent
# Modules private to ingest: its assets and how it writes raw batches.
INGEST_INTERNALS = {"pipelines.ingest.assets", "pipelines.ingest.loading"}


def imported_modules(path: Path) -> set[str]:
    """The absolute module names ``path`` imports (``from a.b import c`` counts ``a.b.c`` too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_outside_ingest_imports_its_assets_or_loading() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if path.parent.name != "ingest" and imported_modules(path) & INGEST_INTERNALS
    )
    assert offenders == []


def test_the_kernel_depends_on_no_domain() -> None:
    domains = {f"pipelines.{p.name}" for p in ROOT.iterdir() if p.is_dir() and p.name != "kernel"}
    imported = set().union(*(imported_modules(p) for p in (ROOT / "kernel").glob("*.py")))
    assert {".".join(name.split(".")[:2]) for name in imported} & domains == set()
