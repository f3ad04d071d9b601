"""Synthetic landing-zone data: users, an event catalogue and interactions from hidden tastes.

``python -m pipelines.synthetic --out DIR --size small`` writes a landing zone; the functions
below give the same tables as frames, for tests and benchmarks that need no files.
"""

from pipelines.synthetic.interactions import iter_interactions, make_interactions
from pipelines.synthetic.spec import SIZES, GenerationSpec, today_utc_midnight
from pipelines.synthetic.world import (
    EventState,
    UserState,
    event_state,
    make_events,
    make_users,
    user_state,
)
from pipelines.synthetic.writer import GenerationSummary, generate

__all__ = [
    "SIZES",
    "EventState",
    "GenerationSpec",
    "GenerationSummary",
    "UserState",
    "event_state",
    "generate",
    "iter_interactions",
    "make_events",
    "make_interactions",
    "make_users",
    "today_utc_midnight",
    "user_state",
]
