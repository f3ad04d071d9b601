"""``make run``: bring the whole platform up on this machine, and down again on Ctrl-C.

Starts (or reuses) PostgreSQL, applies migrations, generates a landing zone when there is none,
prepares the dbt manifest, materialises the asset graph once, then serves the API, the Dagster UI
and the MLflow UI until interrupted. Children run in their own process groups so that stopping
reaches every grandchild (``dagster dev`` spawns several), and PostgreSQL is stopped last.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import migrate, pgserver
from core.db import ensure_databases
from core.settings import REPO_ROOT, get_settings

BIN = Path(sys.executable).parent


def _step(title: str) -> float:
    print(f"==> {title}", flush=True)
    return time.perf_counter()


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, cwd=REPO_ROOT, env=env, check=True)  # noqa: S603 - our own commands


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(  # noqa: S603 - our own commands
        args,
        cwd=REPO_ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _wait_http(url: str, timeout: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole platform locally.")
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--size", default="small", help="generated data set: small|medium|large")
    args = parser.parse_args(argv)

    settings = get_settings()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(settings.dagster_home_dir),
        "MLFLOW_UI_URL": f"http://127.0.0.1:{args.mlflow_port}",
        "PYTHONUNBUFFERED": "1",
    }
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    children: list[subprocess.Popen[bytes]] = []

    def request_stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        _step("PostgreSQL")
        if settings.uses_embedded_postgres:
            pgserver.start(settings.pg_dir, settings.embedded_pg_port)
        ensure_databases(settings)
        migrate.apply()

        if not any((settings.landing_dir / "interactions").glob("date=*")):
            _step(f"generating a {args.size} data set into {settings.landing_dir}")
            _run(
                [
                    str(BIN / "python"),
                    "-m",
                    "pipelines.synthetic",
                    "--out",
                    str(settings.landing_dir),
                    "--size",
                    args.size,
                ],
                env,
            )
        _step("preparing the dbt manifest")
        _run([str(BIN / "python"), "-m", "pipelines.transform.project"], env)
        _step("materialising the asset graph (ingest, checks, dbt, training, scoring)")
        _run([str(BIN / "python"), "-m", "pipelines.bootstrap"], env)

        _step("starting the API, the Dagster UI and the MLflow UI")
        settings.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
        children.append(
            _spawn(
                [
                    str(BIN / "uvicorn"),
                    "serving.app:app",
                    "--no-access-log",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(args.api_port),
                ],
                env,
                logs / "api.log",
            )
        )
        children.append(
            _spawn(
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
                env,
                logs / "dagster.log",
            )
        )
        children.append(
            _spawn(
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
                env,
                logs / "mlflow.log",
            )
        )
        urls = {
            "API": f"http://127.0.0.1:{args.api_port}/docs",
            "Dagster UI": f"http://127.0.0.1:{args.dagster_port}",
            "MLflow UI": f"http://127.0.0.1:{args.mlflow_port}",
        }
        for name, url in urls.items():
            ready = _wait_http(url, timeout=90)
            print(f"  {name:<11} {url}{'' if ready else '  (not answering yet, see data/logs)'}")
        print(f"ready in {time.perf_counter() - began:.0f} s; logs in {logs}; Ctrl-C stops all")
        from serving.demo import demo_login_text

        demo = demo_login_text(settings, args.api_port)  # the embedded default only
        if demo:
            print(demo, flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(1)
        failed = [c.args[0] for c in children if c.poll() is not None]
        print(f"a service exited unexpectedly: {failed}; see {logs}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"step failed: {' '.join(map(str, exc.cmd))}", file=sys.stderr)
        return 1
    finally:
        _stop(children)
        if settings.uses_embedded_postgres:
            pgserver.stop(settings.pg_dir)
        print("stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
