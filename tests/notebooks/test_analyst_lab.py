"""``make notebooks``: JupyterLab on ``notebooks/``, the ``.py`` files as notebooks, as the analyst.

The server is the real one (``jupyter lab`` as ``core.analyst_lab`` starts it), asked over HTTP
what a click on a notebook opens.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import errors

from core.analyst_lab import NOTEBOOKS_DIR, lab_command, lab_environment, write_lab_settings
from core.settings import Settings
from tests.ports import free_port

pytestmark = pytest.mark.integration


def test_python_files_open_as_notebooks_by_default(tmp_path: Path) -> None:
    path = write_lab_settings(tmp_path)
    assert json.loads(path.read_text()) == {"defaultViewers": {"python": "Jupytext Notebook"}}
    assert path.relative_to(tmp_path).parts[:2] == ("@jupyterlab", "docmanager-extension")


def test_the_lab_listens_on_loopback_only() -> None:
    command = lab_command(8888)
    assert "--ip=127.0.0.1" in command
    assert f"--ServerApp.root_dir={NOTEBOOKS_DIR}" in command


def test_the_analyst_url_keeps_the_server_and_changes_the_role() -> None:
    settings = Settings(
        database_url="postgresql://owner:secret@db.internal:6543/events?sslmode=require",
        analyst_password="p@ss word",
    )
    assert settings.analyst_database_url == (
        "postgresql://analyst:p%40ss%20word@db.internal:6543/events?sslmode=require"
    )
    assert "owner" not in Settings(database_url="postgresql://owner@h/db").analyst_database_url


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running JupyterLab as ``make notebooks`` starts it; (base URL, token)."""
    port, token = free_port(), secrets.token_hex(16)
    env = lab_environment(tmp_path_factory.mktemp("jupyter"))
    command = [*lab_command(port), f"--IdentityProvider.token={token}"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not start")
            time.sleep(0.5)
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_notebook_opens_as_a_notebook_with_its_cells(lab: tuple[str, str]) -> None:
    base, token = lab
    response = httpx.get(
        f"{base}/api/contents/recommendation_performance.py", params={"token": token}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "notebook"
    sources = [cell["source"] for cell in body["content"]["cells"]]
    assert any("analyst_database_url" in source for source in sources)
    viewers = httpx.get(
        f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin",
        params={"token": token},
    ).json()
    assert viewers["settings"]["defaultViewers"] == {"python": "Jupytext Notebook"}


def test_without_the_token_nothing_is_served(lab: tuple[str, str]) -> None:
    base, _ = lab
    response = httpx.get(f"{base}/api/contents/recommendation_performance.py")
    assert response.status_code == 403


def test_the_notebooks_role_reads_the_marts_and_nothing_else(database_url: str) -> None:
    url = Settings(database_url=database_url).analyst_database_url
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("analyst",)
        conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts'")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM app.users")
