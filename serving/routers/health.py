"""Liveness and readiness: ``/health`` answers 200 only when the database answers too."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from serving.common import respond
from serving.db import connection, mark_database_failure

router = APIRouter(tags=["operations"])

HEALTH_CHECK_SQL = "SELECT 1"


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> object:
    """Load balancers route traffic by this answer, so it must reflect the database."""
    try:
        async with connection(request) as conn:
            await conn.execute(HEALTH_CHECK_SQL)
    except Exception:
        mark_database_failure(request.app)
        return respond({"status": "unavailable", "database": "unavailable"}, status_code=503)
    return respond({"status": "ok", "database": "ok"})


@router.get("/api/v1/ping", response_model=dict[str, str], include_in_schema=False)
async def ping() -> object:
    """A trivial endpoint: the benchmark's yardstick for the framework's own overhead."""
    return respond({"status": "ok"})
