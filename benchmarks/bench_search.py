"""Search quality and speed on the generator's catalogue: labelled queries, nDCG@10, zero results.

The generator's events (``pipelines.synthetic.make_events``, medium: 20,000) are loaded into a
private embedded PostgreSQL; the labelled queries are built from its ground truth, at least 200
of each run's seeded sample of upcoming events:

* ``exact``: an event's title as it is (relevant: the events with that title);
* ``misspelt``: two of its title words, one with two neighbouring letters swapped;
* ``partial``: its longest title word cut to five letters, and another title word;
* ``loose``: two of its title words and a word it does not have ("event");
* ``category``: a category name (relevant: every upcoming event of the category).

Each query goes over HTTP to uvicorn (``serving.app:app``) with ``limit=10``; the benchmark
prints nDCG@10 (binary relevance), hit@10 and the share of queries answering nothing, per kind
and overall, and the latency (median and p99) of the labelled queries at ``--connections``
concurrent connections. ``--code-dir`` serves another checkout (e.g. the commit before a change,
extracted with ``git archive``) on the same database, so before and after are measured alike.
Then, per checkout, ``--runs`` load runs on a newly started server (process caches cold):
``--vus`` virtual users ask distinct queries of the same kinds (from another seed than the
quality queries), each from its own offset, for ``--duration`` seconds, no query twice,
waiting ``--pause`` seconds between answers (k6's VUs, as in ``bench_api.py``); then distinct
autocomplete prefixes (1 to 8 letters of title words and cities); before both, the same load
on the app's trivial endpoint (the machine's own floor). The median and p99 of each run, and
the medians of the runs, with the load average at its start.

    python benchmarks/bench_search.py                                # medium, this checkout
    python benchmarks/bench_search.py --code-dir /tmp/search-before  # the same for another one
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from bench_api import (  # noqa: E402
    Connection,
    free_port,
    private_database,
    start_server,
    stop_server,
    wait_ready,
)

HOST = "127.0.0.1"
K = 10
_WORD = re.compile(r"[^\W\d_]{3,}")
EVENT_COLUMNS = (
    "id",
    "title",
    "description",
    "category",
    "tags",
    "starts_at",
    "ends_at",
    "venue_name",
    "city",
    "lat",
    "lng",
    "capacity",
    "price",
    "currency",
    "status",
    "created_at",
    "updated_at",
)


def load_catalogue(url: str, events: int, seed: int) -> pl.DataFrame:
    """Generate ``events`` events, shift them so that a third start in the next 90 days, COPY
    them into ``app.events``; returns the upcoming published ones."""
    import psycopg

    from core import migrate
    from pipelines.ingest.loading import copy_into
    from pipelines.synthetic import GenerationSpec, make_events

    migrate.apply(url)
    now = datetime.now(UTC).replace(microsecond=0)
    spec = GenerationSpec(users=max(events // 5, 10), events=events, interactions=0, now=now)
    frame = make_events(spec).rename({"event_id": "id"})
    latest = frame["starts_at"].max()
    shift = (now + timedelta(days=90)) - latest
    frame = frame.with_columns(
        (pl.col("starts_at") + shift).alias("starts_at"),
        (pl.col("ends_at") + shift).alias("ends_at"),
        pl.col("price").fill_null(0.0),
        pl.col("capacity").fill_null(100).clip(0),
        pl.col("currency").fill_null("EUR"),
        pl.col("description").fill_null(""),
        pl.col("tags").fill_null([]),
    ).select(EVENT_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE app.events RESTART IDENTITY CASCADE")
        copy_into(conn, psycopg.sql.Identifier("app", "events"), frame)
        conn.execute("ANALYZE app.events")
    return frame.filter((pl.col("status") == "published") & (pl.col("starts_at") > now))


def _swap(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def labelled_queries(upcoming: pl.DataFrame, per_kind: int, seed: int) -> list[dict]:
    """Queries with their relevant event ids, built from the catalogue (see the docstring)."""
    rng = random.Random(seed)
    by_title: dict[str, set[int]] = {}
    for event_id, title in upcoming.select("id", "title").iter_rows():
        by_title.setdefault(title.lower(), set()).add(event_id)
    rows = list(upcoming.select("id", "title").iter_rows())
    rng.shuffle(rows)
    queries: list[dict] = []
    counts = dict.fromkeys(("exact", "misspelt", "partial", "loose"), 0)
    for event_id, title in rows:
        words = list(dict.fromkeys(w for w in _WORD.findall(title)))
        relevant = by_title[title.lower()]
        candidates = {"exact": (title, relevant)}
        long_words = [w for w in words if len(w) >= 5]
        if len(words) >= 2 and long_words:
            typo = rng.choice(long_words)
            other = rng.choice([w for w in words if w != typo])
            candidates["misspelt"] = (f"{_swap(typo, rng)} {other}", relevant)
            longest = max(words, key=len)
            rest = [w for w in words if w != longest]
            if len(longest) >= 7 and rest:
                candidates["partial"] = (f"{longest[:5]} {rng.choice(rest)}", relevant)
            pair = rng.sample(words, 2)
            candidates["loose"] = (f"{pair[0]} {pair[1]} event", relevant)
        for kind, (text, wanted) in candidates.items():
            if counts[kind] < per_kind:
                counts[kind] += 1
                queries.append({"kind": kind, "q": text, "relevant": wanted, "event_id": event_id})
        if min(counts.values()) >= per_kind:
            break
    for category, ids in (
        upcoming.drop_nulls("category").group_by("category").agg("id").sort("category").iter_rows()
    ):
        queries.append({"kind": "category", "q": category, "relevant": set(ids), "event_id": None})
    return queries


def ndcg_at_k(ranked: list[int], relevant: set[int], k: int = K) -> float:
    gains = sum(1 / math.log2(i + 2) for i, e in enumerate(ranked[:k]) if e in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0


async def run_queries(port: int, queries: list[dict], connections: int) -> list[tuple]:
    """(ids, seconds) per query, ``connections`` at a time."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    semaphore = asyncio.Semaphore(connections)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits) as client:

        async def one(query: dict) -> tuple:
            async with semaphore:
                started = time.perf_counter()
                response = await client.get(
                    "/api/v1/search/events", params={"q": query["q"], "limit": K}
                )
                elapsed = time.perf_counter() - started
            response.raise_for_status()
            return [item["id"] for item in response.json()["items"]], elapsed

        return await asyncio.gather(*(one(q) for q in queries))


