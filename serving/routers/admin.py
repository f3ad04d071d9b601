"""Admins' review of curation: the queue the batch filled, and the decisions that settle it.

Admin accounts only (not the service client: a decision is a person's, and it names them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from serving.common import MAX_BIGINT, PageInfo, PagingDep, fetch_page, respond
from serving.curation import (
    QUEUE_COUNT_SQL,
    QUEUE_PAGE_SQL,
    Action,
    ReviewKind,
    record_decision,
)
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, forbidden
from serving.security import CurrentPrincipal, Principal
from serving.text import StorableStr

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=ERROR_RESPONSES)


def _require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise forbidden("curation is reviewed by admins")


class ReviewItem(BaseModel):
    kind: ReviewKind
    event_id: int
    title: str
    other_event_id: int | None = Field(description="The other listing of an uncertain pair")
    other_title: str | None
    score: float = Field(description="Match probability, quality score or category confidence")
    evidence: str
    queued_at: datetime
    decision: Action | None = Field(description="The latest decision about the item, if any")
    decided_at: datetime | None
    decided_by: int | None


class ReviewPage(PageInfo):
    items: list[ReviewItem]


@router.get("/curation", response_model=ReviewPage)
async def curation_queue(
    conn: Connection,
    principal: CurrentPrincipal,
    paging: PagingDep,
    kind: ReviewKind | None = None,
    state: Annotated[
        Literal["open", "decided", "all"],
        Query(description="open: no decision since it was queued"),
    ] = "open",
) -> object:
    """Listings to review: low quality, uncertain duplicate pairs, low-confidence categories.

    Uncertain pairs first (least likely first), then low quality (lowest score first), then
    categories (least confident first), each with its evidence and the latest decision.
    """
    _require_admin(principal)
    page = await fetch_page(
        conn, QUEUE_PAGE_SQL, QUEUE_COUNT_SQL, {"kind": kind, "state": state}, paging
    )
    return respond(page)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action = Field(
        description="merge: event_id is the same real event as other_event_id; split: "
        "event_id is an event of its own; accept: not junk; reject: junk, hidden everywhere"
    )
    event_id: Annotated[int, Field(ge=1, le=MAX_BIGINT)]
    other_event_id: Annotated[int, Field(ge=1, le=MAX_BIGINT)] | None = None
    note: Annotated[StorableStr, Field(max_length=2000)] | None = None


class DecisionOut(BaseModel):
    id: int
    action: Action
    event_id: int
    other_event_id: int | None
    note: str | None
    decided_by: int | None
    decided_at: datetime


@router.post("/curation/decisions", response_model=DecisionOut, status_code=201)
async def decide(body: DecisionIn, conn: Connection, principal: CurrentPrincipal) -> object:
    """Record a decision; it takes effect at once and wins over the next curation batch."""
    _require_admin(principal)
    decision = await record_decision(
        conn,
        action=body.action,
        event_id=body.event_id,
        other_event_id=body.other_event_id,
        note=body.note,
        decided_by=principal.user_id,
    )
    return respond(decision, status_code=201)
