"""JupyterLab for analysts on ``notebooks/``: ``make notebooks``.

The notebooks are jupytext percent-format ``.py`` files; JupyterLab here opens them as
notebooks (jupytext's viewer is made the default for Python files) and their kernels connect as
the read-only ``analyst`` role to the marts of the platform ``make run`` serves (or the one
``DATABASE_URL`` names). The server listens on loopback only and asks for the token it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.settings import REPO_ROOT, get_settings

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
# JupyterLab's document manager: which viewer opens a file type on a double click.
DOCMANAGER_SETTINGS = Path("@jupyterlab", "docmanager-extension", "plugin.jupyterlab-settings")


def write_lab_settings(settings_dir: Path) -> Path:
    """JupyterLab user settings under ``settings_dir`` that open ``.py`` files as notebooks."""
    path = settings_dir / DOCMANAGER_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"defaultViewers": {"python": "Jupytext Notebook"}}, indent=2))
    return path


def lab_command(port: int, root: Path = NOTEBOOKS_DIR) -> list[str]:
    """The ``jupyter lab`` command line: loopback only, no browser, rooted at ``root``."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.root_dir={root}",
    ]
    # Containers and CI machines often run everything as root; Jupyter refuses that unless told.
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


def lab_environment(state_dir: Path) -> dict[str, str]:
    """The server's environment: its own settings and runtime folders under ``state_dir``, and
    the repository on the kernels' import path (the notebooks import ``core.settings``)."""
    settings_dir = state_dir / "lab-settings"
    write_lab_settings(settings_dir)
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"),
        "PYTHONPATH": python_path,
    }


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=settings.notebook_port)
    args = parser.parse_args(argv)
    env = lab_environment(settings.data_dir / "jupyter")
    print(
        f"JupyterLab on http://127.0.0.1:{args.port}/lab; the notebooks read the marts as the "
        "analyst role",
        flush=True,
    )
    command = lab_command(args.port)
    # The server replaces this process, so Ctrl-C and TERM reach it directly.
    os.execve(command[0], command, env)  # noqa: S606 - a fixed argument list, no shell


if __name__ == "__main__":
    sys.exit(main())
