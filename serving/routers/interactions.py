"""Interactions and recommendation feedback: what users did, written for the next ingest.

Both accept one item or a batch. Each item carries a client-generated UUID, and rows whose id is
already stored are skipped, so a client may resend a batch after a timeout without duplicating
anything. Users post for themselves; admins and the service client for anyone.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import orjson
from fastapi import APIRouter, Body, Path, Request
from psycopg.types.json import Jsonb
from pydantic import AfterValidator, BaseModel, Field, StrictInt, field_validator

from core.contracts import FEEDBACK_ACTIONS, INTERACTION_SOURCES, INTERACTION_TYPES
from core.settings import get_settings
from serving.answer_cache import recommendation_answers
from serving.common import (
    AFTER_MARK,
    MAX_BIGINT,
    CursorPageInfo,
    CursorQuery,
    DateTime,
    Keyset,
    PagingDep,
    fetch_page,
    respond,
)
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError, forbidden
from serving.security import CurrentPrincipal, Principal
from serving.text import StorableStr

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

MAX_BATCH = 1000
MAX_CONTEXT_BYTES = 4096

InteractionType = Literal["view", "click", "favorite", "share", "register", "attend", "dismiss"]
InteractionSource = Literal["web", "app", "recommendation"]
FeedbackAction = Literal["impression", "click", "register", "dismiss", "like", "dislike"]
assert set(InteractionType.__args__) == set(INTERACTION_TYPES)
assert set(InteractionSource.__args__) == set(INTERACTION_SOURCES)
assert set(FeedbackAction.__args__) == set(FEEDBACK_ACTIONS)

Id = Annotated[StrictInt, Field(ge=1, le=MAX_BIGINT)]
# A client's clock may run a little ahead of ours; further ahead is a wrong clock or a typo.
CLOCK_SKEW = timedelta(minutes=10)


def _plausible_time(value: datetime | None) -> datetime | None:
    """Times between the first interaction partition and a little after now; else 422."""
    if value is None:
        return None
    earliest = datetime.combine(get_settings().interactions_start_date, time(), UTC)
    latest = datetime.now(UTC) + CLOCK_SKEW
    if not earliest <= value <= latest:
        raise ValueError(
            f"must be between {earliest.isoformat()} and {latest.isoformat()} (now plus "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes)"
        )
    return value


OccurredAt = Annotated[
    DateTime | None,
    AfterValidator(_plausible_time),
    Field(description="Defaults to now; not before the first interaction partition, not ahead"),
]
ModelVersion = Annotated[StorableStr, Field(min_length=1, max_length=100)]

MISSING_USERS_SQL = """
    SELECT u.id FROM unnest(%(ids)s::bigint[]) AS u(id)
    WHERE NOT EXISTS (SELECT 1 FROM app.users x WHERE x.id = u.id)"""
MISSING_EVENTS_SQL = """
    SELECT v.id FROM unnest(%(ids)s::bigint[]) AS v(id)
    WHERE NOT EXISTS (SELECT 1 FROM app.events x WHERE x.id = v.id)"""

INSERT_INTERACTIONS_SQL = """
    INSERT INTO app.interactions (id, user_id, event_id, type, occurred_at, source, context,
                                  model_version)
    SELECT * FROM unnest(%(id)s::uuid[], %(user_id)s::bigint[], %(event_id)s::bigint[],
                         %(type)s::text[], %(occurred_at)s::timestamptz[], %(source)s::text[],
                         %(context)s::jsonb[], %(model_version)s::text[])
    ON CONFLICT (id) DO NOTHING
    RETURNING id"""

USER_INTERACTIONS_SQL = f"""
    SELECT i.id, i.user_id, i.event_id, i.type, i.occurred_at, i.source, i.context,
           i.model_version
    FROM app.interactions i WHERE {AFTER_MARK} i.user_id = %(user_id)s
      AND (%(type)s::text IS NULL OR i.type = %(type)s)
    ORDER BY i.occurred_at DESC, i.id LIMIT %(limit)s OFFSET %(offset)s"""
# A history is paged by cursor newest first (ties by id).
HISTORY_ORDER = Keyset(
    "history",
    (("i.occurred_at", "occurred_at", "timestamptz", True), ("i.id", "id", "uuid", False)),
)
COUNT_USER_INTERACTIONS_SQL = """
    SELECT count(*) AS total FROM app.interactions i WHERE i.user_id = %(user_id)s
      AND (%(type)s::text IS NULL OR i.type = %(type)s)"""

INSERT_FEEDBACK_SQL = """
    INSERT INTO app.recommendation_feedback (id, user_id, event_id, model_version, action,
                                             position, occurred_at)
    SELECT * FROM unnest(%(id)s::uuid[], %(user_id)s::bigint[], %(event_id)s::bigint[],
                         %(model_version)s::text[], %(action)s::text[], %(position)s::int[],
                         %(occurred_at)s::timestamptz[])
    ON CONFLICT (id) DO NOTHING
    RETURNING id"""


class InteractionIn(BaseModel):
    id: UUID = Field(description="Client-generated; resending the same id is a no-op")
    user_id: Id | None = Field(default=None, description="Defaults to the caller")
    event_id: Id
    type: InteractionType
    occurred_at: OccurredAt = None
    source: InteractionSource = "web"
    context: dict[str, Any] = Field(default_factory=dict)
    model_version: ModelVersion | None = None

    @field_validator("context")
    @classmethod
    def _small_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            encoded = orjson.dumps(value)
        except TypeError:  # integers beyond 64 bits, which jsonb consumers would mangle
            raise ValueError("context holds a value JSON consumers cannot read") from None
        if len(encoded) > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is larger than {MAX_CONTEXT_BYTES} bytes")
        return value


class FeedbackIn(BaseModel):
    id: UUID = Field(description="Client-generated; resending the same id is a no-op")
    user_id: Id | None = Field(default=None, description="Defaults to the caller")
    event_id: Id
    model_version: ModelVersion
    action: FeedbackAction
    position: Annotated[StrictInt, Field(ge=0, le=10_000)] | None = None
    occurred_at: OccurredAt = None


Item = TypeVar("Item", bound=BaseModel)
# A batch holds 1 to MAX_BATCH items; the bounds are in the OpenAPI document too.
Batch = Annotated[list[Item], Field(min_length=1, max_length=MAX_BATCH)]


class InteractionOut(BaseModel):
    id: UUID
    user_id: int
    event_id: int
    type: str
    occurred_at: datetime
    source: str
    context: dict[str, Any]
    model_version: str | None


class InteractionPage(CursorPageInfo):
    items: list[InteractionOut]


class Accepted(BaseModel):
    """How many items were stored now, and how many were already there."""

    accepted: int
    duplicates: int


def _owners(items: list[Any], principal: Principal) -> list[int]:
    """The user of each item; callers other than admins/service may only post their own."""
    owners = []
    for item in items:
        user_id = item.user_id or principal.user_id
        if user_id is None:
            raise ApiError(422, "validation_error", "user_id is required with a service token")
        if not principal.may_act_for(user_id):
            raise forbidden("users post their own interactions only")
        owners.append(user_id)
    return owners


async def _check_references(conn: Connection, user_ids: list[int], event_ids: list[int]) -> None:
    """Unknown users or events are the client's mistake (422), not a foreign-key crash."""
    cur = await conn.execute(MISSING_USERS_SQL, {"ids": sorted(set(user_ids))})
    missing_users = [row["id"] for row in await cur.fetchall()]
    cur = await conn.execute(MISSING_EVENTS_SQL, {"ids": sorted(set(event_ids))})
    missing_events = [row["id"] for row in await cur.fetchall()]
    if missing_users or missing_events:
        raise ApiError(
            422,
            "unknown_reference",
            "some users or events do not exist",
            details={"user_ids": missing_users, "event_ids": missing_events},
        )


