"""Followed organisers in recommendations: their next events take every third place.

A follow is the most explicit thing a user tells us, and the model learns of it only at the
next training; so the answer itself makes room for it. The model's own order is kept; a
followed organiser's event the model ranked already keeps its place, and the others (soonest
first) take places 3, 6, 9, ... up to a third of the answer.
"""

from __future__ import annotations

from typing import TypeVar

# A row of a recommendation answer: (event id, rendering version, score, reason, model).
Row = TypeVar("Row", bound=tuple)

# The model version the answer names for an event that is there because of a follow.
FOLLOWS_MODEL = "follows"
EVERY = 3


def interleave_followed(personal: list[Row], followed: list[Row], limit: int) -> list[Row]:
    """``personal`` (ranked) with ``followed`` events in every third place, at most ``limit``.

    A followed event takes the score of the item before it, so scores never increase down
    the answer.
    """
    shown = {row[0] for row in personal[:limit]}
    extra = [row for row in followed if row[0] not in shown][: limit // EVERY]
    merged: list[Row] = []
    ranked = iter(personal)
    pending = iter(extra)
    while len(merged) < limit:
        source = pending if (len(merged) + 1) % EVERY == 0 else ranked
        row = next(source, None)
        if row is None:
            row = next(ranked if source is pending else pending, None)
            if row is None:
                break
            source = ranked if source is pending else pending
        if source is pending and merged:
            row = (*row[:2], merged[-1][2], *row[3:])  # type: ignore[assignment]
        merged.append(row)
    return merged
