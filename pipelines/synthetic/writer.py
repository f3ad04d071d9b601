"""Writing the synthetic world into a landing zone, in the formats of ``core.contracts``.

Layout under the landing-zone root::

    users/users.csv
    events/events.csv                      most of the catalogue
    events/partner-feed.jsonl              the rest, as a partner's JSON Lines feed
    organizer_follows/follows.csv          who follows which organiser
    interactions/date=YYYY-MM-DD/part-NNNN.jsonl   one folder per UTC day, one part per chunk
    recommendation_feedback/date=YYYY-MM-DD/part-NNNN.jsonl   the widget's log, laid out alike

Every file is written next to its final name and renamed into place, so a reader polling the
landing zone never sees half a file; an identical spec rewrites identical bytes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from core.contracts import EVENTS, FEEDBACK, FOLLOWS, INTERACTIONS, LIST_SEPARATOR, USERS
from pipelines.synthetic.feedback import chunk_feedback
from pipelines.synthetic.follows import make_follows
from pipelines.synthetic.interactions import chunk_sizes, iter_chunks
from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.world import (
    STREAM_PARTNER,
    alnum_ids,
    event_state,
    make_events,
    make_users,
    rng_for,
)

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"


@dataclass(frozen=True)
class GenerationSummary:
    """What a run wrote: rows per file (paths relative to the root) and the span of history."""

    out_dir: Path
    now: datetime
    users: int
    events: int
    interactions: int
    feedback: int
    first_day: date | None
    last_day: date | None
    files: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for humans (the CLI prints it)."""
        days = f"{self.first_day} .. {self.last_day}" if self.first_day else "no days"
        return (
            f"{self.users:,} users, {self.events:,} events, {self.interactions:,} interactions, "
            f"{self.feedback:,} feedback rows "
            f"({days}, now={self.now.isoformat()}) in {len(self.files)} files under "
            f"{self.out_dir} in {self.seconds:.1f}s"
        )


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    os.replace(partial, path)


def _iso(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetime columns as ISO-8601 text with an explicit UTC offset (the contract's form)."""
    return frame.with_columns(pl.col(pl.Datetime).dt.strftime(ISO_FORMAT))


def users_for_csv(users: pl.DataFrame) -> pl.DataFrame:
    """The users frame as CSV cells: list cells joined with the contract's separator."""
    return (
        _iso(users).with_columns(pl.col("interests").list.join(LIST_SEPARATOR)).select(USERS.names)
    )


def events_for_csv(events: pl.DataFrame) -> pl.DataFrame:
    """The events frame as CSV cells: tags joined with the contract's separator."""
    return _iso(events).with_columns(pl.col("tags").list.join(LIST_SEPARATOR)).select(EVENTS.names)


def partner_feed(events: pl.DataFrame) -> pl.DataFrame:
    """Events as a partner sends them: its own alphanumeric listing id, and no series id (the
    platform derives the series from the organiser and the title)."""
    return events.with_columns(
        alnum_ids("p", events["event_id"].to_numpy()).alias("external_id"),
        pl.lit(None, dtype=pl.Int64).alias("series_id"),
    )


def _write_lines(lines: pl.Series, path: Path) -> None:
    """Write newline-terminated text rows as they are: the Arrow data buffer of the slice."""
    array = lines.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = memoryview(array.buffers()[2])[int(offsets[0]) : int(offsets[-1])]

    def write(target: Path) -> None:
        with target.open("wb") as handle:
            handle.write(data)

    _write_atomically(path, write)


def generate(
    out_dir: Path,
    spec: GenerationSpec,
    *,
    progress: bool = False,
) -> GenerationSummary:
    """Write the whole world into the landing zone at ``out_dir`` and say what was written.

    Files of an earlier run with the same names are replaced; other files are left alone (a
    landing zone is append-only, and cleaning it is the caller's decision).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    out_dir = Path(out_dir)
    files: dict[str, int] = {}
    total = spec.users + spec.events + spec.interactions
    with tqdm(
        total=total, unit="rows", unit_scale=True, desc="synthetic", disable=not progress
    ) as bar:
        users = make_users(spec)
        path = out_dir / USERS.folder / "users.csv"
        _write_atomically(path, users_for_csv(users).write_csv)
        files[path.relative_to(out_dir).as_posix()] = users.height
        bar.update(users.height)

        events = make_events(spec)
        partner = rng_for(spec, STREAM_PARTNER).random(events.height) < spec.partner_feed_share
        main, feed = events.filter(~partner), partner_feed(events.filter(pl.Series(partner)))
        path = out_dir / EVENTS.folder / "events.csv"
        _write_atomically(path, events_for_csv(main).write_csv)
        files[path.relative_to(out_dir).as_posix()] = main.height
        if feed.height:
            path = out_dir / EVENTS.folder / "partner-feed.jsonl"
            _write_atomically(path, _iso(feed).select(EVENTS.names).write_ndjson)
            files[path.relative_to(out_dir).as_posix()] = feed.height
        bar.update(events.height)

        follows = make_follows(spec)
        path = out_dir / FOLLOWS.folder / "follows.csv"
        _write_atomically(path, _iso(follows).select(FOLLOWS.names).write_csv)
        files[path.relative_to(out_dir).as_posix()] = follows.height

        days: set[int] = set()
        feedback_rows = 0
        state = event_state(spec)
        for chunk in iter_chunks(spec):
            lines = chunk.json_lines()
            index = chunk.index
            day = chunk.ts // 86_400
            bounds = np.flatnonzero(np.diff(day)) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(day)]])
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
                stamp = date.fromordinal(date(1970, 1, 1).toordinal() + int(day[lo]))
                days.add(int(day[lo]))
                folder = out_dir / INTERACTIONS.folder / f"date={stamp.isoformat()}"
                path = folder / f"part-{index:04d}.jsonl"
                _write_lines(lines.slice(lo, hi - lo), path)
                files[path.relative_to(out_dir).as_posix()] = hi - lo
                bar.update(hi - lo)
            feedback = chunk_feedback(spec, state, chunk)
            feedback_rows += feedback.height
            by_day = _iso(feedback.with_columns(pl.col("occurred_at").dt.date().alias("_day")))
            for (stamp,), rows in by_day.partition_by("_day", as_dict=True).items():
                folder = out_dir / FEEDBACK.folder / f"date={stamp.isoformat()}"
                path = folder / f"part-{index:04d}.jsonl"
                _write_atomically(path, rows.select(FEEDBACK.names).write_ndjson)
                files[path.relative_to(out_dir).as_posix()] = rows.height

    epoch = date(1970, 1, 1).toordinal()
    assert spec.now is not None
    return GenerationSummary(
        out_dir=out_dir,
        now=spec.now,
        users=spec.users,
        events=spec.events,
        interactions=sum(chunk_sizes(spec)),
        feedback=feedback_rows,
        first_day=date.fromordinal(epoch + min(days)) if days else None,
        last_day=date.fromordinal(epoch + max(days)) if days else None,
        files=files,
        seconds=time.perf_counter() - started,
    )