def _as_list(body: Any) -> list[Any]:
    return body if isinstance(body, list) else [body]


async def _checked_batch(
    body: Any, conn: Connection, principal: Principal
) -> tuple[list[Any], list[int], list[int]]:
    """The batch as a list, each item's owner allowed and its user and event known."""
    items = _as_list(body)
    users = _owners(items, principal)
    events = [item.event_id for item in items]
    await _check_references(conn, users, events)
    return items, users, events


def _forget_answers_of(request: Request, users: list[int], negative: list[bool]) -> None:
    """Drop the cached recommendations of users who just dismissed or disliked an event."""
    answers = recommendation_answers(request)
    for user_id in {user for user, flag in zip(users, negative, strict=True) if flag}:
        answers.user_changed(user_id)


@router.post("/interactions", response_model=Accepted, status_code=202, tags=["interactions"])
async def post_interactions(
    request: Request,
    body: Annotated[InteractionIn | Batch[InteractionIn], Body()],
    conn: Connection,
    principal: CurrentPrincipal,
) -> object:
    """Record one interaction or a batch (at most 1000); duplicates by id are skipped."""
    items, users, events = await _checked_batch(body, conn, principal)
    now = datetime.now(UTC)
    params = {
        "id": [item.id for item in items],
        "user_id": users,
        "event_id": events,
        "type": [item.type for item in items],
        "occurred_at": [item.occurred_at or now for item in items],
        "source": [item.source for item in items],
        "context": [Jsonb(item.context) for item in items],
        "model_version": [item.model_version for item in items],
    }
    cur = await conn.execute(INSERT_INTERACTIONS_SQL, params)
    stored = len(await cur.fetchall())
    _forget_answers_of(request, users, [item.type == "dismiss" for item in items])
    return respond({"accepted": stored, "duplicates": len(items) - stored}, status_code=202)


