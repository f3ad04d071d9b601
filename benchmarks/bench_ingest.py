"""Ingest throughput: one day of interactions from JSON Lines into ``raw.interactions``.

Compares, in the same run and against the same PostgreSQL, the platform's whole load of a day
(read the landed files, validate every row, quarantine, de-duplicate, COPY, swap the partition in)
with a plain ``COPY`` of the same rows, already rendered as CSV, into a table of the same shape.
Issue 5 asks for at least half the plain COPY rate.

What each side does, so that the ratio is read for what it is:

- The plain COPY is an ordinary text (CSV) ``COPY`` into a table created, empty and without
  indexes, in an earlier transaction; only the COPY and its commit are timed. It writes WAL for
  every row whatever the server's ``wal_level``.
- The platform's load is timed from the landed files to the committed swap. It builds the day's
  partition in its own transaction: a binary ``COPY ... FREEZE`` into a table created in that
  transaction, which PostgreSQL writes without WAL under ``wal_level=minimal`` (the embedded
  server's setting, see ``core/pgserver.py``), then the primary key and the attach. On a server
  with ``wal_level=replica`` (any server with replicas) that WAL saving does not apply.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--rows 5000000] [--repeats 3]
[--format jsonl|parquet]``. It uses the database of the settings (``DATABASE_URL``, or the
embedded server, started if needed) and a temporary landing zone; the benchmark's tables are
dropped at the end. ``--format parquet`` rewrites the generated day as Parquet files first.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    args = parser.parse_args()

    # A landing zone of this run only, on the usual server; set before the settings are read.
    repo_data = Path(__file__).resolve().parent.parent / "data"
    os.environ.setdefault("EMBEDDED_PG_DIR", str(repo_data / "pg"))
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-ingest-")

    import dagster as dg
    import polars as pl
    from psycopg import sql

    from core import migrate, pgserver
    from core.db import connect, ensure_databases
    from core.settings import get_settings
    from pipelines.ingest import assets, landing
    from pipelines.kernel.copy import to_copy_frame
    from pipelines.synthetic import GenerationSpec, generate

    settings = get_settings()
    if settings.uses_embedded_postgres:
        pgserver.start(settings.pg_dir, settings.embedded_pg_port)
    ensure_databases(settings)
    migrate.apply()

    now = datetime(2026, 1, 2, tzinfo=UTC)
    spec = GenerationSpec(
        users=args.users, events=args.events, interactions=args.rows, days=1, now=now
    )
    generate(settings.landing_dir, spec)
    assert dg.materialize([assets.raw_users, assets.raw_events]).success
    day = landing.interaction_days(settings.landing_dir)[-1]
    files = landing.interaction_files(settings.landing_dir, day)
    if args.format == "parquet":
        for path in files:
            pl.read_ndjson(path).write_parquet(path.with_suffix(".parquet"))
            path.unlink()
        files = sorted(files[0].parent.glob("*.parquet"))
    known = {
        "user_id": assets.known_ids("users", "user_id"),
        "event_id": assets.known_ids("events", "event_id"),
    }

    ours, plain = [], []
    rows = 0
    for repeat in range(args.repeats):
        started = time.perf_counter()
        batch, _ = assets.load_interaction_days([day], "bench", known)
        ours.append(time.perf_counter() - started)
        rows = batch.good.height

        frame = batch.good.select(
            "interaction_id",
            "user_id",
            "event_id",
            "type",
            pl.col("timestamp").alias("occurred_at"),
            "source",
            "context",
            "model_version",
            "_source_file",
        )
        target = sql.Identifier("raw", "bench_plain_copy")
        with connect() as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE raw.interactions INCLUDING DEFAULTS)").format(target)
            )
        with connect() as conn:
            # Only the COPY is timed: the rows are rendered to CSV before the clock starts.
            payload = (
                to_copy_frame(frame)
                .write_csv(
                    include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z", null_value=""
                )
                .encode()
            )
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL '')").format(
                target, columns
            )
            started = time.perf_counter()
            with conn.cursor() as cursor, cursor.copy(statement) as copy:
                for start in range(0, len(payload), 8 << 20):
                    copy.write(payload[start : start + (8 << 20)])
            conn.commit()
            plain.append(time.perf_counter() - started)
            conn.execute(sql.SQL("DROP TABLE {}").format(target))
        print(
            f"repeat {repeat + 1}: platform load {ours[-1]:.2f}s, plain COPY {plain[-1]:.2f}s, "
            f"ratio {plain[-1] / ours[-1]:.2f}",
            flush=True,
        )

    ours_rate = rows / statistics.median(ours)
    plain_rate = rows / statistics.median(plain)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print("\n| rows | files (MB) | platform load (median) | plain COPY (median) | ratio |")
    print("|---|---|---|---|---|")
    print(
        f"| {rows:,} | {len(files)} {args.format} ({size_mb:.0f}) | {statistics.median(ours):.2f}s "
        f"({ours_rate:,.0f} rows/s) | {statistics.median(plain):.2f}s ({plain_rate:,.0f} rows/s) "
        f"| {ours_rate / plain_rate:.2f} |"
    )
    # Peak resident memory of the whole run: the platform load, and the plain COPY's payload.
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB")
    with connect() as conn:
        conn.execute("TRUNCATE raw.interactions, raw.quarantine, raw.landed_files")
    shutil.rmtree(settings.data_dir, ignore_errors=True)  # this run's temporary landing zone


if __name__ == "__main__":
    main()
