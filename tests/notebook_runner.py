"""Running an analyst notebook as the tests do: converted by jupytext, executed by nbclient."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from core.settings import REPO_ROOT

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def execute(path: Path) -> nbformat.NotebookNode:
    """Run the notebook top to bottom in a kernel of this interpreter (which inherits the test
    session's ``DATABASE_URL``) and return it with its outputs."""
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    return client.execute()


def outputs(notebook: nbformat.NotebookNode, kind: str) -> list[dict]:
    """The code cells' outputs of one type (``stream``, ``error``, ``display_data``, …)."""
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == kind
    ]


def printed(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook printed."""
    return "".join(output.get("text", "") for output in outputs(notebook, "stream"))
