"""Load test of the serving API: the clients' scenario, then a saturation run.

By default the benchmark starts a private embedded PostgreSQL in a temporary folder on a free port
(never the project's server on 54329), migrates it and seeds the medium serving state with
set-based SQL (``--size``); ``--database env`` targets ``DATABASE_URL`` instead, and
``--pgdata DIR`` keeps a seeded private server between runs. It then starts uvicorn
(``serving.app:app``) on that database and drives it from this separate process over loopback
with a small asyncio HTTP/1.1 client (keep-alive, one connection per virtual user).

1. Scenario (the k6 script of the original platform guide): ``--users`` virtual users, each
   repeatedly listing events (limit 20), searching ``q=tech`` (limit 10) and fetching
   recommendations (limit 5), then pausing 1 s.
2. Saturation: ``--connections`` connections without pauses, alternating short rounds on a
   trivial JSON endpoint of the same app and on recommendations, with the same worker count.

Whose recommendations (``--users-mode``):

* ``distinct`` (the headline): any of all users, drawn at random for every request and asked
  for with one service token, as a client serving real traffic would; almost every answer is a
  miss of the workers' answer cache, so this measures the database path.
* ``cached``: the same 1,000 users and their own tokens over and over; after warm-up almost
  every answer comes from the answer cache.
* ``both``: distinct, then cached, on the same server.
   With ``--load-tool wrk`` (or ``auto`` when ``wrk`` is on PATH) the saturation rounds are
   driven by wrk, whose C client is not the bottleneck the way a Python client can be.

Before measuring, the API's tables and indexes are read into memory (``pg_prewarm``), as on a
server sized for its hot set; ``--no-warm-database`` measures pages read from disk instead. The
application's caches start cold in both cases.

Prints count, errors, requests/s, median, p95 and p99 per endpoint and the saturation ratio.

    python benchmarks/bench_api.py                              # medium, 200 VUs 60 s, 64 conns
    python benchmarks/bench_api.py --users-mode both            # the headline and the cached run
    python benchmarks/bench_api.py --pgdata /tmp/bench-pg       # keep the seeded server
    python benchmarks/bench_api.py --size small --users 20 --duration 5 --saturation-seconds 4
    DATABASE_URL=postgresql://... python benchmarks/bench_api.py --database env --seed-if-empty
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop

if TYPE_CHECKING:
    import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

HOST = "127.0.0.1"


@dataclass
class Stats:
    """Latencies (seconds) and failures of one endpoint."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def add(self, status: int, elapsed: float, body: bytes = b"") -> None:
        self.latencies.append(elapsed)
        if status != 200:
            self.errors += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(f"{status} {body[:200].decode(errors='replace')}")

    def summary(self, seconds: float) -> dict[str, float]:
        values = sorted(self.latencies)
        if not values:
            return {"count": 0, "errors": self.errors, "rps": 0.0}

        def pct(p: float) -> float:
            return values[min(len(values) - 1, int(p * len(values)))] * 1000

        return {
            "count": len(values),
            "errors": self.errors,
            "rps": len(values) / seconds,
            "median_ms": statistics.median(values) * 1000,
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "max_ms": values[-1] * 1000,
        }


