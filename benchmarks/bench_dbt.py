"""dbt at the medium size: a full ``dbt build``, then the daily run of one newly landed day.

A private embedded PostgreSQL (a temporary folder and a free port; never the project's server)
gets the synthetic world of ``--size``: users, events and registrations in ``raw.*``, and every
day of interactions but the last ``--days`` in ``raw.interactions`` (one partition per day). The
benchmark then times

* a full build, ``dbt build --full-refresh`` (seeds, models and data tests), ``--full-builds``
  times;
* the daily run of each held-back day, landed one after the other (its interactions and
  registrations COPY'd in): exactly what the Dagster assets run for one new daily partition,
  ``dbt build --select fct_interactions`` with the day in ``DBT_INTERACTIONS_FROM`` and
  ``DBT_INTERACTIONS_TO``, then ``dbt build --select path:models/marts --exclude
  fct_interactions``, both with ``--indirect-selection buildable``;

and prints each time and the medians. Wall times include dbt's start-up. Each run's CPU time
is printed beside it (dbt's process plus the server processes that ended with its connections):
it grows much less than the wall time when other work shares the machine. As in the Dagster code
location, the project is parsed once before (``dbt parse``, like ``make manifest``), and every
dbt run gets a fresh target folder and starts from that saved parse
(``DBT_PARTIAL_PARSE_FILE_PATH``).

Run: ``.venv/bin/python benchmarks/bench_dbt.py [--size medium] [--days 3] [--full-builds 3]``.
``--pgdata DIR`` keeps the loaded server in DIR for the next run (the held-back days are removed
again before the first build).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
HOST = "127.0.0.1"
BUILD_ARGS = ("build", "--indirect-selection", "buildable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def private_database(pgdata: Path | None) -> Iterator[tuple[str, Path]]:
    """A private embedded PostgreSQL on a free port; yields the application database URL and
    the server's data folder."""
    from core import migrate, pgserver

    temporary = pgdata is None
    root = Path(tempfile.mkdtemp(prefix="bench-dbt-")) if temporary else pgdata.resolve()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pgserver.start(root / "pg", port)
    try:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@{HOST}:{port}/postgres", autocommit=True) as c:
            if not c.execute("SELECT 1 FROM pg_database WHERE datname = 'events'").fetchone():
                c.execute("CREATE DATABASE events")
        url = f"postgresql://postgres@{HOST}:{port}/events"
        migrate.apply(url)
        yield url, root / "pg"
    finally:
        pgserver.stop(root / "pg")
        if temporary:
            shutil.rmtree(root, ignore_errors=True)


def world(size: str):
    """The synthetic world: users, events, interactions (as raw.interactions rows) and the
    registrations their ``register``/``attend`` interactions imply."""
    import polars as pl

    from pipelines.synthetic import GenerationSpec, make_events, make_interactions, make_users

    spec = GenerationSpec.of_size(size)
    users = make_users(spec).with_columns(pl.lit("users/users.csv").alias("_source"))
    events = make_events(spec).with_columns(pl.lit("events/events.csv").alias("_source"))
    interactions = make_interactions(spec).select(
        "interaction_id",
        "user_id",
        "event_id",
        "type",
        pl.col("timestamp").alias("occurred_at"),
        "source",
        "context",
        "model_version",
        pl.format("interactions/date={}/part-0.jsonl", pl.col("timestamp").dt.date()).alias(
            "_source_file"
        ),
    )
    # One registration per registered pair, attended when the pair has an attend interaction.
    registrations = (
        interactions.filter(pl.col("type").is_in(["register", "attend"]))
        .group_by("user_id", "event_id")
        .agg(
            pl.col("occurred_at").filter(pl.col("type") == "register").min().alias("created_at"),
            pl.col("occurred_at").max().alias("updated_at"),
            (pl.col("type") == "attend").any().alias("attended"),
        )
        .filter(pl.col("created_at").is_not_null())
        .sort("created_at", "user_id", "event_id")
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("registration_id"),
            pl.when(pl.col("attended"))
            .then(pl.lit("attended"))
            .otherwise(pl.lit("confirmed"))
            .alias("status"),
        )
        .select("registration_id", "user_id", "event_id", "status", "created_at", "updated_at")
    )
    return users, events, interactions, registrations