def percentile(seconds: list[float], share: float) -> float:
    """The ``share`` quantile of ``seconds`` (nearest rank), in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def timed_load(
    port: int, path: str, params: list[dict], vus: int, duration: float, pause: float
) -> tuple[list[float], int]:
    """``vus`` virtual users, each on its own keep-alive connection, asking ``params`` in turn
    from its own offset (so that they ask different things at once), ``pause`` seconds apart
    (k6's VUs with ``sleep``, as in ``bench_api.py``), for ``duration`` seconds;
    (seconds per answer, errors)."""
    seconds: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    paths = [f"{path}?{urlencode(p)}" for p in params]

    async def user(n: int) -> None:
        nonlocal errors
        conn = Connection(port)
        i = n * len(paths) // vus
        await asyncio.sleep(random.Random(n).random() * max(pause, 0.1))  # not all at once
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, _ = await conn.get(paths[i % len(paths)])
            seconds.append(time.perf_counter() - started)
            errors += status != 200
            i += 1
            await asyncio.sleep(pause)
        await conn.close()

    await asyncio.gather(*(user(n) for n in range(vus)))
    return seconds, errors


def load_queries(upcoming: pl.DataFrame, count: int, seed: int) -> list[dict]:
    """``count`` distinct queries of the labelled kinds for the load runs, from another seed
    than the quality queries, shuffled: none is asked twice, so no answer comes from a cache."""
    queries = labelled_queries(upcoming, count, seed + 1)
    texts = list(dict.fromkeys(q["q"] for q in queries))
    random.Random(seed).shuffle(texts)
    return [{"q": text, "limit": K} for text in texts[:count]]


def suggest_prefixes(upcoming: pl.DataFrame, count: int, seed: int) -> list[dict]:
    """Distinct prefixes of 1 to 8 letters of the catalogue's title words and cities, as
    autocomplete sees them while someone types."""
    words = {
        w.lower()
        for text in [*upcoming["title"].to_list(), *upcoming["city"].drop_nulls().to_list()]
        for w in _WORD.findall(text)
    }
    prefixes = sorted({w[:n] for w in words for n in range(1, 9)})
    random.Random(seed).shuffle(prefixes)
    return [{"q": p, "limit": 5} for p in prefixes[:count]]


def report(queries: list[dict], answers: list[tuple]) -> None:
    rows = [
        {
            "kind": q["kind"],
            "ndcg": ndcg_at_k(ids, q["relevant"]),
            "hit": float(bool(set(ids[:K]) & q["relevant"])),
            "empty": float(not ids),
        }
        for q, (ids, _) in zip(queries, answers, strict=True)
    ]
    table = pl.DataFrame(rows)
    per_kind = (
        table.group_by("kind")
        .agg(pl.len().alias("queries"), pl.mean("ndcg"), pl.mean("hit"), pl.mean("empty"))
        .sort("kind")
    )
    overall = table.select(
        pl.lit("all").alias("kind"),
        pl.len().alias("queries"),
        pl.mean("ndcg"),
        pl.mean("hit"),
        pl.mean("empty"),
    )
    print("| kind | queries | nDCG@10 | hit@10 | zero results |\n|---|---:|---:|---:|---:|")
    for kind, n, ndcg, hit, empty in pl.concat([per_kind, overall]).iter_rows():
        print(f"| {kind} | {n} | {ndcg:.3f} | {hit:.3f} | {empty:.1%} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-kind", type=int, default=60, help="queries per kind (4 kinds)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--code-dir", type=Path, action="append", help="checkout(s) to serve")
    parser.add_argument("--vus", type=int, default=200, help="virtual users of the load runs")
    parser.add_argument("--duration", type=float, default=20, help="seconds per load run (0: skip)")
    parser.add_argument("--runs", type=int, default=3, help="load runs per checkout (medians)")
    parser.add_argument(
        "--load-queries",
        type=int,
        default=6_000,
        help="distinct queries and prefixes per load run (more than a run asks)",
    )
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds a virtual user waits between requests"
    )
    args = parser.parse_args(argv)
    code_dirs = args.code_dir or [REPO_ROOT]
    with private_database(None) as url:
        started = time.monotonic()
        upcoming = load_catalogue(url, args.events, args.seed)
        queries = labelled_queries(upcoming, args.per_kind, args.seed)
        print(
            f"{upcoming.height} upcoming events, {len(queries)} labelled queries"
            f" (loaded in {time.monotonic() - started:.0f} s)"
        )
        for code_dir in code_dirs:
            port = free_port()
            server = start_server(port, 2, access_log=False, code_dir=code_dir.resolve())
            try:
                asyncio.run(wait_ready(port))
                asyncio.run(run_queries(port, queries[:20], 4))  # warm-up, unused
                answers = asyncio.run(run_queries(port, queries, args.connections))
            finally:
                stop_server(server)
            print(f"\n### {code_dir}\n")
            report(queries, answers)
            latencies = [seconds for _, seconds in answers]
            print(
                f"\nlatency at {args.connections} connections: median "
                f"{statistics.median(latencies) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms"
            )
        if args.duration > 0:
            searches = load_queries(upcoming, args.load_queries, args.seed)
            prefixes = suggest_prefixes(upcoming, args.load_queries, args.seed)
            for code_dir in code_dirs:
                load_runs(
                    code_dir, searches, prefixes, args.vus, args.duration, args.runs, args.pause
                )
    return 0


def load_runs(
    code_dir: Path,
    searches: list[dict],
    prefixes: list[dict],
    vus: int,
    duration: float,
    runs: int,
    pause: float,
) -> None:
    """Search and autocomplete at ``vus`` virtual users, ``runs`` times, each on a newly started
    server (its process caches cold); prints each run and the medians of the runs."""
    rows = []
    for run in range(runs):
        port = free_port()
        server = start_server(port, 2, access_log=False, code_dir=code_dir.resolve())
        try:
            asyncio.run(wait_ready(port))
            row = {"load": os.getloadavg()[0]}
            for name, path, params in (
                ("trivial", "/api/v1/ping", [{}]),
                ("search", "/api/v1/search/events", searches),
                ("suggest", "/api/v1/search/suggest", prefixes),
            ):
                seconds, errors = asyncio.run(timed_load(port, path, params, vus, duration, pause))
                row |= {
                    f"{name}_n": len(seconds),
                    f"{name}_errors": errors,
                    f"{name}_median": percentile(seconds, 0.5),
                    f"{name}_p99": percentile(seconds, 0.99),
                }
        finally:
            stop_server(server)
        rows.append(row)
        print(f"{code_dir} run {run + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()))
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(
        f"\n{code_dir} at {vus} VUs, medians of {runs} runs of {duration:.0f} s: "
        + ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
    )


if __name__ == "__main__":
    sys.exit(main())