class Connection:
    """One keep-alive HTTP/1.1 connection; enough protocol for the API's JSON answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n{extra}\r\n"
        try:
            if self.writer is None:
                await self._open()
            assert self.reader is not None
            assert self.writer is not None
            self.writer.write(request.encode())
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("connection closed")
            status = int(status_line.split()[1])
            length, chunked, close = 0, False, False
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding" and "chunked" in value:
                    chunked = True
                elif name == "connection" and "close" in value.lower():
                    close = True
            body = await self._chunked() if chunked else await self.reader.readexactly(length)
            if close:
                await self.close()
            return status, body
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError) as exc:
            await self.close()
            return 599, str(exc).encode()

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(
    port: int, workers: int, access_log: bool, code_dir: Path = REPO_ROOT
) -> subprocess.Popen:
    """uvicorn in its own process group, so it and its workers stop together; ``code_dir``
    serves another checkout of the project (a before/after comparison on one database)."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "serving.app:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if not access_log:
        config = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-logging-{os.getpid()}.json"
        config.write_text(
            json.dumps(
                {
                    "version": 1,
                    "disable_existing_loggers": False,
                    "loggers": {"serving.access": {"level": "WARNING"}},
                }
            )
        )
        command += ["--log-config", str(config)]
    return subprocess.Popen(
        command,
        cwd=code_dir,
        env={**os.environ, "PYTHONPATH": str(code_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        conn = Connection(port)
        status, _ = await conn.get("/health")
        await conn.close()
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"API not healthy on port {port} (last status {status})")
        await asyncio.sleep(0.2)


def sample_users(count: int) -> list[int]:
    """Users with a precomputed set where there are some, topped up with any known users."""
    import psycopg

    from core.settings import get_settings

    with psycopg.connect(get_settings().app_database_url) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                # Spread over the whole table, so the database cache sees realistic traffic.
                "SELECT user_id FROM serving.user_recommendations WHERE rank = 1"
                " ORDER BY random() LIMIT %s",
                (count,),
            )
        ]
        if len(ids) < count:
            ids += [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM app.users ORDER BY id LIMIT %s", (count - len(ids),)
                )
            ]
    return ids or list(range(1, count + 1))


def tokens_for(users: list[int]) -> dict[int, str]:
    from serving.security import create_access_token

    return {user: create_access_token(user, 1)[0] for user in users}


