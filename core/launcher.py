"""``make run``: bring the whole platform up on this machine, and down again on Ctrl-C or TERM.

Starts (or reuses) PostgreSQL, applies migrations, generates a landing zone when there is none,
prepares the dbt manifest, materialises the asset graph once, then serves the API, the Dagster UI
and the MLflow UI until interrupted.

Stopping works the same at any moment of start-up or service, on SIGINT or SIGTERM, once or
twice: a signal only records the request (it never raises in the middle of a step or of the
shutdown); the launcher then stops every process it started, with their whole trees (each runs
in a session of its own, so a terminal's Ctrl-C reaches none of them directly and nothing is
left half-signalled), gives them a few seconds, kills what remains, and stops PostgreSQL last.
A second signal skips the grace period.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import FrameType

import psutil

from core import migrate, pgserver
from core.db import ensure_databases
from core.settings import REPO_ROOT, Settings, get_settings

BIN = Path(sys.executable).parent
# Seconds the services get to exit on their own before they are killed.
GRACE_SECONDS = 5.0
# Seconds PostgreSQL gets for a fast shutdown before an immediate one.
PG_STOP_SECONDS = 10.0
_POLL_SECONDS = 0.2


class StopRequested(Exception):
    """A stop signal arrived during start-up: the launcher unwinds to its shutdown."""


class Stopper:
    """Records SIGINT/SIGTERM as a request to stop; counts them so a second one hurries."""

    def __init__(self) -> None:
        self.signals = 0

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._record)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        name = signal.Signals(signum).name
        message = "stopping..." if self.signals == 1 else "stopping now (killing what remains)"
        # os.write: print() is not safe to re-enter from a handler that interrupts a print.
        os.write(sys.stdout.fileno(), f"\n{name}: {message}\n".encode())

    @property
    def stopping(self) -> bool:
        return self.signals > 0

    @property
    def hurried(self) -> bool:
        return self.signals > 1

    def check(self) -> None:
        """Unwind start-up when a stop was requested."""
        if self.stopping:
            raise StopRequested


def _step(title: str) -> None:
    print(f"==> {title}", flush=True)


def _spawn(args: list[str], env: dict[str, str], log: Path | None) -> subprocess.Popen[bytes]:
    """Start a child in a session of its own (its tree is then stopped as one group)."""
    handle = log.open("ab") if log is not None else None
    return subprocess.Popen(  # noqa: S603 - our own commands
        args,
        cwd=REPO_ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT if handle is not None else None,
        start_new_session=True,
    )


def _run(
    args: list[str],
    env: dict[str, str],
    children: list[subprocess.Popen[bytes]],
    stopper: Stopper,
) -> None:
    """Run a start-up step to its end, or until a stop is requested."""
    child = _spawn(args, env, log=None)
    children.append(child)
    while child.poll() is None:
        stopper.check()
        time.sleep(_POLL_SECONDS)
    stopper.check()
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, args)


def _tree(children: list[subprocess.Popen[bytes]]) -> list[psutil.Process]:
    """Every live process the children started, themselves included."""
    found: list[psutil.Process] = []
    for child in children:
        try:
            process = psutil.Process(child.pid)
            found.extend([process, *process.children(recursive=True)])
        except psutil.NoSuchProcess:
            continue
    return found


def _signal_groups(children: list[subprocess.Popen[bytes]], signum: int) -> None:
    for child in children:
        try:
            os.killpg(child.pid, signum)
        except (ProcessLookupError, PermissionError):
            continue


def stop_processes(
    children: list[subprocess.Popen[bytes]], grace: float, hurried: Callable[[], bool]
) -> None:
    """Stop the children and everything they started: TERM, up to ``grace`` seconds (less when
    ``hurried`` turns true), then KILL; their exit statuses are collected."""
    processes = _tree(children)
    _signal_groups(children, signal.SIGTERM)
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    deadline = time.monotonic() + grace
    alive = processes
    while alive and time.monotonic() < deadline and not hurried():
        _, alive = psutil.wait_procs(alive, timeout=_POLL_SECONDS)
    # Processes started during the grace period (a worker respawned) are caught here too.
    remaining = {p.pid: p for p in [*alive, *_tree(children)]}.values()
    _signal_groups(children, signal.SIGKILL)
    for process in remaining:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(list(remaining), timeout=5)
    for child in children:
        try:
            child.wait(timeout=1)
        except subprocess.TimeoutExpired:
            continue


def partition_start(settings: Settings, landed_days: list[date]) -> dict[str, str]:
    """Environment that starts the daily partitions on the first landed day, unless the start
    date is configured (then it wins)."""
    if "interactions_start_date" in settings.model_fields_set or not landed_days:
        return {}
    return {"INTERACTIONS_START_DATE": landed_days[0].isoformat()}


def _services(args: argparse.Namespace, settings: Settings) -> dict[str, tuple[list[str], str]]:
    """Command line and log file of each long-running service."""
    return {
        "api": (
            [
                str(BIN / "uvicorn"),
                "serving.app:app",
                "--no-access-log",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.api_port),
            ],
            "api.log",
        ),
        "dagster": (
            [
                str(BIN / "dagster"),
                "dev",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(args.dagster_port),
            ],
            "dagster.log",
        ),
        "mlflow": (
            [
                str(BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.mlflow_port),
                "--backend-store-uri",
                settings.mlflow_uri,
                "--default-artifact-root",
                settings.mlflow_artifacts.resolve().as_uri(),
                "--workers",
                "1",
            ],
            "mlflow.log",
        ),
    }


def _wait_http(url: str, timeout: float, stopper: Stopper) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stopper.check()
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _start(
    args: argparse.Namespace,
    settings: Settings,
    children: list[subprocess.Popen[bytes]],
    stopper: Stopper,
) -> int:
    """Start-up, then service until a stop is requested or a service dies; the exit code."""
    from pipelines.ingest import landing

    env = {
        **os.environ,
        "DAGSTER_HOME": str(settings.dagster_home_dir),
        "MLFLOW_UI_URL": f"http://127.0.0.1:{args.mlflow_port}",
        "PYTHONUNBUFFERED": "1",
    }
    python = str(BIN / "python")
    began = time.perf_counter()
    _step("PostgreSQL")
    if settings.uses_embedded_postgres:
        pgserver.start(settings.pg_dir, settings.embedded_pg_port)
    stopper.check()
    ensure_databases(settings)
    migrate.apply()
    stopper.check()

    if not landing.interaction_days(settings.landing_dir):
        _step(f"generating a {args.size} data set into {settings.landing_dir}")
        generate = ["-m", "pipelines.synthetic", "--out", str(settings.landing_dir)]
        _run([python, *generate, "--size", args.size], env, children, stopper)
    env.update(partition_start(settings, landing.interaction_days(settings.landing_dir)))
    _step("preparing the dbt manifest")
    _run([python, "-m", "pipelines.transform.project"], env, children, stopper)
    _step("materialising the asset graph (ingest, checks, dbt, training, scoring)")
    _run([python, "-m", "pipelines.bootstrap"], env, children, stopper)

    _step("starting the API, the Dagster UI and the MLflow UI")
    settings.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    for command, log in _services(args, settings).values():
        children.append(_spawn(command, env, settings.logs_dir / log))
    urls = {
        "API": f"http://127.0.0.1:{args.api_port}/docs",
        "Dagster UI": f"http://127.0.0.1:{args.dagster_port}",
        "MLflow UI": f"http://127.0.0.1:{args.mlflow_port}",
    }
    for name, url in urls.items():
        ready = _wait_http(url, timeout=90, stopper=stopper)
        print(f"  {name:<11} {url}{'' if ready else '  (not answering yet, see data/logs)'}")
    print(
        f"ready in {time.perf_counter() - began:.0f} s; logs in {settings.logs_dir}; "
        "Ctrl-C stops all",
        flush=True,
    )
    from serving.demo import demo_login_text

    demo = demo_login_text(settings, args.api_port)  # the embedded default only
    if demo:
        print(demo, flush=True)
    services = children[-len(urls) :]
    while all(child.poll() is None for child in services):
        stopper.check()
        time.sleep(_POLL_SECONDS)
    failed = [c.args[0] for c in services if c.poll() is not None]
    print(f"a service exited unexpectedly: {failed}; see {settings.logs_dir}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole platform locally.")
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--size", default="small", help="generated data set: small|medium|large")
    args = parser.parse_args(argv)

    settings = get_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    stopper = Stopper()
    stopper.install()
    children: list[subprocess.Popen[bytes]] = []
    code = 0
    try:
        code = _start(args, settings, children, stopper)
    except StopRequested:
        code = 0
    except subprocess.CalledProcessError as exc:
        print(f"step failed: {' '.join(map(str, exc.cmd))}", file=sys.stderr)
        code = 1
    except Exception:
        # A step interrupted by the stop (a killed pg_ctl, a closed connection) is no error.
        if not stopper.stopping:
            raise
    finally:
        stop_processes(children, GRACE_SECONDS, lambda: stopper.hurried)
        if settings.uses_embedded_postgres:
            pgserver.stop(settings.pg_dir, timeout=0 if stopper.hurried else PG_STOP_SECONDS)
        # Everything is down: a signal from now on (make forwarding one late) changes nothing.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        print("stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
