"""Synthetic landing-zone data shaped like real event platforms: organisers with members,
recurring series at repeated venues, boilerplate organiser tags, missing fields, cold upcoming
events, and interactions from the users' hidden habits.

``python -m pipelines.synthetic --out DIR --size small`` writes a landing zone; the functions
below give the same tables as frames, for tests and benchmarks that need no files, and
:func:`model_frames` gives them in the recommendation library's conventions.
"""

from pipelines.synthetic.interactions import iter_interactions, make_interactions
from pipelines.synthetic.model_frames import model_frames
from pipelines.synthetic.spec import SIZES, GenerationSpec, today_utc_midnight
from pipelines.synthetic.world import (
    EventState,
    MemberState,
    UserState,
    WorldState,
    event_state,
    make_events,
    make_users,
    member_state,
    user_state,
    world_state,
)
from pipelines.synthetic.writer import GenerationSummary, generate

__all__ = [
    "SIZES",
    "EventState",
    "GenerationSpec",
    "GenerationSummary",
    "MemberState",
    "UserState",
    "WorldState",
    "event_state",
    "generate",
    "iter_interactions",
    "make_events",
    "make_interactions",
    "make_users",
    "member_state",
    "model_frames",
    "today_utc_midnight",
    "user_state",
    "world_state",
]
