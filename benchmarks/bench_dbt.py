"""dbt at the medium size: a full ``dbt build``, then the daily run of one newly landed day.

A private embedded PostgreSQL (a temporary folder and a free port; never the project's server)
gets the synthetic world of ``--size``: users, events and registrations in ``raw.*``, and every
day of interactions but the last ``--days`` in ``raw.interactions`` (one partition per day). The
benchmark then times

* a full build, ``dbt build --full-refresh`` (seeds, models and data tests), ``--full-builds``
  times;
* the daily run of each held-back day, landed one after the other (its interactions and
  registrations COPY'd in): exactly what the Dagster assets run for one new daily partition,
  ``dbt build --select fct_interactions --vars '{interactions_from: D, interactions_to: D+1}'``
  then ``dbt build --select path:models/marts --exclude fct_interactions``, both with
  ``--indirect-selection buildable``;

and prints each time and the medians. Wall times include dbt's start-up (parsing is done once
before, as the Dagster code location does with its prepared manifest).

Run: ``.venv/bin/python benchmarks/bench_dbt.py [--size medium] [--days 3] [--full-builds 3]``.
``--pgdata DIR`` keeps the loaded server in DIR for the next run (the held-back days are removed
again before the first build).
"""

from __future__ import annotations

import argparse
import json
import os
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
def private_database(pgdata: Path | None) -> Iterator[str]:
    """A private embedded PostgreSQL on a free port; yields the application database URL."""
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
        yield url
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


def dbt(url: str, *args: str, target: Path, project: Path = PROJECT_DIR) -> float:
    """Run dbt against ``url``; the wall time in seconds (raises with dbt's output on failure)."""
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
        str(target / "logs"),
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def daily_run(url: str, day: date, target: Path, project: Path) -> tuple[float, float]:
    """The two dbt invocations of one new daily partition; their wall times."""
    variables = json.dumps(
        {"interactions_from": day.isoformat(), "interactions_to": (day + timedelta(1)).isoformat()}
    )
    fact = dbt(
        url,
        *BUILD_ARGS,
        "--select",
        "fct_interactions",
        "--vars",
        variables,
        target=target,
        project=project,
    )
    marts = dbt(
        url,
        *BUILD_ARGS,
        "--select",
        "path:models/marts",
        "--exclude",
        "fct_interactions",
        target=target,
        project=project,
    )
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
        with private_database(args.pgdata) as url:
            held = load_base(url, args.size, args.days)
            with psycopg.connect(url) as conn:
                base_rows = conn.execute("SELECT count(*) FROM raw.interactions").fetchone()[0]
            dbt(url, "parse", target=target, project=args.project_dir)
            print(f"raw.interactions: {base_rows:,} rows; load average {load_average()}")

            full = []
            for run in range(args.full_builds):
                full.append(
                    dbt(url, "build", "--full-refresh", target=target, project=args.project_dir)
                )
                print(f"full build {run + 1}: {full[-1]:6.1f} s   (load {load_average()})")

            daily = []
            for day, interactions, registrations in held:
                land(url, interactions, registrations)
                fact, marts = daily_run(url, day, target, args.project_dir)
                daily.append((fact, marts))
                print(
                    f"daily run {day} ({interactions.height:,} interactions): "
                    f"fct_interactions {fact:5.1f} s + marts {marts:5.1f} s = "
                    f"{fact + marts:5.1f} s   (load {load_average()})"
                )

            print()
            if full:
                print(f"full build, median of {len(full)}: {statistics.median(full):6.1f} s")
            if daily:
                totals = [fact + marts for fact, marts in daily]
                print(
                    f"daily run, median of {len(daily)}: {statistics.median(totals):6.1f} s"
                    f" (fct_interactions {statistics.median(f for f, _ in daily):.1f} s,"
                    f" marts {statistics.median(m for _, m in daily):.1f} s)"
                )
    finally:
        if args.dbt_target is None:
            shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()
