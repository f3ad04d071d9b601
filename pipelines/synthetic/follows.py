"""Who follows which organiser: members of an organiser with an account follow it, some of them.

A follow is the explicit half of a membership: a share ``FOLLOW_SHARE`` of the (user, organiser)
memberships whose organiser has an account are follows, made at a time between the later of the
two accounts' sign-ups and ``now``. The ids are user ids, as ``core.contracts.FOLLOWS`` takes them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.world import STREAM_FOLLOWS, member_state, rng_for, user_state, world_state

FOLLOW_SHARE = 0.4


def make_follows(spec: GenerationSpec) -> pl.DataFrame:
    """The follows as a partner's community export lands them, sorted by time."""
    members, world, users = member_state(spec), world_state(spec), user_state(spec)
    rng = rng_for(spec, STREAM_FOLLOWS)
    user = np.repeat(np.arange(spec.users), members.organizers.shape[1])
    organizer = members.organizers.reshape(-1)
    owner = np.where(organizer >= 0, world.org_owner[np.maximum(organizer, 0)], -1)
    follows = (owner >= 0) & (owner != user) & (rng.random(user.size) < FOLLOW_SHARE)
    user, owner = user[follows], owner[follows]
    # A user may be a member of two organisers with one owner: one follow of that account.
    pairs = np.unique(np.stack([user, owner], axis=1), axis=0)
    user, owner = pairs[:, 0], pairs[:, 1]
    earliest = np.maximum(users.created_s[user], users.created_s[owner])
    at = earliest + (rng.random(user.size) * np.maximum(spec.now_s - earliest, 0)).astype(np.int64)
    return pl.DataFrame(
        {
            "user_id": (user + 1).astype(np.int64),
            "organizer_id": (owner + 1).astype(np.int64),
            "followed_at": pl.from_epoch(pl.Series(at), time_unit="s").dt.replace_time_zone("UTC"),
        }
    ).sort("followed_at", "user_id", "organizer_id")
