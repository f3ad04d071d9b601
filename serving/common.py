"""Pieces several routers share: the public event shape, its SQL columns, paging and ids."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from psycopg import AsyncConnection
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, ValidationError

from serving.cursors import decode_cursor, encode_cursor
from serving.errors import ApiError
from serving.responses import OrjsonResponse

MAX_BIGINT = 2**63 - 1

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _rfc3339_only(value: Any) -> Any:
    # pydantic would read a number (or a numeric string) as a Unix time; the document says
    # date-time, and a client sending 1.5 most likely meant something else.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with a time zone")
    return value


DateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
"""A time-zone-aware RFC 3339 date-time, in bodies and query strings alike."""

QueryModel = TypeVar("QueryModel", bound=BaseModel)

EventId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="Event id")]
UserIdQuery = Annotated[int | None, Query(ge=1, le=MAX_BIGINT)]

# The columns of an event as the API shows it, for ``app.events`` aliased ``e``. The price is
# sent as a float: clients parse JSON numbers, and orjson does not encode Decimal. The organiser
# and the venue come as embedded summaries (one index lookup each), the places left from the
# per-event count the registrations keep (migration 0015).
EVENT_COLUMNS = """
    e.id, e.title, e.description, e.category, e.tags, e.starts_at, e.ends_at,
    e.timezone, app.local_time(e.starts_at, e.timezone) AS starts_at_local,
    app.local_time(e.ends_at, e.timezone) AS ends_at_local, e.venue_name,
    e.city, e.lat, e.lng, e.capacity,
    greatest(e.capacity - coalesce((SELECT p.taken FROM app.event_places p
                                    WHERE p.event_id = e.id), 0), 0) AS seats_left,
    e.capacity <= coalesce((SELECT p.taken FROM app.event_places p
                            WHERE p.event_id = e.id), 0) AS sold_out,
    e.price::float8 AS price, e.currency, e.organizer_id,
    (SELECT json_build_object('id', u.id, 'name', nullif(u.name, '')) FROM app.users u
     WHERE u.id = e.organizer_id) AS organizer,
    CASE WHEN e.attendance_mode <> 'online'
              AND (e.venue_id IS NOT NULL OR e.venue_name IS NOT NULL OR e.lat IS NOT NULL)
         THEN json_build_object('id', e.venue_id, 'name', e.venue_name, 'city', e.city,
                                'lat', e.lat, 'lng', e.lng) END AS venue,
    e.attendance_mode, e.online_url, e.image_url, e.series_id,
    e.status, e.version, e.created_at, e.updated_at"""

# What a rendering of an event depends on beyond its own row: the places taken and the
# organiser's name. Caches of rendered events compare this, not the event row's alone.
EVENT_RENDER_VERSION = """
    e.xmin::text
    || '.' || coalesce((SELECT p.xmin::text FROM app.event_places p WHERE p.event_id = e.id), '')
    || '.' || coalesce((SELECT u.xmin::text FROM app.users u WHERE u.id = e.organizer_id), '')"""


class OrganizerSummary(BaseModel):
    """Who runs an event, as lists show it; the profile is ``/organizers/{id}``."""

    id: int
    name: str | None = Field(description="null once the organiser's account was deleted")


class VenueSummary(BaseModel):
    """Where an in-person or hybrid event takes place."""

    id: int | None = Field(description="The feed's venue id; null for venues named only")
    name: str | None
    city: str | None
    lat: float | None
    lng: float | None


AttendanceMode = Literal["in_person", "online", "hybrid"]


class EventOut(BaseModel):
    """An event as every endpoint returns it."""

    id: int
    title: str
    description: str
    category: str | None
    tags: list[str]
    starts_at: datetime = Field(description="Start, as an absolute time (UTC)")
    ends_at: datetime = Field(description="End, as an absolute time (UTC)")
    timezone: str = Field(description="The IANA time zone the event takes place in")
    starts_at_local: str = Field(description="Start as wall-clock time in the event's zone")
    ends_at_local: str = Field(description="End as wall-clock time in the event's zone")
    venue_name: str | None
    city: str | None
    lat: float | None
    lng: float | None
    capacity: int
    seats_left: int = Field(description="Places not taken by confirmed or attended registrations")
    sold_out: bool = Field(description="No place left: new registrations join the waitlist")
    price: float | None
    currency: str
    organizer_id: int | None
    organizer: OrganizerSummary | None
    venue: VenueSummary | None = Field(description="null for online events")
    attendance_mode: AttendanceMode
    online_url: str | None = Field(description="Where online and hybrid events are joined")
    image_url: str | None
    series_id: int | None = Field(description="The recurring series: /series/{id}/events")
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class PageInfo(BaseModel):
    total: int
    limit: int
    offset: int


class CursorPageInfo(PageInfo):
    next_cursor: str | None = Field(
        description="Pass as cursor for the page after this one; null on the last page"
    )


CursorQuery = Annotated[
    str | None,
    Query(
        max_length=300,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="next_cursor of the previous page: keyset paging, stable under inserts "
        "(offset must then be 0)",
    ),
]


class Paging:
    """Offset paging: ``limit`` items from ``offset`` in a stable order chosen by the query."""

    __slots__ = ("limit", "offset")

    def __init__(self, limit: int, offset: int) -> None:
        self.limit = limit
        self.offset = offset


async def paging(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Items to skip")] = 0,
) -> Paging:
    # An async dependency: FastAPI runs plain functions and classes in a worker thread.
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True)
class Keyset:
    """An order a list can be paged through by cursor (see :mod:`serving.cursors`).

    Each column is (SQL expression, item key, SQL type, descending); the last must be unique.
    ``nulls_last_first``: the first column is ascending with nulls after every value (prices).
    Item keys starting with ``_`` are read for the cursor and left out of the page.
    """

    name: str
    columns: tuple[tuple[str, str, str, bool], ...]
    nulls_last_first: bool = False

    def after(self) -> str:
        """The condition "after the cursor's item" over ``%(after_<i>)s`` parameters."""
        if not self.nulls_last_first:
            return _lexicographically_after(self.columns, 0)
        # A position among the valued rows also takes every null one; a position among the
        # null ones only the null ones after it.
        first, _, sql_type, _ = self.columns[0]
        rest = _lexicographically_after(self.columns[1:], 1)
        every = _lexicographically_after(self.columns, 0)
        return (
            f"(CASE WHEN %(after_0)s::{sql_type} IS NULL THEN {first} IS NULL AND {rest}"
            f" ELSE {first} IS NULL OR {every} END)"
        )

    def key_of(self, item: dict[str, Any]) -> list[Any]:
        values = [item[key] for _, key, _, _ in self.columns]
        return [str(v) if isinstance(v, uuid.UUID) else v for v in values]

    def types(self) -> list[type]:
        return [_KEY_TYPES[sql_type] for _, _, sql_type, _ in self.columns]

    def resume(self, cursor: str | None, page: Paging) -> tuple[str, dict[str, Any]]:
        """The condition resuming after ``cursor`` (``TRUE`` without one) and its parameters;
        a 422 for a cursor this order did not hand out, or a cursor with an offset."""
        if cursor is None:
            return "TRUE", {}
        if page.offset:
            raise ApiError(422, "validation_error", "pass either cursor or offset, not both")
        key = decode_cursor(cursor, self.name, self.types())
        return self.after(), {f"after_{i}": value for i, value in enumerate(key)}

    def page(self, items: list[dict[str, Any]], total: int, page: Paging) -> dict[str, Any]:
        """The page of ``items`` (read with one more than ``page.limit``) with its cursor."""
        more = len(items) > page.limit
        shown = items[: page.limit]
        last = encode_cursor(self.name, self.key_of(shown[-1])) if more else None
        return {
            "items": [_public(item) for item in shown],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
            "next_cursor": last,
        }


def _lexicographically_after(columns: tuple[tuple[str, str, str, bool], ...], start: int) -> str:
    terms = []
    for i, (expression, _, sql_type, descending) in enumerate(columns):
        same = [f"{e} = %(after_{start + j})s::{t}" for j, (e, _, t, _) in enumerate(columns[:i])]
        beyond = f"{expression} {'<' if descending else '>'} %(after_{start + i})s::{sql_type}"
        terms.append("(" + " AND ".join([*same, beyond]) + ")")
    return "(" + " OR ".join(terms) + ")"


_KEY_TYPES: dict[str, type] = {
    "timestamptz": datetime,
    "bigint": int,
    "uuid": str,
    "numeric": float,
}

# Where a keyset list's SQL takes the cursor's condition: ``WHERE /*after*/ ...``.
AFTER_MARK = "/*after*/"


async def fetch_page(
    conn: AsyncConnection[Any],
    items_sql: str,
    count_sql: str,
    params: dict[str, Any],
    page: Paging,
    keyset: Keyset | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of a list and the total it is part of, both read in one round trip.

    ``items_sql`` takes ``%(limit)s`` and ``%(offset)s``; ``count_sql`` answers ``total``. With a
    ``keyset`` the page also has ``next_cursor``, and ``cursor`` resumes after its item.
    """
    params = {**params, "limit": page.limit + (keyset is not None), "offset": page.offset}
    if keyset is not None:
        condition, after = keyset.resume(cursor, page)
        params.update(after)
        items_sql = items_sql.replace(AFTER_MARK, f"{condition} AND")
    async with conn.pipeline():
        items_cur = await conn.execute(items_sql, params)
        count_cur = await conn.execute(count_sql, params)
    items = await items_cur.fetchall()
    total = (await count_cur.fetchone())["total"]
    if keyset is not None:
        return keyset.page(items, total, page)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if not key.startswith("_")}


