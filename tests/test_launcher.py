"""``make run`` stops: SIGINT or SIGTERM, once or twice, at several moments, leaves nothing behind.

Each case starts the real launcher (``python -m core.launcher``) on free ports against a data
folder of its own, with a tiny landing zone already generated, signals it at one moment, and then
checks that it exited cleanly, that no process started with that data folder remains (the
launcher's children and theirs, PostgreSQL included) and that PostgreSQL is stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.settings import REPO_ROOT
from tests.ports import free_port

pytestmark = pytest.mark.integration

# The launcher and everything it started must be gone this soon after the signal (it needs a
# few seconds; the margin is for a busy machine).
STOP_SECONDS = 30
# Every variable the test session points elsewhere: the launcher must use its own data folder.
_SESSION_VARIABLES = (
    "DATABASE_URL",
    "EMBEDDED_PG_DIR",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ARTIFACTS_DIR",
    "DAGSTER_HOME",
)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """A data folder with a tiny landing zone (PostgreSQL is initialised there on first use).

    Not under pytest's temporary folder: every pytest session (of anyone on the machine) makes
    that folder private again, which would lock out PostgreSQL's own system user.
    """
    folder = Path(tempfile.mkdtemp(prefix="events-platform-launcher-"))
    root = folder / "data"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.synthetic",
            "--out",
            str(root / "landing"),
            "--users",
            "60",
            "--events",
            "30",
            "--interactions",
            "600",
            "--days",
            "3",
            "--quiet",
        ],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    yield root
    shutil.rmtree(folder, ignore_errors=True)


class Launcher:
    """The launcher as a process, its output collected line by line."""

    def __init__(self, data_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _SESSION_VARIABLES}
        env.update({"DATA_DIR": str(data_dir), "EMBEDDED_PG_PORT": str(free_port())})
        ports = [str(free_port()) for _ in range(3)]
        self.data_dir = data_dir
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "core.launcher",
                "--api-port",
                ports[0],
                "--dagster-port",
                ports[1],
                "--mlflow-port",
                ports[2],
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.api = f"http://127.0.0.1:{ports[0]}"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "\n".join(self.lines)
            time.sleep(0.1)

    def signal(self, signum: int, times: int = 1) -> None:
        for _ in range(times):
            self.process.send_signal(signum)
            time.sleep(0.3)

    def stopped(self) -> int:
        """Wait for the launcher to exit; its exit code."""
        code = self.process.wait(timeout=STOP_SECONDS)
        self._reader.join(timeout=5)
        return code


def _leftovers(data_dir: Path) -> list[str]:
    """Processes whose environment names this data folder: what the launcher started."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.environ().get("DATA_DIR") == str(data_dir):
                found.append(f"{process.pid} {' '.join(process.info['cmdline'] or [])}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def launcher(data_dir: Path) -> Iterator[Launcher]:
    started = Launcher(data_dir)
    yield started
    if started.process.poll() is None:
        os.killpg(started.process.pid, signal.SIGKILL)
        started.process.wait()


def _assert_all_stopped(launcher: Launcher) -> None:
    from core import pgserver

    code = launcher.stopped()
    output = "\n".join(launcher.lines)
    assert code == 0, output
    assert launcher.lines[-1] == "stopped", output
    assert "Traceback" not in output
    assert _leftovers(launcher.data_dir) == []
    assert not pgserver.is_running(launcher.data_dir / "pg")


@pytest.mark.parametrize(
    ("moment", "signum", "times"),
    [
        ("==> PostgreSQL", signal.SIGTERM, 1),  # PostgreSQL is starting
        ("==> preparing the dbt manifest", signal.SIGINT, 2),  # a step's process is running
    ],
)
def test_a_signal_during_start_up_stops_everything(
    launcher: Launcher, moment: str, signum: int, times: int
) -> None:
    launcher.wait_for(moment, timeout=120)
    launcher.signal(signum, times)
    _assert_all_stopped(launcher)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "times"), [(signal.SIGTERM, 2), (signal.SIGINT, 1)])
def test_a_signal_while_the_graph_materialises_stops_everything(
    launcher: Launcher, signum: int, times: int
) -> None:
    launcher.wait_for("==> materialising the asset graph", timeout=300)
    time.sleep(5)  # the run is under way: Dagster, dbt and their children are running
    launcher.signal(signum, times)
    _assert_all_stopped(launcher)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("moment", "signum", "times"),
    [
        ("api", signal.SIGINT, 1),  # the UIs are still starting
        ("ready in", signal.SIGTERM, 2),
        ("ready in", signal.SIGINT, 1),
    ],
)
def test_a_signal_while_serving_stops_everything(
    launcher: Launcher, moment: str, signum: int, times: int
) -> None:
    import httpx

    if moment == "api":
        launcher.wait_for("==> starting the API", timeout=900)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{launcher.api}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "\n".join(launcher.lines)
            time.sleep(0.2)
    else:
        launcher.wait_for(moment, timeout=900)
    launcher.signal(signum, times)
    _assert_all_stopped(launcher)


def test_partitions_start_on_the_first_landed_day_unless_configured() -> None:
    from datetime import date

    from core.launcher import partition_start
    from core.settings import Settings

    days = [date(2026, 3, 2), date(2026, 3, 3)]
    assert partition_start(Settings(), days) == {"INTERACTIONS_START_DATE": "2026-03-02"}
    assert partition_start(Settings(), []) == {}
    configured = Settings(interactions_start_date=date(2026, 1, 1))
    assert partition_start(configured, days) == {}
