"""Command line: ``python -m pipelines.synthetic --out DIR [--size small|medium|large] ...``.

``--model-files DIR`` writes the same world as ``items.parquet``, ``interactions.parquet`` and
``users.parquet`` with string ids, the inputs of ``python -m models.evaluate``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.synthetic.model_frames import write_model_files
from pipelines.synthetic.spec import SIZES, GenerationSpec
from pipelines.synthetic.writer import generate


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags override the named size, so ``--size medium --interactions 1000000`` works."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.synthetic",
        description="Write a synthetic landing zone (users, events, interactions).",
    )
    parser.add_argument("--out", type=Path, help="landing-zone root to write into")
    parser.add_argument(
        "--model-files",
        type=Path,
        help="also (or only) write items/interactions/users.parquet with string ids here",
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--users", type=int, help="number of users (ids 1..N)")
    parser.add_argument("--events", type=int, help="number of events (ids 1..M)")
    parser.add_argument("--interactions", type=int, help="exact number of interactions")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, help="days of interaction history")
    parser.add_argument(
        "--start", type=date.fromisoformat, help="first day of history (now = start + days)"
    )
    parser.add_argument(
        "--now",
        type=_datetime,
        help="the world's clock (ISO-8601; default: today 00:00 UTC)",
    )
    parser.add_argument(
        "--partner-share",
        type=float,
        default=0.1,
        help="share of events delivered as events/partner-feed.jsonl (0 disables)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.out is None and args.model_files is None:
        parser.error("give --out, --model-files or both")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(argv)
    try:
        spec = GenerationSpec.of_size(
            args.size,
            users=args.users,
            events=args.events,
            interactions=args.interactions,
            days=args.days,
            seed=args.seed,
            start=args.start,
            now=args.now,
            partner_feed_share=args.partner_share,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out is not None:
        summary = generate(args.out, spec, progress=not args.quiet)
        print(summary.describe())
    if args.model_files is not None:
        rows = write_model_files(spec, args.model_files)
        files = ", ".join(f"{name} ({count:,} rows)" for name, count in rows.items())
        print(f"{files} under {args.model_files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