def respond(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> OrjsonResponse:
    """Render ``content`` with orjson, skipping a second validation of rows the SQL shaped."""
    return OrjsonResponse(content, status_code=status_code, headers=headers)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` for a query string described by ``model``.

    Routes that validate their query string themselves (:func:`parse_query`) document it with
    this, so the model stays the single source of both the checks and the documentation.
    """
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = dict(field_schema)
        description = field_schema.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": field_schema,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


_list_field_names: dict[type[BaseModel], frozenset[str]] = {}


def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that take a list (repeated in a query string)."""
    names = _list_field_names.get(model)
    if names is None:
        properties = model.model_json_schema()["properties"]
        names = frozenset(
            name
            for name, schema in properties.items()
            if schema.get("type") == "array"
            or any(option.get("type") == "array" for option in schema.get("anyOf", ()))
        )
        _list_field_names[model] = names
    return names


def parse_query(request: Request, model: type[QueryModel]) -> QueryModel:
    """The query string of ``request`` validated by ``model``; 422 like any other route.

    One pydantic validation of the whole query string costs a fraction of FastAPI's
    per-parameter resolution, which dominates a cheap read. Repeated parameters keep their last
    value, as FastAPI does, except those of a list field, which keep them all.
    """
    params = request.query_params
    lists = _list_fields(model)
    values = {k: params.getlist(k) if k in lists else params[k] for k in params}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            error["loc"] = ("query", *error["loc"])
        raise RequestValidationError(errors) from None


def dependency_tree(dependant: Dependant) -> Iterator[Dependant]:
    """``dependant`` and every dependency under it, depth first."""
    yield dependant
    for dependency in dependant.dependencies:
        yield from dependency_tree(dependency)


# Routes live as long as their app; keyed by identity, as routes are not hashable.
_query_names: dict[int, frozenset[str]] = {}


def _declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` declares, through its dependencies or its OpenAPI extra."""
    known = _query_names.get(id(route))
    if known is not None:
        return known
    names = {
        param.alias for node in dependency_tree(route.dependant) for param in node.query_params
    }
    for parameter in (route.openapi_extra or {}).get("parameters", ()):
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    _query_names[id(route)] = frozenset(names)
    return _query_names[id(route)]


async def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not declare (a 422 naming them).

    A misspelt filter (``categroy=music``) would otherwise be ignored and answer something the
    client did not ask for.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    unknown = set(request.query_params) - _declared_query_names(route)
    if unknown:
        raise RequestValidationError(
            [
                {"loc": ("query", name), "type": "extra_forbidden", "msg": "unknown parameter"}
                for name in sorted(unknown)
            ]
        )
