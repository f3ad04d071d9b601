"""The dbt project built for real on a hand-made data set: the marts hold hand-computed values.

The module builds once (``dbt build --full-refresh``, models and their data tests), the tests read
the marts, and the last test lands late interactions and checks the incremental run.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import marts_dataset as ds
import polars as pl
import psycopg
import pytest

from core.contracts import INTERACTION_WEIGHTS
from pipelines.ml.training_data import load_training_data

pytestmark = pytest.mark.integration

AS_OF = "2021-06-20T00:00:00+00:00"
BUILD_VARS = f'{{popularity_as_of: "{AS_OF}"}}'


@pytest.fixture(scope="module")
def marts(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the test database after the data set was loaded and the marts built."""
    ds.load(database_url)
    ds.run_dbt("build", "--full-refresh", "--vars", BUILD_VARS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn
    ds.unload(database_url)
    ds.rebuild_marts()


def rows(conn: psycopg.Connection, query: str, *params: object) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def scalar(conn: psycopg.Connection, query: str, *params: object) -> object:
    return conn.execute(query, params).fetchone()[0]


def test_weights_seed_matches_the_contract() -> None:
    with (ds.DBT_PROJECT_DIR / "seeds" / "interaction_type_weights.csv").open() as f:
        seed = {row["interaction_type"]: float(row["weight"]) for row in csv.DictReader(f)}

    assert seed == INTERACTION_WEIGHTS


def test_marts_hold_one_row_per_key(marts: psycopg.Connection) -> None:
    users = "between 910001 and 910099"
    events = "between 920001 and 920099"
    counts = {
        table: scalar(marts, f"select count(*) from marts.{table} where {key} {ids}")
        for table, key, ids in [
            ("dim_users", "user_id", users),
            ("dim_events", "event_id", events),
            ("fct_interactions", "event_id", events),
            ("fct_registrations", "event_id", events),
            ("fct_recommendation_feedback", "event_id", events),
            ("mart_event_popularity", "event_id", events),
            ("mart_event_funnel", "event_id", events),
            ("mart_organizer_performance", "organizer_id", users),
            ("ml_training_interactions", "event_id", events),
            ("ml_event_features", "event_id", events),
            ("ml_user_features", "user_id", users),
        ]
    }

    assert counts == {
        "dim_users": 7,  # six landed users and one API sign-up
        "dim_events": 5,  # four landed events and one created through the API
        "fct_interactions": 20,  # 21 landed rows, one of them a re-delivery
        "fct_registrations": 5,
        "fct_recommendation_feedback": 7,
        "mart_event_popularity": 5,
        "mart_event_funnel": 5,
        "mart_organizer_performance": 3,
        "ml_training_interactions": 9,
        "ml_event_features": 5,
        "ml_user_features": 7,
    }


def test_dim_users_is_pseudonymous(marts: psycopg.Connection) -> None:
    columns = {
        name
        for (name,) in rows(
            marts,
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'dim_users'",
        )
    }
    alice = rows(
        marts,
        "select email_domain, home_city, record_origin from marts.dim_users where user_id = %s",
        ds.ALICE,
    )

    assert not columns & {"email", "name", "password_hash"}
    assert "email_domain" in columns
    # Her e-mail is reduced to its domain; her later profile edit through the API wins.
    assert alice == [("example.org", "Hamburg", "api")]


def test_every_mart_is_granted_to_the_analyst_role(marts: psycopg.Connection) -> None:
    readable = rows(
        marts,
        "select table_name, has_table_privilege('analyst', 'marts.' || table_name, 'select')"
        " from information_schema.tables where table_schema = 'marts' order by table_name",
    )
    staging = scalar(marts, "select has_schema_privilege('analyst', 'staging', 'usage')")

    assert len(readable) >= 17
    assert all(granted for _, granted in readable)
    assert staging is False


def test_re_delivered_interaction_is_kept_once_in_its_latest_version(
    marts: psycopg.Connection,
) -> None:
    duplicate = rows(
        marts,
        "select occurred_at from marts.fct_interactions where interaction_id = 'mt-dup'",
    )

    assert duplicate == [(datetime(2021, 6, 4, 10, tzinfo=UTC),)]


def test_funnel_of_jazz_night(marts: psycopg.Connection) -> None:
    funnel = rows(
        marts,
        "select viewers, clickers, registrants, attendees, seats_taken, waitlisted,"
        " view_to_register_rate, fill_rate from marts.mart_event_funnel where event_id = %s",
        ds.JAZZ,
    )

    # Alice, Bob, Carol and Dave viewed; Bob only clicked but is waitlisted (a registration);
    # Dave favourited and registered; Alice attended. Carol dismissed it.
    assert funnel == [(4, 3, 3, 1, 2, 1, 0.75, pytest.approx(2 / 3))]


def decayed_weight(kind: str, occurred_at: str, half_life_days: float = 14) -> float:
    """An interaction's weight halved once per half-life of age at ``AS_OF``."""
    age = datetime.fromisoformat(AS_OF) - datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    return INTERACTION_WEIGHTS[kind] * 0.5 ** (age.total_seconds() / 86400 / half_life_days)


def test_popularity_counts_and_decayed_score(marts: psycopg.Connection) -> None:
    # The re-delivered row is the one kept; the earlier copy of "mt-dup" does not count.
    kept = [row for row in ds.INTERACTIONS if row[4] != "2021-06-03 10:00Z"]
    expected_jazz = sum(decayed_weight(row[3], row[4]) for row in kept if row[2] == ds.JAZZ)
    popularity = rows(
        marts,
        "select views, clicks, favorites, registrations, attendance, dismissals,"
        " distinct_users, popularity_score, popularity_rank"
        " from marts.mart_event_popularity where event_id = %s",
        ds.JAZZ,
    )

    assert popularity == [(4, 2, 1, 3, 1, 1, 4, pytest.approx(expected_jazz), 1)]


def test_training_interactions_take_the_strongest_weight_and_skip_dismissals(
    marts: psycopg.Connection,
) -> None:
    training = {
        (user, event): (weight, count)
        for user, event, weight, count in rows(
            marts,
            "select user_id, event_id, weight, interaction_count"
            " from marts.ml_training_interactions where event_id between 920001 and 920099",
        )
    }

    assert training == {
        (ds.ALICE, ds.JAZZ): (8.0, 4),  # view, click, register, attend
        (ds.BOB, ds.JAZZ): (2.0, 2),  # view, click
        (ds.DAVE, ds.JAZZ): (6.0, 3),  # view, favorite, register
        (ds.ALICE, ds.MEETUP): (1.0, 1),
        (ds.BOB, ds.MEETUP): (4.0, 2),  # view, share
        (ds.CAROL, ds.MEETUP): (6.0, 3),  # view, click, register
        (ds.DAVE, ds.MEETUP): (1.0, 1),  # the re-delivered view, once
        (ds.EVE, ds.MEETUP): (1.0, 1),
        (ds.CAROL, ds.API_PITCH): (1.0, 1),
        # Carol viewed Jazz Night then dismissed it: not a training pair.
    }


def test_ml_feature_tables_have_the_contracted_columns(marts: psycopg.Connection) -> None:
    def columns(table: str) -> list[tuple[str, str]]:
        return rows(
            marts,
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'marts' and table_name = %s order by ordinal_position",
            table,
        )

    assert columns("ml_training_interactions") == [
        ("user_id", "bigint"),
        ("event_id", "bigint"),
        ("weight", "double precision"),
        ("first_interaction_at", "timestamp with time zone"),
        ("last_interaction_at", "timestamp with time zone"),
        ("interaction_count", "bigint"),
    ]
    assert [name for name, _ in columns("ml_event_features")] == [
        "event_id", "title", "description", "category", "tags", "city", "lat", "lng", "price",
        "currency", "capacity", "status", "starts_at", "ends_at", "organizer_id", "series_id",
        "venue_id", "created_at",
    ]  # fmt: skip
    assert columns("ml_user_features") == [
        ("user_id", "bigint"),
        ("home_city", "text"),
        ("home_lat", "double precision"),
        ("home_lng", "double precision"),
        ("interests", "ARRAY"),
        ("created_at", "timestamp with time zone"),
    ]


def test_events_carry_their_series_and_venue(marts: psycopg.Connection) -> None:
    events = "between 920001 and 920099"
    series = dict(
        rows(
            marts,
            f"select event_id, series_id from marts.ml_event_features where event_id {events}",
        )
    )
    derived = {
        event: "d" + hashlib.md5(key.encode()).hexdigest()[:15]
        for event, key in [
            (ds.MEETUP, f"{ds.ORGANIZER}/tech meetup"),
            (ds.FOOD_FAIR, f"{ds.EVE}/food fair"),
            (ds.ART_WALK, f"{ds.EVE}/art walk"),
            (ds.API_PITCH, f"{ds.API_ORGANIZER}/startup pitch"),
        ]
    }
    assert series == {ds.JAZZ: "501", **derived}
    venues = rows(
        marts,
        f"select event_id, venue_id from marts.ml_event_features where event_id {events}"
        " and venue_id is not null order by event_id",
    )
    assert venues == [(ds.JAZZ, 61), (ds.MEETUP, 61), (ds.ART_WALK, 62)]
    assert rows(
        marts,
        "select venue_name, city, lat, lng, events, organizers, series from marts.dim_venues"
        " where venue_id = 61",
    ) == [("Hall", "Berlin", 52.5, 13.4, 2, 1, 2)]
    assert rows(
        marts,
        "select series_source, organizer_id, latest_title, usual_venue_id, events"
        " from marts.dim_series where series_id = '501'",
    ) == [("feed", ds.ORGANIZER, "Jazz Night", 61, 1)]


def test_events_carry_their_zone_attendance_and_follows(marts: psycopg.Connection) -> None:
    assert rows(
        marts,
        "select event_id, timezone, attendance_mode, online_url, is_online from marts.dim_events"
        " where event_id in (%s, %s) order by event_id",
        ds.JAZZ,
        ds.API_PITCH,
    ) == [
        (ds.JAZZ, "UTC", "in_person", None, False),
        (ds.API_PITCH, "Europe/Berlin", "hybrid", "https://live.example.org/pitch", False),
    ]
    assert rows(
        marts, "select user_id, organizer_id, followed_date::text from marts.fct_organizer_follows"
    ) == [(ds.ALICE, ds.API_ORGANIZER, "2021-06-12")]


def test_training_items_carry_organiser_series_venue_and_publication(
    marts: psycopg.Connection,
) -> None:
    _, items, _ = load_training_data(marts)
    mine = items.filter(pl.col("item_id").is_between(920001, 920099)).sort("item_id")
    assert mine.schema["organizer_id"] == pl.Int64
    assert mine.schema["series_id"] == pl.String
    assert mine.schema["venue_id"] == pl.Int64
    assert mine.schema["created_at"] == pl.Datetime("us", "UTC")
    jazz = mine.row(0, named=True)
    assert (jazz["organizer_id"], jazz["series_id"], jazz["venue_id"]) == (ds.ORGANIZER, "501", 61)
    assert jazz["created_at"] == datetime(2021, 5, 20, tzinfo=UTC)
    assert mine["venue_id"].null_count() == 2  # Food Fair and the API's event name none
    assert mine["series_id"].null_count() == 0


def test_recommendation_performance_by_model_version(marts: psycopg.Connection) -> None:
    performance = rows(
        marts,
        "select model_version, impressed_pairs, impressed_clicked_pairs, registered_pairs,"
        " click_through_rate, registration_rate from marts.mart_recommendation_performance"
        " where model_version in (%s, %s) order by model_version",
        ds.MODEL_ALS,
        ds.MODEL_POP,
    )

    assert performance == [
        # Dave registered from an ALS list (an interaction); Alice's impression came via the API.
        (ds.MODEL_ALS, 3, 0, 1, 0.0, pytest.approx(1 / 3)),
        # Bob's click is reported both as feedback and as an interaction: one clicked pair.
        (ds.MODEL_POP, 3, 1, 0, pytest.approx(1 / 3), 0.0),
    ]


def test_daily_weekly_monthly_active_users(marts: psycopg.Connection) -> None:
    engagement = rows(
        marts,
        "select activity_date::text, dau, wau, mau from marts.mart_user_engagement"
        " where activity_date in ('2021-06-01', '2021-06-04', '2021-06-07', '2021-06-14')"
        " order by activity_date",
    )

    assert engagement == [
        ("2021-06-01", 2, 2, 2),  # Alice, Bob
        ("2021-06-04", 2, 4, 4),  # Bob, Dave; Carol and Alice earlier in the week
        ("2021-06-07", 1, 5, 5),  # Eve joins the week
        ("2021-06-14", 0, 2, 5),  # Dave (06-09), Carol (06-12) in the last 7 days
    ]


def test_retention_by_signup_cohort(marts: psycopg.Connection) -> None:
    cohort = rows(
        marts,
        "select weeks_since_signup, cohort_size, active_users, is_complete"
        " from marts.mart_user_retention"
        " where cohort_week = '2021-05-31' order by weeks_since_signup",
    )

    # Week of 31 May: the organizer, Alice, Bob, Carol and the API sign-up; Alice, Bob and
    # Carol were active in their first week, Carol in her second (Pitch) and Alice in her third.
    # Data ends on 15 June: only week 0 of this cohort is complete for all of its users.
    assert cohort == [(0, 5, 3, True), (1, 5, 1, False), (2, 5, 1, False)]


def test_incremental_run_adds_new_rows_without_duplicating(
    database_url: str, marts: psycopg.Connection
) -> None:
    table_before = scalar(marts, "select 'marts.fct_interactions'::regclass::oid")
    with psycopg.connect(database_url) as conn:
        ds.insert_interactions(conn, ds.LATE_INTERACTIONS)

    ds.run_dbt("build", "--select", "fct_interactions+", "--vars", BUILD_VARS)

    interactions = rows(
        marts,
        "select count(*), count(distinct interaction_id) from marts.fct_interactions",
    )
    redelivered = rows(
        marts,
        "select occurred_at from marts.fct_interactions where interaction_id = 'mt-001'",
    )
    new_pair = rows(
        marts,
        "select weight, interaction_count from marts.ml_training_interactions"
        " where user_id = %s and event_id = %s",
        ds.EVE,
        ds.JAZZ,
    )
    assert scalar(marts, "select 'marts.fct_interactions'::regclass::oid") == table_before
    assert interactions == [(21, 21)]
    assert redelivered == [(datetime(2021, 6, 1, 12, 30, tzinfo=UTC),)]
    assert new_pair == [(1.0, 1)]
