"""Load test of the serving API: the clients' scenario, then a saturation run.

Starts uvicorn (``serving.app:app``) against the database of the settings (``DATABASE_URL``),
then drives it from this separate process over loopback with a small asyncio HTTP/1.1 client
(keep-alive, one connection per virtual user), so the measurement is not capped by a heavy
client library.

1. Scenario (the k6 script of the original platform guide): ``--users`` virtual users, each
   repeatedly listing events (limit 20), searching ``q=tech`` (limit 10) and fetching
   recommendations (limit 5) for a user with that user's bearer token, then pausing 1 s.
2. Saturation: ``--connections`` connections without pauses, first on a trivial JSON endpoint
   of the same app, then on recommendations, with the same worker count.

Prints count, errors, requests/s, median, p95 and p99 per endpoint and the saturation ratio.

    python benchmarks/bench_api.py --users 200 --duration 60 --saturation-seconds 20
    python benchmarks/bench_api.py --seed-if-empty --users 20 --duration 5   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

HOST = "127.0.0.1"


@dataclass
class Stats:
    """Latencies (seconds) and failures of one endpoint."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def add(self, status: int, elapsed: float, detail: str = "") -> None:
        self.latencies.append(elapsed)
        if status != 200:
            self.errors += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(f"{status} {detail[:200]}")

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


def start_server(port: int, workers: int, access_log: bool) -> subprocess.Popen:
    """uvicorn in its own process group, so it and its workers stop together."""
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
        cwd=REPO_ROOT,
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
                "SELECT user_id FROM serving.user_recommendations WHERE rank = 1 LIMIT %s",
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

    return {user: create_access_token(user, "attendee")[0] for user in users}


async def scenario(port: int, users: int, duration: float, tokens: dict[int, str]) -> dict:
    stats = {"list_events": Stats(), "search_tech": Stats(), "recommendations": Stats()}
    user_ids = list(tokens)
    deadline = time.monotonic() + duration

    async def virtual_user(n: int) -> None:
        conn = Connection(port)
        rng = random.Random(n)
        await asyncio.sleep(rng.random())  # start like k6 VUs do: not all in the same instant
        while time.monotonic() < deadline:
            user = rng.choice(user_ids)
            calls = (
                ("list_events", "/api/v1/events?limit=20", None),
                ("search_tech", "/api/v1/search/events?q=tech&limit=10", None),
                (
                    "recommendations",
                    f"/api/v1/recommendations/events?user_id={user}&limit=5",
                    {"Authorization": f"Bearer {tokens[user]}"},
                ),
            )
            for name, path, headers in calls:
                started = time.perf_counter()
                status, body = await conn.get(path, headers)
                stats[name].add(
                    status, time.perf_counter() - started, body.decode(errors="replace")
                )
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
            stats.add(status, time.perf_counter() - started, body.decode(errors="replace"))
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


def seed_if_empty(users: int = 10_000, events: int = 2_000) -> None:
    """Fill an empty database with synthetic rows, for smoke runs without the pipeline."""
    import psycopg

    from core import migrate
    from core.settings import get_settings

    migrate.apply()
    with psycopg.connect(get_settings().app_database_url, autocommit=True) as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM app.events)").fetchone()[0]:
            print("database has events: not seeding")
            return
        print(f"seeding {users} users, {events} events and their serving rows")
        with conn.transaction():
            conn.execute(
                """INSERT INTO app.users (id, email, name, home_city, interests)
                   SELECT g, 'bench' || g || '@example.com', 'User ' || g,
                          (ARRAY['Berlin', 'Paris', 'Madrid', 'Rome'])[1 + g %% 4],
                          ARRAY[(ARRAY['tech', 'music', 'sports'])[1 + g %% 3]]
                   FROM generate_series(1, %s) g""",
                (users,),
            )
            conn.execute(
                """INSERT INTO app.events (id, title, description, category, tags, starts_at,
                          ends_at, city, lat, lng, capacity, price, status)
                   SELECT g, (ARRAY['Tech', 'Jazz', 'Football', 'Data'])[1 + g %% 4]
                               || ' event ' || g,
                          'A synthetic event about tech and people',
                          (ARRAY['tech', 'music', 'sports'])[1 + g %% 3],
                          ARRAY['tag' || g %% 20], now() + (g %% 90 + 1) * interval '1 day',
                          now() + (g %% 90 + 1) * interval '1 day' + interval '3 hours',
                          (ARRAY['Berlin', 'Paris', 'Madrid', 'Rome'])[1 + g %% 4],
                          40 + g %% 10, 2 + g %% 10, 500, g %% 50, 'published'
                   FROM generate_series(1, %s) g""",
                (events,),
            )
            conn.execute(
                """INSERT INTO serving.user_recommendations
                   SELECT u, r, 1 + (u * 31 + r * 17) %% %s, 1.0 / r, 'because you like it',
                          'bench-1'
                   FROM generate_series(1, %s) u, generate_series(1, 50) r""",
                (events, users),
            )
            conn.execute(
                """INSERT INTO serving.popular_events
                   SELECT 'global', '', r, r, 100 - r, 'bench-1' FROM generate_series(1, 100) r"""
            )
            for table in ("app.users", "app.events"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
        conn.execute("ANALYZE")


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


async def run(args: argparse.Namespace) -> dict:
    port = args.port or free_port()
    users = sample_users(max(args.users, 100))
    tokens = tokens_for(users)
    server = start_server(port, args.workers, args.access_log)
    try:
        await wait_ready(port)
        # Warm the pool and the plans before measuring.
        await saturate(port, 8, 1.0, [("/api/v1/events?limit=20", None)])  # result unused
        results: dict = {"port": port, "workers": args.workers}
        if args.duration > 0:
            results["scenario"] = await scenario(port, args.users, args.duration, tokens)
            print_table(
                f"scenario: {args.users} virtual users, {args.duration:.0f} s, pause 1 s",
                results["scenario"],
            )
        if args.saturation_seconds > 0:
            rec_paths = [
                (
                    f"/api/v1/recommendations/events?user_id={u}&limit=5",
                    {"Authorization": f"Bearer {tokens[u]}"},
                )
                for u in users
            ]
            # Alternating short rounds, so background noise on the machine hits both alike.
            rounds = max(1, int(args.saturation_seconds))
            window = args.saturation_seconds / rounds
            trivial_runs, rec_runs = [], []
            for _ in range(rounds):
                trivial_runs.append(
                    await saturate(port, args.connections, window, [("/api/v1/ping", None)])
                )
                rec_runs.append(await saturate(port, args.connections, window, rec_paths))
            trivial, recs = merge(trivial_runs, window), merge(rec_runs, window)
            results["saturation"] = {"trivial": trivial, "recommendations": recs}
            print_table(
                f"saturation: {args.connections} connections, no pauses, "
                f"{args.workers} worker(s), {args.saturation_seconds:.0f} s each",
                results["saturation"],
            )
            ratio = recs["rps"] / trivial["rps"] if trivial.get("rps") else 0.0
            results["saturation"]["ratio"] = ratio
            print(f"recommendations / trivial throughput: {ratio:.0%}")
        return results
    finally:
        stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="virtual users of the scenario")
    parser.add_argument("--duration", type=float, default=60, help="scenario seconds (0: skip)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--saturation-seconds", type=float, default=20, help="per endpoint (0: skip)"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the API's JSON access log on (written to /dev/null)",
    )
    parser.add_argument("--seed-if-empty", action="store_true", help="synthetic rows if empty")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.seed_if_empty:
        seed_if_empty()
    results = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    errors = sum(s.get("errors", 0) for s in results.get("scenario", {}).values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