def land(url: str, interactions, registrations) -> None:
    """COPY interactions (into their day partitions, created first) and registrations into raw."""
    import polars as pl
    import psycopg
    from psycopg import sql

    from pipelines.ingest.loading import copy_binary, copy_into, ensure_interactions_partitions

    days = interactions.select(pl.col("occurred_at").dt.date().unique().sort()).to_series()
    with psycopg.connect(url) as conn:
        ensure_interactions_partitions(conn, list(days))
        copy_binary(conn, sql.Identifier("raw", "interactions"), interactions, jsonb=("context",))
        copy_into(conn, sql.Identifier("raw", "registrations"), registrations)


def load_base(url: str, size: str, days: int):
    """Load the world but its last ``days`` days into an empty raw.*; returns the held-back days
    as (day, interactions, registrations). A database loaded before only loses those days."""
    import polars as pl
    import psycopg
    from psycopg import sql

    from pipelines.ingest.loading import copy_into, partition_name

    started = time.monotonic()
    users, events, interactions, registrations = world(size)
    last = interactions["occurred_at"].max().date()
    held = [last - timedelta(days=k) for k in reversed(range(days))]
    day_of = pl.col("occurred_at").dt.date()
    created_day = pl.col("created_at").dt.date()
    print(f"generated {interactions.height:,} interactions in {time.monotonic() - started:.0f} s")

    with psycopg.connect(url) as conn:
        loaded = conn.execute("SELECT EXISTS (SELECT 1 FROM raw.users)").fetchone()[0]
        for day in held:
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier("raw", partition_name(day))
                )
            )
        conn.execute("DELETE FROM raw.registrations WHERE created_at >= %s", (held[0],))
    if not loaded:
        started = time.monotonic()
        with psycopg.connect(url) as conn:
            copy_into(conn, sql.Identifier("raw", "users"), users)
            copy_into(conn, sql.Identifier("raw", "events"), events)
        land(
            url,
            interactions.filter(day_of < held[0]),
            registrations.filter(created_day < held[0]),
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        print(f"loaded raw.* in {time.monotonic() - started:.0f} s")
    return [
        (
            day,
            interactions.filter(day_of == day),
            registrations.filter(created_day == day),
        )
        for day in held
    ]


def dbt(
    url: str,
    *args: str,
    target: Path,
    project: Path = PROJECT_DIR,
    env: dict[str, str] | None = None,
) -> float:
    """Run dbt against ``url`` with its target and logs in ``target``, ``env`` added to its
    environment; the wall time in seconds (raises with dbt's output on failure)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    env = {
        **os.environ,
        "DBT_PG_HOST": parts.hostname or HOST,
        "DBT_PG_PORT": str(parts.port),
        "DBT_PG_USER": parts.username or "postgres",
        "DBT_PG_PASSWORD": "",
        "DBT_PG_DBNAME": parts.path.lstrip("/"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(env or {}),
    }
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target),
        "--log-path",
        str(target),
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def cpu_seconds(pgdata: Path) -> float:
    """CPU time used so far by this process's ended children (dbt) and by the ended processes
    of the server in ``pgdata`` (a connection's backend and its parallel workers, but also any
    autovacuum worker that ended meanwhile), from /proc."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    postmaster = (pgdata / "postmaster.pid").read_text().split()[0]
    # Fields 16 and 17 of /proc/PID/stat: CPU ticks of the children it waited for.
    stat = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(stat[13]) + int(stat[14])
    return children.ru_utime + children.ru_stime + ticks / os.sysconf("SC_CLK_TCK")


class Runs:
    """dbt runs as the Dagster code location makes them: each in a fresh target folder under
    ``root``, starting from the parse saved by ``prepare``."""

    def __init__(self, url: str, pgdata: Path, root: Path, project: Path) -> None:
        self.url, self.pgdata, self.root, self.project = url, pgdata, root, project
        self.prepared = root / "prepared"
        self.numbers = itertools.count(1)

    def prepare(self) -> None:
        dbt(self.url, "parse", target=self.prepared, project=self.project)

    def run(self, *args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
        """One dbt run; its wall time and CPU time in seconds."""
        from pipelines.transform.project import partial_parse_env

        target = self.root / f"run-{next(self.numbers):03d}"
        shutil.rmtree(target, ignore_errors=True)
        env = {**partial_parse_env(self.prepared), **(env or {})}
        cpu = cpu_seconds(self.pgdata)
        wall = dbt(self.url, *args, target=target, project=self.project, env=env)
        # The backends of dbt's connections end just after it: let the server reap them.
        time.sleep(1)
        return wall, cpu_seconds(self.pgdata) - cpu


def daily_run(runs: Runs, day: date) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two dbt invocations of one new daily partition; their wall and CPU times."""
    from pipelines.transform.project import partition_env

    window = partition_env(day.isoformat(), (day + timedelta(1)).isoformat())
    fact = runs.run(*BUILD_ARGS, "--select", "fct_interactions", env=window)
    marts = runs.run(*BUILD_ARGS, "--select", "path:models/marts", "--exclude", "fct_interactions")
    return fact, marts


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--days", type=int, default=3, help="days landed one by one, each timed")
    parser.add_argument("--full-builds", type=int, default=3)
    parser.add_argument("--pgdata", type=Path, help="keep the server's data here between runs")
    parser.add_argument("--dbt-target", type=Path, help="keep dbt's target and logs here")
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="another dbt project to time"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    sys.path.insert(0, str(REPO_ROOT))
    import psycopg

    target = args.dbt_target or Path(tempfile.mkdtemp(prefix="bench-dbt-target-"))
    try:
        with private_database(args.pgdata) as (url, pgdata):
            held = load_base(url, args.size, args.days)
            with psycopg.connect(url) as conn:
                base_rows = conn.execute("SELECT count(*) FROM raw.interactions").fetchone()[0]
            runs = Runs(url, pgdata, target, args.project_dir)
            runs.prepare()
            print(f"raw.interactions: {base_rows:,} rows; load average {load_average()}")

            full = []
            for run in range(args.full_builds):
                wall, cpu = runs.run("build", "--full-refresh")
                full.append((wall, cpu))
                print(
                    f"full build {run + 1}: {wall:6.1f} s (cpu {cpu:5.1f} s)"
                    f"   (load {load_average()})"
                )

            daily = []
            for day, interactions, registrations in held:
                land(url, interactions, registrations)
                (fact, fact_cpu), (marts, marts_cpu) = daily_run(runs, day)
                daily.append((fact, marts, fact_cpu + marts_cpu))
                print(
                    f"daily run {day} ({interactions.height:,} interactions): "
                    f"fct_interactions {fact:5.1f} s + marts {marts:5.1f} s = "
                    f"{fact + marts:5.1f} s (cpu {fact_cpu:.1f} s + {marts_cpu:.1f} s)"
                    f"   (load {load_average()})"
                )

            print()
            if full:
                print(
                    f"full build, median of {len(full)}:"
                    f" {statistics.median(w for w, _ in full):6.1f} s"
                    f" (cpu {statistics.median(c for _, c in full):.1f} s)"
                )
            if daily:
                print(
                    f"daily run, median of {len(daily)}:"
                    f" {statistics.median(f + m for f, m, _ in daily):6.1f} s"
                    f" (fct_interactions {statistics.median(f for f, _, _ in daily):.1f} s,"
                    f" marts {statistics.median(m for _, m, _ in daily):.1f} s;"
                    f" cpu {statistics.median(c for _, _, c in daily):.1f} s)"
                )
    finally:
        if args.dbt_target is None:
            shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()
