"""Data contracts: the landing-zone file formats and the vocabularies shared by every part.

The generator writes these formats, the ingest assets validate against them, the API accepts the
same vocabularies. Change a contract here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

USER_ROLES = ("attendee", "organizer", "admin")
EVENT_STATUSES = ("draft", "published", "cancelled", "completed")
REGISTRATION_STATUSES = ("confirmed", "waitlisted", "cancelled", "attended")
INTERACTION_TYPES = ("view", "click", "favorite", "share", "register", "attend", "dismiss")
INTERACTION_SOURCES = ("web", "app", "recommendation")
ATTENDANCE_MODES = ("in_person", "online", "hybrid")
FEEDBACK_ACTIONS = ("impression", "click", "register", "dismiss", "like", "dislike")

# Implicit-feedback strength of each interaction type for the recommenders; a dismissal is a
# negative signal and never counts as a positive.
INTERACTION_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "favorite": 4.0,
    "share": 4.0,
    "register": 6.0,
    "attend": 8.0,
    "dismiss": 0.0,
}

# The PostgreSQL channel on which changes that alter recommendation answers are announced (by
# the triggers of migration 0006 and by the serving swap); the API's workers listen on it.
RECOMMENDATIONS_CHANGED_CHANNEL = "recommendations_changed"

# Listings curation keeps out of lists and search (duplicates of another feed's listing, and
# those an admin rejected), and out of recommendations (also low quality): SQL predicates on an
# ``app.events`` row aliased ``e``, over ``app.event_curation`` (migration 0017). A listing
# without a curation row is its own canonical event and shown.
CURATION_LISTED = """NOT EXISTS (SELECT 1 FROM app.event_curation c
                WHERE c.event_id = e.id AND (c.canonical_id <> c.event_id OR c.rejected))"""
CURATION_RECOMMENDABLE = """NOT EXISTS (SELECT 1 FROM app.event_curation c
                WHERE c.event_id = e.id
                  AND (c.canonical_id <> c.event_id OR c.rejected OR c.low_quality))"""

# Separator of list values (tags, interests) inside CSV cells.
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Column:
    """One column of a landed file: its name, logical type and whether a row may lack it."""

    name: str
    type: str  # one of: int, float, str, datetime, str_list, json
    required: bool = True


@dataclass(frozen=True)
class LandingDataset:
    """A landing-zone dataset: where its files are and what each row must hold."""

    name: str
    folder: str
    formats: tuple[str, ...]
    key: str | tuple[str, ...]  # the column, or columns, that name a row
    columns: tuple[Column, ...]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else self.key

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


USERS = LandingDataset(
    name="users",
    folder="users",
    formats=("csv", "jsonl"),
    key="user_id",
    columns=(
        Column("user_id", "int"),
        Column("email", "str"),
        Column("name", "str"),
        Column("role", "str"),
        Column("home_city", "str", required=False),
        Column("home_lat", "float", required=False),
        Column("home_lng", "float", required=False),
        Column("interests", "str_list", required=False),
        Column("created_at", "datetime"),
        Column("updated_at", "datetime"),
    ),
)

EVENTS = LandingDataset(
    name="events",
    folder="events",
    formats=("csv", "jsonl"),
    key="event_id",
    columns=(
        Column("event_id", "int"),
        Column("title", "str"),
        Column("description", "str", required=False),
        Column("category", "str", required=False),
        Column("tags", "str_list", required=False),
        Column("starts_at", "datetime"),
        Column("ends_at", "datetime"),
        Column("venue_name", "str", required=False),
        Column("city", "str", required=False),
        Column("lat", "float", required=False),
        Column("lng", "float", required=False),
        Column("capacity", "int"),
        Column("price", "float", required=False),
        Column("currency", "str"),
        Column("organizer_id", "int", required=False),
        # The recurring series and the venue of the event, as the feed numbers them (no venue:
        # online); a feed without series ids gets them derived from organiser and title in dbt.
        Column("series_id", "int", required=False),
        Column("venue_id", "int", required=False),
        # The partner's own (alphanumeric) id of the listing.
        Column("external_id", "str", required=False),
        # The IANA zone of the event's place (default UTC), how it is attended (default: in
        # person, or online for a venue named "Online"), its online URL and an image.
        Column("timezone", "str", required=False),
        Column("attendance_mode", "str", required=False),
        Column("online_url", "str", required=False),
        Column("image_url", "str", required=False),
        Column("status", "str"),
        Column("created_at", "datetime"),
        Column("updated_at", "datetime"),
    ),
)

# Interactions land as JSON Lines under ``interactions/date=YYYY-MM-DD/``.
INTERACTIONS = LandingDataset(
    name="interactions",
    folder="interactions",
    formats=("jsonl", "parquet"),
    key="interaction_id",
    columns=(
        Column("interaction_id", "str"),
        Column("user_id", "int"),
        Column("event_id", "int"),
        Column("type", "str"),
        Column("timestamp", "datetime"),
        Column("source", "str"),
        Column("context", "json", required=False),
        Column("model_version", "str", required=False),
    ),
)

# What the recommendation widget logged (which model version showed what to whom, and what the
# user did with it), as JSON Lines under ``recommendation_feedback/date=YYYY-MM-DD/``; the same
# rows the API's ``POST /recommendations/feedback`` writes, for clients that log in batches.
FEEDBACK = LandingDataset(
    name="recommendation_feedback",
    folder="recommendation_feedback",
    formats=("jsonl",),
    key="feedback_id",
    columns=(
        Column("feedback_id", "str"),
        Column("user_id", "int"),
        Column("event_id", "int"),
        Column("model_version", "str"),
        Column("action", "str"),
        Column("position", "int", required=False),
        Column("occurred_at", "datetime"),
    ),
)

# Who follows which organiser, as a partner's community export re-sends it whole (CSV or JSON
# Lines under ``organizer_follows/``); published into the API's follows once, so an unfollow made
# through the API is kept.
FOLLOWS = LandingDataset(
    name="organizer_follows",
    folder="organizer_follows",
    formats=("csv", "jsonl"),
    key=("user_id", "organizer_id"),
    columns=(
        Column("user_id", "int"),
        Column("organizer_id", "int"),
        Column("followed_at", "datetime"),
    ),
)

LANDING_DATASETS = {d.name: d for d in (USERS, EVENTS, INTERACTIONS, FEEDBACK, FOLLOWS)}