def all_user_ids() -> list[int]:
    import psycopg

    from core.settings import get_settings

    with psycopg.connect(get_settings().app_database_url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM app.users")]


# A request for recommendations: (path, headers, the bearer token alone for wrk).
RecRequest = tuple[str, dict[str, str], str]


def recommendation_requests(mode: str, count: int, service_token: str) -> list[RecRequest]:
    """``count`` recommendation requests of ``mode`` (see the module docstring), in order."""
    if mode == "cached":
        tokens = tokens_for(sample_users(1000))
        users = list(tokens)
        picks = [(u, tokens[u]) for u in random.Random(1).choices(users, k=count)]
    else:
        users = all_user_ids()
        picks = [(u, service_token) for u in random.Random(1).choices(users, k=count)]
    return [
        (
            f"/api/v1/recommendations/events?user_id={user}&limit=5",
            {"Authorization": f"Bearer {token}"},
            token,
        )
        for user, token in picks
    ]


async def scenario(port: int, users: int, duration: float, recs: list[RecRequest]) -> dict:
    stats = {"list_events": Stats(), "search_tech": Stats(), "recommendations": Stats()}
    deadline = time.monotonic() + duration

    async def virtual_user(n: int) -> None:
        conn = Connection(port)
        rng = random.Random(n)
        await asyncio.sleep(rng.random())  # start like k6 VUs do: not all in the same instant
        while time.monotonic() < deadline:
            rec_path, rec_headers, _ = rng.choice(recs)
            calls = (
                ("list_events", "/api/v1/events?limit=20", None),
                ("search_tech", "/api/v1/search/events?q=tech&limit=10", None),
                ("recommendations", rec_path, rec_headers),
            )
            for name, path, headers in calls:
                started = time.perf_counter()
                status, body = await conn.get(path, headers)
                stats[name].add(status, time.perf_counter() - started, body)
            await asyncio.sleep(1.0)
        await conn.close()

    started = time.monotonic()
    await asyncio.gather(*(virtual_user(n) for n in range(users)))
    elapsed = time.monotonic() - started
    return {name: s.summary(elapsed) | {"samples": s.error_samples} for name, s in stats.items()}


async def saturate(
    port: int, connections: int, seconds: float, paths: list[tuple[str, dict | None]]
) -> dict:
    stats = Stats()
    deadline = time.monotonic() + seconds

    async def loop(n: int) -> None:
        conn = Connection(port)
        rng = random.Random(n)
        while time.monotonic() < deadline:
            path, headers = rng.choice(paths)
            started = time.perf_counter()
            status, body = await conn.get(path, headers)
            stats.add(status, time.perf_counter() - started, body)
        await conn.close()

    started = time.monotonic()
    await asyncio.gather(*(loop(n) for n in range(connections)))
    return stats.summary(time.monotonic() - started) | {
        "samples": stats.error_samples,
        "latencies": stats.latencies,
    }


def merge(runs: list[dict], window: float) -> dict:
    """One summary over several saturation rounds of ``window`` seconds each."""
    stats = Stats()
    for run in runs:
        stats.latencies.extend(run.pop("latencies", []))
        stats.errors += run.get("errors", 0)
        stats.error_samples.extend(run.get("samples", [])[:1])
    return stats.summary(window * len(runs)) | {"samples": stats.error_samples[:3]}


# Sizes of the synthetic serving state. ``medium`` matches the medium data set for what
# the API reads: 100k users, 20k events (a third upcoming), their registrations and interactions,
# 50 precomputed recommendations per user, 20 neighbours per event and popular lists per scope.
SIZES: dict[str, dict[str, int]] = {
    "small": {
        "users": 10_000,
        "events": 2_000,
        "registrations_per_user": 3,
        "interactions": 200_000,
        "feedback": 20_000,
    },
    "medium": {
        "users": 100_000,
        "events": 20_000,
        "registrations_per_user": 4,
        "interactions": 5_000_000,
        "feedback": 200_000,
    },
}
CITIES = [
    "Berlin",
    "Paris",
    "Madrid",
    "Rome",
    "Lisbon",
    "Vienna",
    "Prague",
    "Warsaw",
    "Amsterdam",
    "Brussels",
    "Munich",
    "Hamburg",
    "Milan",
    "Barcelona",
    "Lyon",
    "Zurich",
    "Copenhagen",
    "Stockholm",
    "Oslo",
    "Dublin",
]
CATEGORIES = [
    "tech",
    "music",
    "sports",
    "arts",
    "food",
    "business",
    "health",
    "education",
    "film",
    "community",
]
TITLE_WORDS = [
    "Tech",
    "Jazz",
    "Football",
    "Data",
    "Gallery",
    "Street Food",
    "Startup",
    "Yoga",
    "Python",
    "Cinema",
    "Meetup",
    "Festival",
    "Summit",
    "Workshop",
    "Night",
    "Conference",
]


def _sql_array(values: list[str]) -> str:
    """A PostgreSQL text[] literal for fixed, quote-free vocabularies."""
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


# Seeding steps whose table is large enough for dropping and rebuilding its indexes to pay.
BULK_TABLES = {
    "registrations": "app.registrations",
    "interactions": "app.interactions",
    "feedback": "app.recommendation_feedback",
}


def _drop_secondary_indexes(conn: psycopg.Connection, table: str) -> list[str]:
    """Drop ``table``'s indexes that back no constraint; returns their definitions."""
    schema, name = table.split(".")
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i
           WHERE i.indrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        (schema, name),
    ).fetchall()
    for index, _ in rows:
        conn.execute(f"DROP INDEX {index}")
    return [definition for _, definition in rows]


