"""A small hand-made data set for the dbt marts, and a way to run the real dbt against it.

Every id is in a range of its own (users 9100xx, events 9200xx, registrations 9300xx) and every
timestamp in June 2021, so the expected values below can be computed by hand and no other data
of the test session collides with them. Used by the dbt tests and the notebook tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from core.settings import REPO_ROOT, get_settings
from pipelines.ingest.app_sync import sync_app_tables

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
_DBT_STATE_DIR = Path(tempfile.mkdtemp(prefix="dbt-marts-tests-"))

# Tables of raw.* this data set fills: truncated before it is loaded.
RAW_TABLES = (
    "raw.users",
    "raw.events",
    "raw.registrations",
    "raw.interactions",
    "raw.recommendation_feedback",
    "raw.quarantine",
)
PARTITION = "raw.interactions_marts_test_202106"

ORGANIZER, ALICE, BOB, CAROL, DAVE, EVE, API_ORGANIZER = range(910001, 910008)
JAZZ, MEETUP, FOOD_FAIR, ART_WALK, API_PITCH = range(920001, 920006)
MODEL_POP, MODEL_ALS = "marts-test-popularity-1", "marts-test-als-2"

LANDED_USERS = [
    # user_id, email, role, city, lat, lng, interests, created_at
    (ORGANIZER, "org@venues.test", "organizer", "Berlin", 52.52, 13.40, [], "2021-05-31 09:00Z"),
    (
        ALICE,
        "Alice@Example.ORG",
        "attendee",
        "Berlin",
        52.50,
        13.41,
        ["jazz", "tech"],
        "2021-06-01 08:00Z",
    ),
    (BOB, "bob@mail.test", "attendee", "Paris", 48.85, 2.35, ["music"], "2021-06-01 10:00Z"),
    (CAROL, "carol@mail.test", "attendee", None, None, None, [], "2021-06-02 10:00Z"),
    (DAVE, "dave@mail.test", "attendee", "Berlin", 52.51, 13.39, ["food"], "2021-06-08 10:00Z"),
    (EVE, "eve@corp.test", "organizer", "Lyon", 45.76, 4.84, [], "2021-05-01 10:00Z"),
]

LANDED_EVENTS = [
    # event_id, title, category, tags, starts_at, capacity, price, organizer_id, status
    (
        JAZZ,
        "Jazz Night",
        "music",
        ["jazz", "live"],
        "2021-06-15 19:00Z",
        3,
        20,
        ORGANIZER,
        "published",
    ),
    (MEETUP, "Tech Meetup", "tech", ["python"], "2021-06-10 18:00Z", 50, 0, ORGANIZER, "completed"),
    (FOOD_FAIR, "Food Fair", "food", [], "2021-06-20 11:00Z", 100, 5, EVE, "cancelled"),
    (ART_WALK, "Art Walk", "art", [], "2021-07-01 15:00Z", 10, 0, EVE, "draft"),
]

# Series and venue ids the feed gives (event_id: (series_id, venue_id)); the rest have none, so
# their series is derived from organiser and normalised title.
LANDED_SERIES_VENUES = {JAZZ: (501, 61), MEETUP: (None, 61), ART_WALK: (None, 62)}

# interaction_id, user_id, event_id, type, occurred_at, source, model_version
INTERACTIONS = [
    ("mt-001", ALICE, JAZZ, "view", "2021-06-01 12:00Z", "web", None),
    ("mt-002", ALICE, JAZZ, "click", "2021-06-01 12:01Z", "web", None),
    ("mt-003", ALICE, JAZZ, "register", "2021-06-02 09:00Z", "web", None),
    ("mt-004", ALICE, JAZZ, "attend", "2021-06-15 19:05Z", "app", None),
    ("mt-005", BOB, JAZZ, "view", "2021-06-01 13:00Z", "app", None),
    ("mt-006", BOB, JAZZ, "click", "2021-06-02 13:00Z", "recommendation", MODEL_POP),
    ("mt-007", CAROL, JAZZ, "view", "2021-06-02 14:00Z", "web", None),
    ("mt-008", CAROL, JAZZ, "dismiss", "2021-06-02 14:01Z", "web", None),
    ("mt-009", DAVE, JAZZ, "view", "2021-06-09 10:00Z", "web", None),
    ("mt-010", DAVE, JAZZ, "favorite", "2021-06-09 10:01Z", "web", None),
    ("mt-011", DAVE, JAZZ, "register", "2021-06-10 10:00Z", "recommendation", MODEL_ALS),
    ("mt-012", ALICE, MEETUP, "view", "2021-06-03 08:00Z", "web", None),
    ("mt-013", BOB, MEETUP, "view", "2021-06-03 09:00Z", "web", None),
    ("mt-014", BOB, MEETUP, "share", "2021-06-04 09:00Z", "app", None),
    ("mt-015", CAROL, MEETUP, "view", "2021-06-05 09:00Z", "web", None),
    ("mt-016", CAROL, MEETUP, "click", "2021-06-05 09:01Z", "web", None),
    ("mt-017", CAROL, MEETUP, "register", "2021-06-05 09:02Z", "web", None),
    ("mt-018", EVE, MEETUP, "view", "2021-06-07 09:00Z", "web", None),
    ("mt-019", CAROL, API_PITCH, "view", "2021-06-12 09:00Z", "web", None),
    # Re-delivered on another day: the same interaction id twice in raw, once in the marts.
    ("mt-dup", DAVE, MEETUP, "view", "2021-06-03 10:00Z", "web", None),
    ("mt-dup", DAVE, MEETUP, "view", "2021-06-04 10:00Z", "web", None),
]

# Arriving after the first build: one new interaction and a re-delivery of one already built.
LATE_INTERACTIONS = [
    ("mt-101", EVE, JAZZ, "view", "2021-06-18 09:00Z", "web", None),
    ("mt-001", ALICE, JAZZ, "view", "2021-06-01 12:30Z", "web", None),
]

# registration_id, user_id, event_id, status, created_at
LANDED_REGISTRATIONS = [
    (930001, ALICE, JAZZ, "attended", "2021-06-02 09:00Z"),
    (930002, DAVE, JAZZ, "confirmed", "2021-06-10 10:00Z"),
    (930003, BOB, JAZZ, "waitlisted", "2021-06-02 13:05Z"),
    (930004, CAROL, MEETUP, "confirmed", "2021-06-05 09:02Z"),
]

# feedback_id, user_id, event_id, model_version, action, position, occurred_at
LANDED_FEEDBACK = [
    (
        "00000000-0000-4000-8000-000000000001",
        BOB,
        JAZZ,
        MODEL_POP,
        "impression",
        0,
        "2021-06-02 12:59Z",
    ),
    (
        "00000000-0000-4000-8000-000000000002",
        CAROL,
        MEETUP,
        MODEL_POP,
        "impression",
        1,
        "2021-06-05 09:00Z",
    ),
    (
        "00000000-0000-4000-8000-000000000003",
        ALICE,
        MEETUP,
        MODEL_POP,
        "impression",
        2,
        "2021-06-03 07:59Z",
    ),
    ("00000000-0000-4000-8000-000000000004", BOB, JAZZ, MODEL_POP, "click", 0, "2021-06-02 13:00Z"),
    (
        "00000000-0000-4000-8000-000000000005",
        DAVE,
        JAZZ,
        MODEL_ALS,
        "impression",
        0,
        "2021-06-09 09:59Z",
    ),
    (
        "00000000-0000-4000-8000-000000000006",
        DAVE,
        MEETUP,
        MODEL_ALS,
        "impression",
        1,
        "2021-06-09 09:59Z",
    ),
]
API_FEEDBACK_ID = "00000000-0000-4000-8000-000000000007"


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=False)


def load(url: str) -> None:
    """Empty the raw tables this data set uses, then load it (raw.* plus a few API rows, their
    registration and feedback copied into raw as the ingest does)."""
    with _connect(url) as conn:
        remove_api_rows(conn)
        conn.execute(f"truncate {', '.join(RAW_TABLES)}")
        conn.execute(
            f"create table if not exists {PARTITION} partition of raw.interactions"
            " for values from ('2021-06-01') to ('2021-07-01')"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.users (user_id, email, name, role, home_city, home_lat,"
                " home_lng, interests, created_at, updated_at, _source)"
                " values (%s, %s, 'Someone', %s, %s, %s, %s, %s, %s, %s, 'users/test.csv')",
                [(*row, row[-1]) for row in LANDED_USERS],
            )
            cur.executemany(
                "insert into raw.events (event_id, title, description, category, tags, starts_at,"
                " ends_at, venue_name, city, lat, lng, capacity, price, currency, organizer_id,"
                " series_id, venue_id, status, created_at, updated_at, _source)"
                " values (%s, %s, 'About ' || %s, %s, %s, %s, %s::timestamptz + interval '2 hours',"
                " 'Hall', 'Berlin', 52.5, 13.4, %s, %s, 'EUR', %s, %s, %s, %s, '2021-05-20Z',"
                " '2021-05-20Z', 'events/test.csv')",
                [
                    (
                        eid,
                        title,
                        title,
                        cat,
                        tags,
                        starts,
                        starts,
                        cap,
                        price,
                        org,
                        *LANDED_SERIES_VENUES.get(eid, (None, None)),
                        status,
                    )
                    for eid, title, cat, tags, starts, cap, price, org, status in LANDED_EVENTS
                ],
            )
            cur.executemany(
                "insert into raw.registrations (registration_id, user_id, event_id, status,"
                " created_at, updated_at) values (%s, %s, %s, %s, %s, %s)",
                [(*row, row[-1]) for row in LANDED_REGISTRATIONS],
            )
            cur.executemany(
                "insert into raw.recommendation_feedback (feedback_id, user_id, event_id,"
                " model_version, action, position, occurred_at, received_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(*row, row[-1]) for row in LANDED_FEEDBACK],
            )
            cur.executemany(
                "insert into raw.quarantine (dataset, source_file, line, reason, record)"
                " values ('interactions', 'interactions/date=2021-06-01/a.jsonl', %s, %s, '{}')",
                [(3, "invalid timestamp"), (7, "invalid timestamp"), (9, "unknown event_id")],
            )
        insert_interactions(conn, INTERACTIONS[:-1], loaded_at="2021-06-20 00:00Z")
        # The re-delivery is loaded later, so it is the version the marts keep.
        insert_interactions(conn, INTERACTIONS[-1:], loaded_at="2021-06-21 00:00Z")
        _insert_api_rows(conn)
        # The API's registrations and feedback reach the marts only through their raw copies:
        # the platform's own sync, from the start (other tests moved its watermarks on).
        synced = ("app.registrations", "app.recommendation_feedback")
        conn.execute("delete from raw.watermarks where source = any(%s)", (list(synced),))
        sync_app_tables(conn, synced)


def insert_interactions(
    conn: psycopg.Connection, rows: Sequence[tuple], loaded_at: str | None = None
) -> None:
    """Insert interactions into raw (``loaded_at`` None: the time of the insert)."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.interactions (interaction_id, user_id, event_id, type, occurred_at,"
            " source, context, model_version, _source_file, _loaded_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, 'interactions/test.jsonl',"
            " coalesce(%s::timestamptz, now()))",
            [(*row[:6], Jsonb({}), row[6], loaded_at) for row in rows],
        )


