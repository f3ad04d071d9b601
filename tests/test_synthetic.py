"""The synthetic generator: determinism, the landing-zone contract, the world's rules, and
whether its hidden tastes leave a signal a recommender can learn."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from core.contracts import (
    EVENT_STATUSES,
    EVENTS,
    INTERACTION_SOURCES,
    INTERACTION_TYPES,
    INTERACTIONS,
    LIST_SEPARATOR,
    USER_ROLES,
    USERS,
)
from pipelines.synthetic import (
    GenerationSpec,
    event_state,
    generate,
    make_events,
    make_interactions,
    make_users,
    user_state,
)
from pipelines.synthetic.__main__ import main
from pipelines.synthetic.vocabulary import CATEGORY_NAMES, CITIES
from pipelines.synthetic.world import HORIZON_DAYS, N_TOPICS

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SPEC = GenerationSpec(users=400, events=150, interactions=30_000, days=60, seed=7, now=NOW)


@pytest.fixture(scope="module")
def users() -> pl.DataFrame:
    return make_users(SPEC)


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return make_events(SPEC)


@pytest.fixture(scope="module")
def interactions() -> pl.DataFrame:
    return make_interactions(SPEC)


@pytest.fixture(scope="module")
def joined(interactions: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    return interactions.join(
        events.select("event_id", "category", "city", "starts_at", "capacity", "status"),
        on="event_id",
        how="left",
    )


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(out, SPEC)
    return out


def _clear_caches() -> None:
    user_state.cache_clear()
    event_state.cache_clear()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --- determinism -----------------------------------------------------------------------------


def test_frames_repeat_for_a_seed_and_change_with_another(
    users: pl.DataFrame, events: pl.DataFrame, interactions: pl.DataFrame
) -> None:
    _clear_caches()
    assert make_users(SPEC).equals(users)
    assert make_events(SPEC).equals(events)
    assert make_interactions(SPEC).equals(interactions)

    other = SPEC.with_seed(8)
    assert not make_users(other).equals(users)
    assert not make_events(other).equals(events)
    other_interactions = make_interactions(other)
    assert other_interactions.height == interactions.height
    assert not other_interactions.equals(interactions)


def test_files_repeat_byte_for_byte(landing: Path, tmp_path: Path) -> None:
    _clear_caches()
    generate(tmp_path / "again", SPEC)
    generate(tmp_path / "other", SPEC.with_seed(8))
    first, again, other = _tree(landing), _tree(tmp_path / "again"), _tree(tmp_path / "other")
    assert first == again
    assert first["users/users.csv"] != other["users/users.csv"]
    ids = {json.loads(line)["interaction_id"] for line in _lines(landing)}
    other_ids = {json.loads(line)["interaction_id"] for line in _lines(tmp_path / "other")}
    assert not ids & other_ids


def test_spec_defaults_to_today_midnight_and_start_pins_now() -> None:
    spec = GenerationSpec()
    assert spec.now is not None
    assert spec.now.tzinfo is not None
    assert (spec.now.hour, spec.now.minute, spec.now.second) == (0, 0, 0)
    assert datetime.now(UTC) - spec.now < timedelta(days=1)
    pinned = GenerationSpec(start=date(2026, 1, 1), days=31)
    assert pinned.now == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="start"):
        GenerationSpec(start=date(2026, 1, 1), days=31, now=NOW)


# --- shapes, counts and value ranges ---------------------------------------------------------


def test_users_shape_and_values(users: pl.DataFrame) -> None:
    assert users.columns == list(USERS.names)
    assert users["user_id"].to_list() == list(range(1, SPEC.users + 1))
    assert users["email"].n_unique() == SPEC.users
    assert users["email"].str.contains("@").all()
    assert set(users["role"].unique()) <= set(USER_ROLES)
    located = users.drop_nulls("home_city")
    assert 0.9 * SPEC.users < located.height < SPEC.users  # a few left it blank
    assert located["home_lat"].is_between(-90, 90).all()
    assert located["home_lng"].is_between(-180, 180).all()
    city_lat = {c[0]: c[2] for c in CITIES}
    offset = located["home_lat"] - located["home_city"].replace_strict(city_lat)
    assert offset.abs().max() < 0.5
    assert (users["created_at"] <= users["updated_at"]).all()
    assert (users["updated_at"] <= NOW).all()
    interests = users["interests"].explode().drop_nulls()
    assert interests.len() > 0
    assert not interests.str.contains(LIST_SEPARATOR, literal=True).any()


def test_events_shape_and_values(events: pl.DataFrame) -> None:
    assert events.columns == list(EVENTS.names)
    assert events["event_id"].to_list() == list(range(1, SPEC.events + 1))
    assert (events["price"] >= 0).all()
    assert (events["capacity"] > 0).all()
    assert (events["ends_at"] > events["starts_at"]).all()
    assert (events["created_at"] <= events["updated_at"]).all()
    assert (events["updated_at"] <= NOW).all()
    assert events["lat"].is_between(-90, 90).all()
    assert events["lng"].is_between(-180, 180).all()
    assert (events["currency"].str.len_chars() == 3).all()
    assert (events["title"].str.len_chars().is_between(1, 200)).all()
    assert events["description"].str.len_chars().min() > 40
    assert set(events["category"].drop_nulls().unique()) <= set(CATEGORY_NAMES)
    assert events["series_id"].null_count() == 0
    assert events["external_id"].null_count() == SPEC.events  # set in the partner feed only
    online = events.filter(pl.col("venue_id").is_null())
    assert (online["venue_name"] == "Online").all()
    assert online["lat"].null_count() == online.height
    assert (events["tags"].list.len() >= 2).all()
    # Series run over the history and the next HORIZON_DAYS, evenly.
    past_share = (events["starts_at"] < NOW).mean()
    assert abs(past_share - SPEC.days / (SPEC.days + HORIZON_DAYS)) < 0.1
    statuses = events["status"].value_counts().to_dict(as_series=False)
    counts = dict(zip(statuses["status"], statuses["count"], strict=True))
    assert set(counts) <= set(EVENT_STATUSES)
    assert counts["published"] > SPEC.events / 2
    assert counts.get("completed", 0) > 0
    completed = events.filter(pl.col("status") == "completed")
    assert (completed["ends_at"] <= NOW).all()
    drafts = events.filter(pl.col("status") == "draft")
    assert (drafts["starts_at"] > NOW).all()
    organizers = events["organizer_id"].drop_nulls()
    assert organizers.is_between(1, SPEC.users).all()


def test_titles_read_like_real_listings() -> None:
    titles = make_events(GenerationSpec(events=3000, users=500, interactions=0, now=NOW))["title"]
    assert titles.n_unique() > 1000
    assert titles.str.contains("Meetup").any()
    assert titles.str.contains("Hands-on Workshop: ").any()
    assert titles.str.contains(r"^(Berlin|London|Paris) ").any()


def test_interactions_counts_and_values(interactions: pl.DataFrame) -> None:
    assert interactions.columns == list(INTERACTIONS.names)
    assert interactions.height == SPEC.interactions
    assert interactions["interaction_id"].n_unique() == interactions.height
    assert uuid.UUID(interactions["interaction_id"][0]).version == 4
    assert interactions["user_id"].is_between(1, SPEC.users).all()
    assert interactions["event_id"].is_between(1, SPEC.events).all()
    assert set(interactions["type"].unique()) == set(INTERACTION_TYPES)
    assert set(interactions["source"].unique()) == set(INTERACTION_SOURCES)
    assert (interactions["timestamp"] < NOW).all()
    assert (interactions["timestamp"] >= NOW - timedelta(days=SPEC.days)).all()
    versions = interactions.filter(pl.col("model_version").is_not_null())
    assert versions.height > 0
    assert (versions["source"] == "recommendation").all()
    for context in interactions["context"].unique():
        assert isinstance(json.loads(context)["page"], str)


def test_funnel_narrows(interactions: pl.DataFrame) -> None:
    counts = dict(interactions["type"].value_counts().iter_rows())
    assert counts["view"] > 2 * counts["click"]
    assert counts["click"] > counts["favorite"] > 0
    assert counts["click"] > counts["register"] > counts["attend"] > 0


def test_registrations_respect_capacity_and_are_unique(joined: pl.DataFrame) -> None:
    registrations = joined.filter(pl.col("type") == "register")
    assert not registrations.select("user_id", "event_id").is_duplicated().any()
    per_event = registrations.group_by("event_id").agg(pl.len(), pl.col("capacity").first())
    assert (per_event["len"] <= per_event["capacity"]).all()
    assert (registrations["timestamp"] < registrations["starts_at"]).all()
    assert (registrations["status"] != "cancelled").all()


def test_capacity_binds_when_demand_exceeds_it() -> None:
    spec = GenerationSpec(users=3000, events=20, interactions=60_000, days=30, seed=3, now=NOW)
    frame = make_interactions(spec).filter(pl.col("type") == "register")
    capacity = event_state(spec).capacity
    per_event = frame.group_by("event_id").len()
    caps = capacity[per_event["event_id"].to_numpy() - 1]
    assert (per_event["len"].to_numpy() <= caps).all()
    assert (per_event["len"].to_numpy() == caps).any()  # some events sold out


def test_attendance_follows_registration_and_start(joined: pl.DataFrame) -> None:
    attends = joined.filter(pl.col("type") == "attend")
    registers = joined.filter(pl.col("type") == "register").select(
        "user_id", "event_id", pl.col("timestamp").alias("registered_at")
    )
    matched = attends.join(registers, on=["user_id", "event_id"], how="left")
    assert matched["registered_at"].null_count() == 0
    assert (matched["registered_at"] < matched["timestamp"]).all()
    assert (matched["timestamp"] >= matched["starts_at"]).all()
    assert (matched["starts_at"] < NOW).all()
    assert (matched["status"] != "cancelled").all()


def test_upcoming_events_get_fewer_and_no_post_event_interactions(
    joined: pl.DataFrame, events: pl.DataFrame
) -> None:
    assert joined.filter(pl.col("status") == "draft").height == 0
    upcoming = joined.filter(pl.col("starts_at") > NOW)
    assert upcoming.height > 0
    assert set(upcoming["type"].unique()) <= {
        "view",
        "click",
        "favorite",
        "share",
        "register",
        "dismiss",
    }
    per_event = joined.group_by("event_id").len()
    mean = dict(
        events.join(per_event, on="event_id", how="left")
        .group_by(pl.col("starts_at") > NOW)
        .agg(pl.col("len").fill_null(0).mean())
        .iter_rows()
    )
    assert mean[True] < mean[False] / 3


def test_chunked_generation_keeps_the_rules(tmp_path: Path) -> None:
    spec = GenerationSpec(
        users=500, events=30, interactions=12_345, days=20, seed=5, now=NOW, chunk_rows=5000
    )
    frame = make_interactions(spec)
    assert frame.height == spec.interactions
    assert frame["interaction_id"].n_unique() == frame.height
    assert frame["timestamp"].is_sorted()
    registrations = frame.filter(pl.col("type") == "register")
    assert not registrations.select("user_id", "event_id").is_duplicated().any()
    per_event = registrations.group_by("event_id").len()
    caps = event_state(spec).capacity[per_event["event_id"].to_numpy() - 1]
    assert (per_event["len"].to_numpy() <= caps).all()
    summary = generate(tmp_path, spec)
    parts = {Path(name).name for name in summary.files if name.startswith("interactions/")}
    assert parts == {"part-0000.jsonl", "part-0001.jsonl", "part-0002.jsonl"}


# --- the files follow the contract -----------------------------------------------------------


def _lines(root: Path) -> list[str]:
    files = sorted((root / "interactions").glob("date=*/*.jsonl"))
    return [line for f in files for line in f.read_text().splitlines()]


def test_layout_and_summary(tmp_path: Path) -> None:
    summary = generate(tmp_path, SPEC)
    assert summary.users == SPEC.users
    assert summary.events == SPEC.events
    assert summary.interactions == SPEC.interactions
    assert summary.files["users/users.csv"] == SPEC.users
    event_rows = summary.files["events/events.csv"] + summary.files["events/partner-feed.jsonl"]
    assert event_rows == SPEC.events
    day_files = {k: v for k, v in summary.files.items() if k.startswith("interactions/")}
    assert sum(day_files.values()) == SPEC.interactions
    assert summary.first_day is not None
    assert summary.last_day == (NOW - timedelta(days=1)).date()
    assert summary.first_day >= (NOW - timedelta(days=SPEC.days)).date()
    assert not list(tmp_path.rglob("*.partial"))


def test_csv_files_parse_with_contract_columns(landing: Path, events: pl.DataFrame) -> None:
    users = pl.read_csv(landing / "users/users.csv", infer_schema=False)
    assert tuple(users.columns) == USERS.names
    for column in ("created_at", "updated_at"):
        parsed = users[column].str.to_datetime("%+", time_zone="UTC")
        assert parsed.null_count() == 0
    assert users["interests"].drop_nulls().str.split(LIST_SEPARATOR).list.len().max() >= 2

    main = pl.read_csv(landing / "events/events.csv", infer_schema=False)
    assert tuple(main.columns) == EVENTS.names
    feed = pl.read_ndjson(landing / "events/partner-feed.jsonl")
    assert tuple(feed.columns) == EVENTS.names
    assert feed["tags"].dtype == pl.List(pl.String)
    ids = sorted(main["event_id"].cast(pl.Int64).to_list() + feed["event_id"].to_list())
    assert ids == list(range(1, SPEC.events + 1))
    first = main.row(0, named=True)
    expected = events.filter(pl.col("event_id") == int(first["event_id"])).row(0, named=True)
    assert first["tags"].split(LIST_SEPARATOR) == expected["tags"]
    assert datetime.fromisoformat(first["starts_at"]) == expected["starts_at"]


def test_interaction_files_parse_with_contract_fields(landing: Path) -> None:
    required, known = set(INTERACTIONS.required), set(INTERACTIONS.names)
    folders = sorted((landing / "interactions").iterdir())
    assert all(f.name.startswith("date=") for f in folders)
    rows = 0
    for folder in folders:
        day = date.fromisoformat(folder.name.removeprefix("date="))
        for path in folder.glob("*.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                assert required <= record.keys() <= known
                stamp = datetime.fromisoformat(record["timestamp"])
                assert stamp.utcoffset() == timedelta(0)
                assert stamp.date() == day
                assert isinstance(record["context"], dict)
                assert isinstance(record["user_id"], int)
                rows += 1
    assert rows == SPEC.interactions


# --- the hidden tastes leave a learnable signal ----------------------------------------------


def test_users_favour_their_top_hidden_category(interactions: pl.DataFrame) -> None:
    top = user_state(SPEC).taste.argmax(axis=1)[interactions["user_id"].to_numpy() - 1]
    category = event_state(SPEC).category
    rng = np.random.default_rng(0)
    baseline = (top == category[rng.integers(0, SPEC.events, top.size)]).mean()
    # A dozen organisers offer few categories near anyone; bigger worlds reach 3x the baseline.
    assert (top == category[interactions["event_id"].to_numpy() - 1]).mean() > 1.25 * baseline


def test_users_stay_mostly_near_home(interactions: pl.DataFrame) -> None:
    home = user_state(SPEC).home[interactions["user_id"].to_numpy() - 1]
    city = event_state(SPEC).city
    rng = np.random.default_rng(0)
    baseline = (home == city[rng.integers(0, SPEC.events, home.size)]).mean()
    assert (home == city[interactions["event_id"].to_numpy() - 1]).mean() > 2 * baseline


def test_favourite_topics_attract_interactions(interactions: pl.DataFrame) -> None:
    state, events = user_state(SPEC), event_state(SPEC)
    users = interactions["user_id"].to_numpy() - 1
    items = interactions["event_id"].to_numpy() - 1
    topic = events.category * N_TOPICS + events.topic
    shared = (state.topics[users] == topic[items][:, None]).any(axis=1)
    rng = np.random.default_rng(0)
    baseline = state.topics[users] == topic[rng.integers(0, SPEC.events, users.size)][:, None]
    assert shared.mean() > 2 * baseline.any(axis=1).mean()


def test_popularity_is_skewed(interactions: pl.DataFrame) -> None:
    per_event = interactions["event_id"].value_counts()["count"].sort(descending=True)
    top_decile = per_event.head(max(1, per_event.len() // 10)).sum()
    assert top_decile > 0.3 * per_event.sum()


# --- command line ----------------------------------------------------------------------------


def test_cli_writes_a_landing_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--out",
            str(tmp_path),
            "--users",
            "50",
            "--events",
            "20",
            "--interactions",
            "1000",
            "--seed",
            "1",
            "--start",
            "2026-01-01",
            "--days",
            "10",
            "--quiet",
        ]
    )
    assert code == 0
    assert "1,000 interactions" in capsys.readouterr().out
    assert (tmp_path / "users/users.csv").exists()
    days = sorted(p.name for p in (tmp_path / "interactions").iterdir())
    assert days[-1] == "date=2026-01-10"
    assert main(["--out", str(tmp_path), "--days", "0", "--quiet"]) == 2