def seed_serving_state(url: str, size: str = "medium") -> None:
    """Fill an empty, migrated database with the serving state of ``size`` in set-based SQL.

    Every table is written by ``INSERT … SELECT generate_series`` inside the server, so the
    medium set (about 15M rows) loads in minutes rather than hours of per-row round trips. The
    shapes follow production: a third of the events are upcoming and published, registrations
    and interactions are skewed towards popular events, a few percent of interactions are
    dismissals, and some precomputed recommendations have become stale (past or full events)
    since the batch ran, so the read-time filters have work to do.
    """
    import psycopg

    n = SIZES[size]
    cities, categories, words = _sql_array(CITIES), _sql_array(CATEGORIES), _sql_array(TITLE_WORDS)
    users, events = n["users"], n["events"]
    upcoming = events // 3
    steps: list[tuple[str, str, dict[str, int]]] = [
        (
            "users",
            f"""INSERT INTO app.users (id, email, name, role, home_city, home_lat, home_lng,
                       interests, created_at, updated_at)
                SELECT g, 'user' || g || '@example.com', 'User ' || g,
                       CASE WHEN g % 200 = 0 THEN 'organizer' ELSE 'attendee' END,
                       ({cities})[1 + g % 20], 40 + (g % 200) / 10.0, (g % 300) / 10.0 - 5,
                       ARRAY[({categories})[1 + g % 10], ({categories})[1 + (g / 10) % 10]],
                       now() - (g % 700) * interval '1 day', now() - (g % 30) * interval '1 day'
                FROM generate_series(1, %(users)s) g""",
            {"users": users},
        ),
        (
            "events",
            # Ids divisible by 3 are upcoming (mostly published); the rest are past.
            f"""INSERT INTO app.events (id, title, description, category, tags, starts_at,
                       ends_at, venue_name, city, lat, lng, capacity, price, organizer_id,
                       status, created_at, updated_at)
                SELECT g, ({words})[1 + g % 16] || ' ' || ({words})[1 + (g / 16) % 16]
                              || ' #' || g,
                       'An event about ' || ({categories})[1 + g % 10]
                              || ' and people who like ' || ({categories})[1 + (g / 7) % 10]
                              || ', with talks, food and a lot of networking.',
                       ({categories})[1 + g % 10],
                       ARRAY[({categories})[1 + (g / 3) % 10], 'tag' || g % 50],
                       s.starts, s.starts + interval '3 hours', 'Venue ' || g % 500,
                       ({cities})[1 + (g / 3) % 20], 40 + (g % 200) / 10.0,
                       (g % 300) / 10.0 - 5, 50 + (g * 37) % 950, (g % 40) * 2.5,
                       200 * (1 + g % 500),
                       CASE WHEN g % 3 <> 0 THEN 'completed'
                            WHEN g % 60 = 0 THEN 'cancelled'
                            WHEN g % 45 = 0 THEN 'draft' ELSE 'published' END,
                       now() - interval '120 days', now() - (g % 20) * interval '1 day'
                FROM generate_series(1, %(events)s) g,
                     LATERAL (SELECT CASE WHEN g % 3 = 0
                                          THEN now() + (1 + g % 2160) * interval '1 hour'
                                          ELSE now() - (1 + g % 8760) * interval '1 hour'
                                     END AS starts) s""",
            {"events": events},
        ),
        (
            "registrations",
            # Skewed towards low ids: a few events draw most of the crowd.
            """INSERT INTO app.registrations (user_id, event_id, status, created_at, updated_at)
               SELECT u, e, CASE WHEN (u + k) % 10 = 0 THEN 'cancelled'
                                 WHEN (u + k) % 25 = 1 THEN 'waitlisted'
                                 WHEN e % 3 <> 0 THEN 'attended' ELSE 'confirmed' END,
                      now() - ((u + k) % 90) * interval '1 day', now()
               FROM generate_series(1, %(users)s) u, generate_series(1, %(per_user)s) k,
                    LATERAL (SELECT 1 + (floor(%(events)s * power(
                                 ((u * 7919 + k * 104729) % 100003) / 100003.0, 2)))::bigint
                             AS e) x
               ON CONFLICT (user_id, event_id) DO NOTHING""",
            {"users": users, "events": events, "per_user": n["registrations_per_user"]},
        ),
        (
            "interactions",
            # Ordered UUIDs keep the primary-key insert an append; 2 % are dismissals.
            """INSERT INTO app.interactions (id, user_id, event_id, type, occurred_at, source,
                       context, received_at)
               SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
                      1 + (g * 7919) % %(users)s,
                      1 + (floor(%(events)s * power((g * 104729 % 100003) / 100003.0, 2)))::bigint,
                      CASE WHEN g % 50 = 0 THEN 'dismiss' WHEN g % 10 < 7 THEN 'view'
                           WHEN g % 10 < 9 THEN 'click' WHEN g % 20 = 9 THEN 'favorite'
                           ELSE 'share' END,
                      now() - (g % 129600) * interval '1 minute',
                      (ARRAY['web', 'app', 'recommendation'])[1 + g % 3], '{}',
                      now() - (g % 129600) * interval '1 minute'
               FROM generate_series(1::bigint, %(interactions)s) g""",
            {"users": users, "events": events, "interactions": n["interactions"]},
        ),
        (
            "feedback",
            """INSERT INTO app.recommendation_feedback (id, user_id, event_id, model_version,
                       action, position, occurred_at)
               SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(g), 12, '0'))::uuid,
                      1 + (g * 31) % %(users)s, 3 * (1 + (g * 17) % %(upcoming)s), 'bench-1',
                      (ARRAY['impression', 'impression', 'impression', 'click', 'dismiss',
                             'like', 'dislike', 'register'])[1 + g % 8],
                      g % 10, now() - (g % 1440) * interval '1 minute'
               FROM generate_series(1, %(feedback)s) g""",
            {"users": users, "upcoming": upcoming, "feedback": n["feedback"]},
        ),
        (
            "user_recommendations",
            # Mostly upcoming events; every 10th rank points at an event that has since passed.
            """INSERT INTO serving.user_recommendations
               SELECT u, r,
                      CASE WHEN r % 10 = 0 THEN 1 + 3 * ((u + r) % %(upcoming)s)
                           ELSE 3 * (1 + (u * 31 + r * 17) % %(upcoming)s) END,
                      1.0 / r, CASE WHEN r % 3 = 0 THEN NULL ELSE 'because you liked similar'
                               END, 'bench-1'
               FROM generate_series(1, %(users)s) u, generate_series(1, 50) r""",
            {"users": users, "upcoming": upcoming},
        ),
        (
            "similar_events",
            """INSERT INTO serving.similar_events
               SELECT e, r, 3 * (1 + (e * 13 + r * 7) % %(upcoming)s), 1.0 / r, 'bench-1'
               FROM generate_series(1, %(events)s) e, generate_series(1, 20) r""",
            {"events": events, "upcoming": upcoming},
        ),
        (
            "popular_events",
            f"""INSERT INTO serving.popular_events
                SELECT 'global', '', r, 3 * r, 1000 - r, 'bench-1'
                FROM generate_series(1, 200) r
                UNION ALL
                SELECT 'city', c, r, 3 * (1 + (i * 20 + r * 61) % %(upcoming)s), 100 - r,
                       'bench-1'
                FROM unnest({cities}) WITH ORDINALITY AS t(c, i), generate_series(1, 100) r
                UNION ALL
                SELECT 'category', c, r, 3 * (1 + (i * 10 + r * 53) % %(upcoming)s), 100 - r,
                       'bench-1'
                FROM unnest({categories}) WITH ORDINALITY AS t(c, i),
                     generate_series(1, 100) r""",
            {"upcoming": upcoming},
        ),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        # The rows are consistent by construction: skipping the per-row foreign-key triggers
        # (a superuser setting, available on the private server) makes the load ~10x faster.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")
        for name, statement, params in steps:
            started = time.monotonic()
            table = BULK_TABLES.get(name)
            # Secondary indexes are rebuilt after the load (one sort each) rather than updated
            # row by row in random key order, which dominates loading millions of rows.
            rebuild = _drop_secondary_indexes(conn, table) if table else []
            # Literal percent signs of the modulo operator: psycopg placeholders are %(...)s.
            cur = conn.execute(statement.replace("% ", "%% "), params)
            for definition in rebuild:
                conn.execute(definition)
            print(f"  {name:<22}{cur.rowcount:>10} rows {time.monotonic() - started:6.1f} s")
        conn.execute(
            "INSERT INTO serving.publications (model_version, model_name, users_scored,"
            " events_scored) VALUES ('bench-1', 'bench', %s, %s)",
            (users, events),
        )
        # The load ran with triggers off: the places taken per event are counted once here.
        conn.execute(
            """INSERT INTO app.event_places (event_id, taken)
               SELECT event_id, count(*) FROM app.registrations
               WHERE status IN ('confirmed', 'attended') GROUP BY event_id
               ON CONFLICT (event_id) DO UPDATE SET taken = EXCLUDED.taken"""
        )
        for table in ("app.users", "app.events", "app.registrations"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        started = time.monotonic()
        # Production tables are vacuumed: the visibility map makes the capacity counts index-only.
        conn.execute("VACUUM (ANALYZE)")
        print(f"  {'vacuum analyze':<22}{'':>10}      {time.monotonic() - started:6.1f} s")


@contextlib.contextmanager
def private_database(pgdata: Path | None) -> Iterator[str]:
    """A private embedded PostgreSQL on a free port; yields the application database URL.

    The server gets its own data folder (a temporary one unless ``pgdata`` is given, which is
    then kept for the next run) and its own port, so the project's server on the default port
    and its data are never touched. The environment is pointed at it before the settings are
    read, and the uvicorn child inherits that environment. The server is stopped on exit.
    """
    from core import pgserver

    temporary = pgdata is None
    root = Path(tempfile.mkdtemp(prefix="bench-api-")) if temporary else pgdata.resolve()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"postgresql://postgres@{HOST}:{port}/events"
    os.environ.update(
        {
            "DATABASE_URL": url,
            "EMBEDDED_PG_DIR": str(root / "pg"),
            "EMBEDDED_PG_PORT": str(port),
            "DATA_DIR": str(root / "data"),
            "JWT_SECRET": os.environ.get("BENCH_JWT_SECRET", secrets.token_urlsafe(32)),
        }
    )
    # Throughput, not durability: the same settings as the test server.
    pgserver.start(root / "pg", port, for_tests=True)
    try:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@{HOST}:{port}/postgres", autocommit=True) as c:
            if not c.execute("SELECT 1 FROM pg_database WHERE datname = 'events'").fetchone():
                c.execute("CREATE DATABASE events")
        yield url
    finally:
        pgserver.stop(root / "pg")
        if temporary:
            shutil.rmtree(root, ignore_errors=True)


def prepare_database(url: str, size: str, seed: bool) -> None:
    """Migrate, then seed ``size`` when ``seed`` is set and the database has no events."""
    from core import migrate

    migrate.apply(url)
    if not seed:
        return
    import psycopg

    with psycopg.connect(url) as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM app.events)").fetchone()[0]:
            print("database has events: not seeding")
            return
    started = time.monotonic()
    print(f"seeding the {size} serving state")
    seed_serving_state(url, size)
    print(f"seeded in {time.monotonic() - started:.0f} s")


# Relations the API reads; their pages are loaded before measuring (see ``warm_database``).
WARM_SCHEMAS = ("app", "serving")


def warm_database(url: str) -> None:
    """Read every table and index of the API's schemas once (``pg_prewarm``, mode ``read``).

    A server sized for its hot set (here 1.7 GB at medium size) serves it from memory; a data
    folder whose pages the OS has evicted instead reads them from disk on first touch, and on
    this machine's ~100 MB/s virtual disk that alone turned the recommendation p99 into seconds
    (1.2 s to 11 s in distinct mode) while the same run on warm pages gave 17 ms. The
    application's own caches (answers, rendered events) stay cold either way. Skipped with a
    note when the extension cannot be created (an external server without the privilege).
    """
    import psycopg

    started = time.monotonic()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            blocks = conn.execute(
                "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'i', 'm')",
                (list(WARM_SCHEMAS),),
            ).fetchone()[0]
    except psycopg.Error as error:
        print(f"database not warmed ({error.diagnostic.message_primary or error})")
        return
    print(f"database warmed: {blocks * 8 / 1024:.0f} MB read in {time.monotonic() - started:.1f} s")


def print_table(title: str, rows: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'endpoint':<18}{'count':>9}{'errors':>8}{'req/s':>10}{'median':>9}{'p95':>9}{'p99':>9}"
    )
    for name, s in rows.items():
        if not s.get("count"):
            print(f"{name:<18}{0:>9}{s.get('errors', 0):>8}")
            continue
        print(
            f"{name:<18}{s['count']:>9}{s['errors']:>8}{s['rps']:>10.0f}"
            f"{s['median_ms']:>8.1f}m{s['p95_ms']:>8.1f}m{s['p99_ms']:>8.1f}m"
        )
        for sample in s.get("samples", []):
            print(f"    error: {sample}")