@router.post(
    "/recommendations/feedback",
    response_model=Accepted,
    status_code=202,
    tags=["recommendations"],
)
async def post_feedback(
    request: Request,
    body: Annotated[FeedbackIn | Batch[FeedbackIn], Body()],
    conn: Connection,
    principal: CurrentPrincipal,
) -> object:
    """Record what users did with recommendations (impressions, clicks, dismissals...)."""
    items, users, events = await _checked_batch(body, conn, principal)
    now = datetime.now(UTC)
    params = {
        "id": [item.id for item in items],
        "user_id": users,
        "event_id": events,
        "model_version": [item.model_version for item in items],
        "action": [item.action for item in items],
        "position": [item.position for item in items],
        "occurred_at": [item.occurred_at or now for item in items],
    }
    cur = await conn.execute(INSERT_FEEDBACK_SQL, params)
    stored = len(await cur.fetchall())
    _forget_answers_of(request, users, [item.action in ("dismiss", "dislike") for item in items])
    return respond({"accepted": stored, "duplicates": len(items) - stored}, status_code=202)


@router.get("/users/{user_id}/interactions", response_model=InteractionPage, tags=["interactions"])
async def list_user_interactions(
    user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)],
    conn: Connection,
    principal: CurrentPrincipal,
    paging: PagingDep,
    type: InteractionType | None = None,
    cursor: CursorQuery = None,
) -> object:
    """A user's history, newest first; private to the user, admins and the service.

    Pages by ``offset`` or ``cursor``.
    """
    if not principal.may_act_for(user_id):
        raise forbidden("history is private to its user")
    params = {"user_id": user_id, "type": type}
    return respond(
        await fetch_page(
            conn,
            USER_INTERACTIONS_SQL,
            COUNT_USER_INTERACTIONS_SQL,
            params,
            paging,
            HISTORY_ORDER,
            cursor,
        )
    )