def _insert_api_rows(conn: psycopg.Connection) -> None:
    """Rows only the API holds yet: a sign-up, an event, a registration, a feedback, an edit."""
    conn.execute(
        "insert into app.users (id, email, name, password_hash, role, home_city, interests,"
        " created_at, updated_at) values"
        " (%s, 'pitch@startups.test', 'Pat', 'argon2-hash', 'organizer', 'Munich', '{}',"
        "  '2021-06-01 11:00Z', '2021-06-01 11:00Z'),"
        " (%s, 'alice@example.org', 'Alice', 'argon2-hash', 'attendee', 'Hamburg',"
        "  '{jazz,tech}', '2021-06-01 08:00Z', '2021-06-11 08:00Z')",
        (API_ORGANIZER, ALICE),
    )
    conn.execute(
        "insert into app.events (id, title, description, category, tags, starts_at, ends_at,"
        " city, capacity, price, currency, organizer_id, status, created_at, updated_at,"
        " timezone, attendance_mode, online_url)"
        " values (%s, 'Startup Pitch', 'Pitches', 'tech', '{startups}', '2021-06-30 18:00Z',"
        " '2021-06-30 20:00Z', 'Munich', 30, 10, 'EUR', %s, 'published', '2021-06-11Z',"
        " '2021-06-11Z', 'Europe/Berlin', 'hybrid', 'https://live.example.org/pitch')",
        (API_PITCH, API_ORGANIZER),
    )
    conn.execute(
        "insert into app.organizer_follows (user_id, organizer_id, created_at)"
        " values (%s, %s, '2021-06-12 09:00Z')",
        (ALICE, API_ORGANIZER),
    )
    conn.execute(
        "insert into app.registrations (id, user_id, event_id, status, created_at, updated_at)"
        " values (930010, %s, %s, 'confirmed', '2021-06-12Z', '2021-06-12Z')",
        (ALICE, API_PITCH),
    )
    conn.execute(
        "insert into app.recommendation_feedback (id, user_id, event_id, model_version, action,"
        " position, occurred_at) values (%s, %s, %s, %s, 'impression', 0, '2021-06-11 12:00Z')",
        (API_FEEDBACK_ID, ALICE, API_PITCH, MODEL_ALS),
    )