WRK_SCRIPT = """
local paths = {%s}
local tokens = {%s}
local n = #paths
request = function()
  local i = math.random(n)
  if tokens[i] == "" then return wrk.format("GET", paths[i]) end
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


def wrk_round(port: int, connections: int, seconds: int, paths: list[tuple[str, str]]) -> dict:
    """One saturation round driven by wrk (one thread: it is C, and the machine has few cores)."""
    script = Path(tempfile.mkstemp(prefix="bench-wrk-", suffix=".lua")[1])
    script.write_text(
        WRK_SCRIPT % (", ".join(f'"{p}"' for p, _ in paths), ", ".join(f'"{t}"' for _, t in paths))
    )
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                f"http://{HOST}:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    finally:
        script.unlink()
    result: dict = {"errors": 0, "samples": []}
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(words[1])
        elif "requests in" in line:
            result["count"] = int(words[0])
        elif line.strip().startswith(("50%", "90%", "99%")) and len(words) == 2:
            value = next(
                float(words[1][: -len(u)]) * f
                for u, f in sorted(units.items(), key=lambda kv: -len(kv[0]))
                if words[1].endswith(u)
            )
            result[{"50%": "median_ms", "90%": "p90_ms", "99%": "p99_ms"}[words[0]]] = value
        elif line.strip().startswith("Non-2xx"):
            result["errors"] += int(words[-1])
            result["samples"].append(line.strip())
        elif line.strip().startswith("Socket errors"):
            counts = [int(w.strip(",")) for w in words if w.strip(",").isdigit()]
            result["errors"] += sum(counts)
            result["samples"].append(line.strip())
    return result


def merge_wrk(runs: list[dict], window: float) -> dict:
    """Totals over wrk rounds; latency percentiles are the medians of the rounds' values."""
    count = sum(r.get("count", 0) for r in runs)
    merged = {
        "count": count,
        "errors": sum(r["errors"] for r in runs),
        "rps": count / (window * len(runs)),
        "samples": [s for r in runs for s in r["samples"]][:3],
    }
    for key in ("median_ms", "p99_ms"):
        merged[key] = statistics.median(r.get(key, 0.0) for r in runs)
    merged["p95_ms"] = statistics.median(r.get("p90_ms", 0.0) for r in runs)  # wrk prints p90
    return merged


