"""Time the synthetic generator end to end: 1 M interactions written as a landing zone.

Run: ``.venv/bin/python benchmarks/bench_generator.py [--interactions N] [--runs 3]``. Each run
writes into a fresh temporary folder (users, events and day-partitioned interactions, files
included) in a fresh process state for the cached world, and the median wall time is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pipelines.synthetic import (
    GenerationSpec,
    event_state,
    generate,
    member_state,
    user_state,
    world_state,
)


def run_once(spec: GenerationSpec) -> tuple[float, float, int]:
    """Wall and CPU seconds of one full generation (caches cleared first), and files written.

    CPU time is reported too because the machine is often shared: it shows what the generator
    itself costs when other processes stretch the wall time.
    """
    for cached in (user_state, world_state, member_state, event_state):
        cached.cache_clear()
    out = Path(tempfile.mkdtemp(prefix="bench-generator-"))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        summary = generate(out, spec)
        return time.perf_counter() - started, time.process_time() - cpu, len(summary.files)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = GenerationSpec(
        users=args.users,
        events=args.events,
        interactions=args.interactions,
        days=args.days,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    walls, cpus = [], []
    for run in range(args.runs):
        wall, cpu, files = run_once(spec)
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {run + 1}: {wall:.2f}s wall, {cpu:.2f}s CPU ({files} files)")
    median = statistics.median(walls)
    print(
        f"median of {args.runs}: {median:.2f}s wall ({statistics.median(cpus):.2f}s CPU) for "
        f"{args.interactions:,} interactions, {args.users:,} users, {args.events:,} events "
        f"({args.interactions / median / 1e6:.2f} M interactions/s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
