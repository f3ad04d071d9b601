"""The analyst notebooks run top to bottom against freshly built marts; a failing cell fails.

Each notebook is a jupytext percent-format script, converted and executed with nbclient in a
kernel of this interpreter, which inherits the test session's ``DATABASE_URL``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

from core.settings import REPO_ROOT
from tests.notebook_runner import NOTEBOOKS_DIR, execute, outputs

pytestmark = pytest.mark.integration

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.py"))


def _load_dataset_module() -> ModuleType:
    """The hand-made data set of the dbt tests (a helper module beside them, not a package)."""
    if "marts_dataset" in sys.modules:
        return sys.modules["marts_dataset"]
    path = REPO_ROOT / "tests" / "dbt" / "marts_dataset.py"
    spec = importlib.util.spec_from_file_location("marts_dataset", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["marts_dataset"] = module
    spec.loader.exec_module(module)
    return module


ds = _load_dataset_module()


class Marts:
    """The state of the marts for this module: built on the data set, then emptied once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.emptied = False

    def build(self) -> None:
        ds.load(self.url)
        ds.run_dbt("build", "--full-refresh")

    def empty(self) -> None:
        """Rebuild the marts on empty raw tables (the API's may hold rows of other tests)."""
        if not self.emptied:
            ds.unload(self.url)
            ds.rebuild_marts()
            self.emptied = True


@pytest.fixture(scope="module")
def marts(database_url: str) -> Iterator[Marts]:
    state = Marts(database_url)
    state.build()
    yield state
    state.empty()


@pytest.fixture
def empty_marts(marts: Marts) -> Marts:
    """The marts without data; requested by the tests that run after those on built marts."""
    marts.empty()
    return marts


def images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_both_analyst_notebooks_exist() -> None:
    assert {path.name for path in NOTEBOOKS} >= {
        "engagement_and_trends.py",
        "recommendation_performance.py",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_and_plots(marts: Marts, path: Path) -> None:
    notebook = execute(path)

    assert outputs(notebook, "error") == []
    assert images(notebook) >= 3


# After the tests on built marts (pytest keeps the order of the file).
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_on_empty_marts(empty_marts: Marts, path: Path) -> None:
    notebook = execute(path)

    assert outputs(notebook, "error") == []