async def measure(port: int, args: argparse.Namespace, tool: str, recs: list[RecRequest]) -> dict:
    """The scenario and the saturation rounds with the recommendation requests ``recs``."""
    rec_paths = [(path, headers) for path, headers, _ in recs]
    await saturate(port, 8, 2.0, rec_paths)  # warm-up, result unused
    results: dict = {}
    if args.duration > 0:
        results["scenario"] = await scenario(port, args.users, args.duration, recs)
        print_table(
            f"scenario: {args.users} virtual users, {args.duration:.0f} s, pause 1 s, "
            f"{args.workers} worker(s)",
            results["scenario"],
        )
    if args.saturation_seconds > 0:
        # Alternating short rounds, so background noise on the machine hits both alike.
        trivial_runs, rec_runs = [], []
        if tool == "wrk":
            window = 5
            rounds = max(1, round(args.saturation_seconds / window))
            wrk_recs = [(path, token) for path, _, token in recs]
            for _ in range(rounds):
                trivial_runs.append(
                    wrk_round(port, args.connections, window, [("/api/v1/ping", "")])
                )
                rec_runs.append(wrk_round(port, args.connections, window, wrk_recs))
            trivial, rec_stats = merge_wrk(trivial_runs, window), merge_wrk(rec_runs, window)
        else:
            rounds = max(1, int(args.saturation_seconds))
            window = args.saturation_seconds / rounds
            for _ in range(rounds):
                trivial_runs.append(
                    await saturate(port, args.connections, window, [("/api/v1/ping", None)])
                )
                rec_runs.append(await saturate(port, args.connections, window, rec_paths))
            trivial, rec_stats = merge(trivial_runs, window), merge(rec_runs, window)
        round_rps = [(t["rps"], r["rps"]) for t, r in zip(trivial_runs, rec_runs, strict=True)]
        results["saturation"] = {"trivial": trivial, "recommendations": rec_stats}
        print_table(
            f"saturation ({tool}): {args.connections} connections, no pauses, "
            f"{args.workers} worker(s), {rounds} x {window:g} s rounds each",
            results["saturation"],
        )
        ratio = rec_stats["rps"] / trivial["rps"] if trivial.get("rps") else 0.0
        per_round = [r / t for t, r in round_rps if t]
        results["saturation"]["ratio"] = ratio
        results["saturation"]["round_ratios"] = per_round
        print(
            f"recommendations / trivial throughput: {ratio:.0%} overall, "
            f"median of rounds {statistics.median(per_round):.0%} "
            f"(min {min(per_round):.0%}, max {max(per_round):.0%})"
        )
    return results


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, printed beside each figure (a shared machine)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace, service_token: str) -> dict:
    port = args.port or free_port()
    modes = ["distinct", "cached"] if args.users_mode == "both" else [args.users_mode]
    requests = {mode: recommendation_requests(mode, 20_000, service_token) for mode in modes}
    server = start_server(port, args.workers, args.access_log)
    tool = args.load_tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    try:
        await wait_ready(port)
        # Warm the pool and the prepared statements before measuring.
        await saturate(port, 8, 1.0, [("/api/v1/events?limit=20", None)])  # result unused
        results: dict = {"port": port, "workers": args.workers, "load_tool": tool}
        for mode in modes:
            print(f"\n=== users: {mode}; load average before: {load_average()}")
            results[mode] = await measure(port, args, tool, requests[mode])
            results[mode]["load_average_after"] = load_average()
            print(f"load average after: {results[mode]['load_average_after']}")
        return results
    finally:
        stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="virtual users of the scenario")
    parser.add_argument("--duration", type=float, default=60, help="scenario seconds (0: skip)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--saturation-seconds", type=float, default=30, help="per endpoint (0: skip)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--database",
        choices=["embedded", "env"],
        default="embedded",
        help="embedded: a private server seeded here; env: DATABASE_URL of the settings",
    )
    parser.add_argument(
        "--pgdata", type=Path, help="keep the private server's files here (seeded once)"
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument(
        "--seed-if-empty", action="store_true", help="with --database env: seed an empty database"
    )
    parser.add_argument(
        "--load-tool",
        choices=["auto", "python", "wrk"],
        default="auto",
        help="client of the saturation rounds (auto: wrk when installed)",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the API's JSON access log on (written to /dev/null)",
    )
    parser.add_argument(
        "--users-mode",
        choices=["distinct", "cached", "both"],
        default="distinct",
        help="whose recommendations: any user with a service token (the headline), or 1,000 "
        "users with their own tokens (answer-cache hits)",
    )
    parser.add_argument(
        "--warm-database",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read the API's tables and indexes into memory first (--no-warm-database: "
        "measure a server whose pages are on disk)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    # The uvicorn child inherits the environment, hence this token.
    service_token = secrets.token_urlsafe(32)
    os.environ["SERVICE_TOKEN"] = service_token
    with contextlib.ExitStack() as stack:
        if args.database == "embedded":
            url = stack.enter_context(private_database(args.pgdata))
            prepare_database(url, args.size, seed=True)
        else:
            from core.settings import get_settings

            url = get_settings().app_database_url
            prepare_database(url, args.size, seed=args.seed_if_empty)
        if args.warm_database:
            warm_database(url)
        # uvloop (installed with uvicorn) keeps the load generator's own CPU share small.
        results = uvloop.run(run(args, service_token))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    errors = sum(
        s.get("errors", 0)
        for mode in ("distinct", "cached")
        for s in results.get(mode, {}).get("scenario", {}).values()
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