def remove_api_rows(conn: psycopg.Connection) -> None:
    """Delete the API rows of this data set (and nothing else of app.*)."""
    conn.execute("delete from app.recommendation_feedback where id = %s", (API_FEEDBACK_ID,))
    conn.execute("delete from app.registrations where id = 930010")
    conn.execute("delete from app.events where id between 920001 and 920099")
    conn.execute("delete from app.users where id between 910001 and 910099")


def unload(url: str) -> None:
    """Remove the data set again, so later tests in the session start from their own data."""
    with _connect(url) as conn:
        remove_api_rows(conn)
        conn.execute(f"truncate {', '.join(RAW_TABLES)}")
        conn.execute(f"drop table if exists {PARTITION}")


def rebuild_marts() -> None:
    """Rebuild every model from scratch on what the tables hold now (no data tests: the data
    may belong to other tests)."""
    run_dbt("build", "--full-refresh", "--exclude-resource-type", "test")


def run_dbt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real dbt CLI against the test database, ``env`` added to its environment; on
    failure, raise with its output."""
    env = {
        **os.environ,
        **get_settings().dbt_env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(env or {}),
    }
    command = [
        str(DBT_EXECUTABLE),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(_DBT_STATE_DIR / "target"),
        "--log-path",
        str(_DBT_STATE_DIR / "logs"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result
