"""Versioned schema migrations: ordered SQL files in ``core/migrations``, applied once each.

Each file runs in its own transaction under an advisory lock, so concurrent starters (API, Dagster,
tests) cannot apply the same migration twice. ``python -m core.migrate`` applies what is missing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.db import connect, ensure_databases

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_ID = 7_246_001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations found in ``directory``, by version; files are named ``NNNN_description.sql``."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        found.append(Migration(int(version), name, path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}: {versions}")
    return found


def apply(url: str | None = None) -> list[Migration]:
    """Apply pending migrations to the application database; returns those applied now."""
    applied_now = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS public.schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {row[0] for row in conn.execute("SELECT version FROM public.schema_migrations")}
            for migration in discover():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.path.read_text())
                    conn.execute(
                        "INSERT INTO public.schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now


def main() -> int:
    ensure_databases()
    try:
        applied = apply()
    except psycopg.Error as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "none pending"
    print(f"migrations applied: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
