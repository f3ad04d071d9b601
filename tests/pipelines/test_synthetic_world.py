"""The synthetic world has the shape of real event data, pinned as numbers on a seeded world:
recurring series, members returning to organisers, a few organisers holding most activity,
repeated venues and habits, boilerplate organiser tags, missing fields, cold upcoming events,
and the library's frames with string ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from core.contracts import INTERACTION_WEIGHTS
from pipelines.synthetic import (
    GenerationSpec,
    event_state,
    generate,
    make_events,
    make_interactions,
    member_state,
    model_frames,
    user_state,
    world_state,
)
from pipelines.synthetic.__main__ import main
from pipelines.synthetic.model_frames import ID_PREFIXES, ITEM_COLUMNS
from pipelines.synthetic.world import alnum_ids

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SPEC = GenerationSpec(users=3000, events=800, interactions=150_000, days=90, seed=2, now=NOW)
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)


def normalized_title(column: str) -> pl.Expr:
    """The dbt macro ``normalized_title``: lower case, no numbers, month names or punctuation."""
    return (
        pl.col(column)
        .str.to_lowercase()
        .str.replace_all(r"[0-9]+(st|nd|rd|th)?", " ")
        .str.replace_all(rf"\b({MONTHS})\b", " ")
        .str.replace_all(r"[^a-z]+", " ")
        .str.strip_chars()
    )


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    state = event_state(SPEC)
    return make_events(SPEC).with_columns(
        organizer=pl.Series(state.organizer),
        series=pl.Series(state.series),
        venue=pl.Series(state.venue),
    )


@pytest.fixture(scope="module")
def joined(events: pl.DataFrame) -> pl.DataFrame:
    return make_interactions(SPEC).join(
        events.select("event_id", "organizer", "series", "venue", "starts_at"), on="event_id"
    )


@pytest.fixture(scope="module")
def future_registrations(joined: pl.DataFrame) -> pl.DataFrame:
    return joined.filter((pl.col("type") == "register") & (pl.col("starts_at") > NOW))


# --- series, organisers and members ----------------------------------------------------------


def test_most_upcoming_events_repeat_the_title_of_an_earlier_one(events: pl.DataFrame) -> None:
    titled = events.with_columns(normalized_title("title").alias("normalized"))
    first = titled.group_by("normalized").agg(pl.col("starts_at").min().alias("first"))
    upcoming = titled.filter(pl.col("starts_at") > NOW).join(first, on="normalized")
    assert (upcoming["first"] < upcoming["starts_at"]).mean() >= 0.5
    # Numbered instances of a series: "... #41" then "... #42".
    numbered = titled.filter(pl.col("title").str.contains(r"#\d+$"))
    assert numbered.height > 0.2 * events.height


def _returning(spec: GenerationSpec) -> pl.Series:
    """Per future registration of ``spec``'s world: did the user attend that series before?"""
    state = event_state(spec)
    rows = make_interactions(spec)
    index = rows["event_id"].to_numpy() - 1
    rows = rows.with_columns(
        series=pl.Series(state.series[index]), starts_s=pl.Series(state.starts_s[index])
    )
    future = rows.filter((pl.col("type") == "register") & (pl.col("starts_s") > spec.now_s))
    attended = rows.filter(pl.col("type") == "attend").select("user_id", "series").unique()
    return future.join(
        attended.with_columns(back=pl.lit(True)), on=["user_id", "series"], how="left"
    )["back"].is_not_null()


def test_a_third_of_future_registrations_return_to_an_attended_series() -> None:
    # Pooled over three seeds: which organisers happen to be big moves it by several points.
    returning = pl.concat([_returning(SPEC.with_seed(seed)) for seed in (1, 2, 3)])
    assert returning.len() > 600
    assert 0.25 <= returning.mean() <= 0.45


def test_registrations_come_mostly_from_members_of_the_organiser(joined: pl.DataFrame) -> None:
    members = member_state(SPEC).organizers
    slots = members.shape[1]
    membership = pl.DataFrame(
        {"user_id": np.repeat(np.arange(1, SPEC.users + 1), slots), "organizer": members.ravel()}
    ).filter(pl.col("organizer") >= 0)
    registrations = joined.filter(pl.col("type") == "register")
    by_member = registrations.join(
        membership.unique().with_columns(member=pl.lit(True)),
        on=["user_id", "organizer"],
        how="left",
    )["member"].is_not_null()
    assert by_member.mean() >= 0.7


def test_a_tenth_of_the_organisers_hold_half_of_the_activity(joined: pl.DataFrame) -> None:
    organizers = world_state(SPEC).organizers
    per_organizer = (
        joined.filter(pl.col("type") == "register")
        .group_by("organizer")
        .len()["len"]
        .sort(descending=True)
    )
    assert per_organizer.head(organizers // 10).sum() >= 0.5 * per_organizer.sum()


def test_most_users_have_one_to_three_future_registrations(
    future_registrations: pl.DataFrame,
) -> None:
    per_user = future_registrations.group_by("user_id").len()["len"]
    assert 1 <= per_user.median() <= 3
    assert per_user.is_between(1, 3).mean() >= 0.8


def test_organisers_are_accounts_with_the_organiser_role(events: pl.DataFrame) -> None:
    roles = user_state(SPEC).role
    organizer_ids = events["organizer_id"].drop_nulls().unique().to_numpy()
    assert organizer_ids.size == world_state(SPEC).organizers  # one account per organiser
    assert (roles[organizer_ids - 1] == 1).all()


# --- venues, places and habits ---------------------------------------------------------------


def test_venues_repeat_and_series_keep_to_one(events: pl.DataFrame) -> None:
    in_person = events.filter(pl.col("venue_id").is_not_null())
    per_venue = in_person.group_by("venue_id").len()
    assert (in_person.height / per_venue.height) >= 5
    shared = in_person.group_by("venue_id").agg(pl.col("organizer_id").n_unique())
    assert (shared["organizer_id"] > 1).any()  # hubs host several organisers
    venues_per_series = in_person.group_by("series").agg(pl.col("venue_id").n_unique())
    assert (venues_per_series["venue_id"] == 1).all()


def test_users_go_where_and_when_they_usually_go(joined: pl.DataFrame) -> None:
    users, world = user_state(SPEC), world_state(SPEC)
    booked = joined.filter(pl.col("type") == "register")
    venue = booked["venue"].to_numpy()
    series = booked["series"].to_numpy()
    u = booked["user_id"].to_numpy() - 1
    # Their usual weekday: a uniform pick would hit it one time in seven.
    assert (world.series_weekday[series] == users.weekday[u]).mean() > 1.5 / 7
    # Near home: the venue booked is closer than the organiser's venues are on average.
    place = venue >= 0
    lat, lng = users.lat[u][place], users.lng[u][place]
    booked_km = np.hypot(
        (lat - world.venue_lat[venue[place]]) * 111, (lng - world.venue_lng[venue[place]]) * 70
    )
    own = world.org_venues[booked["organizer"].to_numpy()[place]]
    own_km = np.hypot(
        (lat[:, None] - world.venue_lat[own]) * 111, (lng[:, None] - world.venue_lng[own]) * 70
    )
    assert np.median(booked_km) < np.nanmedian(np.where(own >= 0, own_km, np.nan))
    # A user's bookings cluster at a few venues.
    per_user = (
        booked.filter(pl.col("venue") >= 0)
        .group_by("user_id")
        .agg(pl.len(), pl.col("venue").n_unique().alias("venues"))
        .filter(pl.col("len") >= 3)
    )
    assert (per_user["venues"] / per_user["len"]).median() <= 0.5


# --- what the catalogue shows and hides ------------------------------------------------------


def test_tags_are_organiser_boilerplate(events: pl.DataFrame) -> None:
    tag_sets = events.with_columns(pl.col("tags").list.sort().list.join("|").alias("set"))
    modal = (
        tag_sets.group_by("organizer", "set")
        .len()
        .sort("len", descending=True)
        .group_by("organizer")
        .agg(pl.col("len").first().alias("modal"), pl.col("len").sum().alias("events"))
    )
    assert (modal["modal"] / modal["events"]).mean() >= 0.8
    sizes = events.group_by("organizer").agg(pl.col("tags").list.len().max())["tags"]
    assert sizes.is_between(9, 20).all()


def test_city_price_and_category_are_often_missing_coordinates_rarely(
    events: pl.DataFrame,
) -> None:
    share = {c: events[c].null_count() / events.height for c in ("city", "price", "category")}
    assert all(0.2 <= s <= 0.4 for s in share.values()), share
    assert events["lat"].null_count() / events.height <= 0.15
    online = events.filter(pl.col("venue_name") == "Online")
    assert online.height > 0
    assert online["lat"].null_count() == online.height
    assert online["venue_id"].null_count() == online.height


def test_most_events_of_the_next_90_days_are_cold_at_now(
    events: pl.DataFrame, joined: pl.DataFrame
) -> None:
    window = events.filter(pl.col("starts_at").is_between(NOW, NOW + timedelta(days=90)))
    touched = joined.filter(pl.col("timestamp") < NOW)["event_id"].unique()
    cold = 1 - window["event_id"].is_in(touched.implode()).mean()
    assert 0.80 <= cold <= 0.95


def test_partner_feed_rows_carry_alphanumeric_ids_and_no_series(tmp_path: Path) -> None:
    generate(tmp_path, SPEC)
    feed = pl.read_ndjson(tmp_path / "events/partner-feed.jsonl")
    assert feed.height > 0
    assert feed["external_id"].str.contains(r"^[a-z][0-9a-z]{8}$").all()
    assert feed["external_id"].n_unique() == feed.height
    assert feed["series_id"].null_count() == feed.height  # derived downstream
    assert feed["venue_id"].drop_nulls().len() > 0
    main = pl.read_csv(tmp_path / "events/events.csv", infer_schema=False)
    assert main["series_id"].null_count() == 0
    assert main["external_id"].null_count() == main.height


# --- frames for the recommendation library ---------------------------------------------------


@pytest.fixture(scope="module")
def frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return model_frames(SPEC)


def test_model_frames_follow_the_library_conventions(
    frames: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], joined: pl.DataFrame
) -> None:
    interactions, items, users = frames
    assert interactions.columns == ["user_id", "item_id", "weight", "timestamp"]
    assert tuple(items.columns) == ITEM_COLUMNS
    assert users.columns == ["user_id", "home_city", "home_lat", "home_lng", "interests"]
    assert items.schema["tags"] == pl.List(pl.String)
    assert items.schema["starts_at"] == items.schema["created_at"] == pl.Datetime("us", "UTC")
    assert items.height == SPEC.events
    assert not interactions.select("user_id", "item_id").is_duplicated().any()
    # One row per pair with a positive interaction: strongest weight, first positive time.
    positive = joined.filter(pl.col("type") != "dismiss")
    expected = positive.group_by("user_id", "event_id").agg(
        pl.col("type").replace_strict(INTERACTION_WEIGHTS, return_dtype=pl.Float64).max(),
        pl.col("timestamp").min(),
    )
    assert interactions.height == expected.height
    pair = interactions.row(0, named=True)
    row = expected.filter(
        (pl.col("user_id") == pair["user_id"]) & (pl.col("event_id") == pair["item_id"])
    ).row(0, named=True)
    assert (pair["weight"], pair["timestamp"]) == (row["type"], row["timestamp"])
    dismissed_only = (
        joined.group_by("user_id", "event_id")
        .agg((pl.col("type") == "dismiss").all().alias("only"))
        .filter("only")
    )
    if dismissed_only.height:
        kept = interactions.join(
            dismissed_only.rename({"event_id": "item_id"}), on=["user_id", "item_id"]
        )
        assert kept.height == 0


def test_string_ids_round_trip(frames: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    interactions, items, users = frames
    s_interactions, s_items, s_users = model_frames(SPEC, string_ids=True)
    for numeric, strings in ((interactions, s_interactions), (items, s_items), (users, s_users)):
        for column, prefix in ID_PREFIXES.items():
            if column not in numeric.columns:
                continue
            codes = strings[column]
            assert codes.dtype == pl.String
            assert codes.null_count() == numeric[column].null_count()
            values = numeric[column].drop_nulls()
            assert codes.drop_nulls().str.contains(rf"^{prefix}[0-9a-z]{{8}}$").all()
            # One code per id and back: the mapping is a bijection on the ids present.
            mapping = pl.DataFrame({"id": values, "code": codes.drop_nulls()}).unique()
            assert mapping["id"].n_unique() == mapping["code"].n_unique() == mapping.height
    assert s_items["item_id"].to_list() == alnum_ids("e", items["item_id"].to_numpy()).to_list()
    assert s_interactions["weight"].equals(interactions["weight"])


def test_cli_writes_model_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--model-files", str(tmp_path), "--users", "200", "--events", "60"]
    argv += ["--interactions", "3000", "--days", "30", "--now", "2026-06-01", "--quiet"]
    assert main(argv) == 0
    assert "items.parquet (60 rows)" in capsys.readouterr().out
    items = pl.read_parquet(tmp_path / "items.parquet")
    interactions = pl.read_parquet(tmp_path / "interactions.parquet")
    assert items["item_id"].dtype == pl.String
    assert interactions["item_id"].is_in(items["item_id"].implode()).all()
    assert not list(tmp_path.glob(".*.partial"))
    with pytest.raises(SystemExit):
        main(["--size", "small"])  # neither --out nor --model-files


def test_alphanumeric_ids_are_unique_and_the_same_for_few_or_many() -> None:
    many = alnum_ids("p", np.arange(1, 200_001))
    assert many.n_unique() == 200_000
    assert alnum_ids("p", np.arange(1, 11)).to_list() == many.head(10).to_list()


# --- the recommendation widget's log ----------------------------------------------------------


def test_feedback_log_is_valid_and_tells_the_model_versions_apart(tmp_path: Path) -> None:
    from core.contracts import FEEDBACK
    from pipelines.ingest.parsing import read_landed_files, validate

    summary = generate(tmp_path, SPEC)
    files = sorted((tmp_path / FEEDBACK.folder).rglob("*.jsonl"))
    frame, unknown = read_landed_files(files, FEEDBACK)
    batch = validate(frame, FEEDBACK, now=NOW, unknown_columns=unknown)
    assert (batch.rejected.height, batch.duplicates, unknown) == (0, 0, ())
    assert batch.good.height == summary.feedback > 0
    log = batch.good
    # Every file holds its folder's day only.
    day = pl.col("_source_file").str.extract(r"date=(\d{4}-\d{2}-\d{2})").str.to_date()
    assert log.filter(pl.col("occurred_at").dt.date() != day).is_empty()

    # Every recommended click was shown first, by the same version, at the same position.
    shown = log.filter(pl.col("action") == "impression")
    clicks = log.filter(pl.col("action") == "click")
    matched = clicks.join(
        shown, on=["user_id", "event_id", "model_version", "position"], how="semi"
    )
    assert matched.height == clicks.height > 0
    # Impressions are for events not yet started when shown.
    starts = make_events(SPEC).select("event_id", "starts_at")
    assert (
        shown.join(starts, on="event_id")
        .filter(pl.col("starts_at") <= pl.col("occurred_at"))
        .height
        < 0.01 * shown.height
    )

    pairs = shown.unique(["model_version", "user_id", "event_id"])
    ctr = (
        pairs.join(
            clicks.unique(["model_version", "user_id", "event_id"]),
            how="left",
            on=["model_version", "user_id", "event_id"],
            suffix="_c",
        )
        .group_by("model_version")
        .agg(pl.col("action_c").is_not_null().mean())
        .sort("action_c")
    )
    assert ctr["model_version"].to_list() == ["popularity-v1", "item-knn-v2", "als-v3"]
    assert ctr["action_c"][2] > 1.25 * ctr["action_c"][0]


def test_follows_are_of_organiser_accounts_after_both_signed_up() -> None:
    from pipelines.synthetic.follows import make_follows
    from pipelines.synthetic.world import make_users

    follows = make_follows(SPEC)
    users = make_users(SPEC).select("user_id", "role", "created_at")
    joined = follows.join(users, on="user_id").join(
        users, left_on="organizer_id", right_on="user_id", suffix="_organizer"
    )
    assert joined.height == follows.height > 0.1 * SPEC.users
    assert (joined["role_organizer"] == "organizer").all()
    assert (joined["user_id"] != joined["organizer_id"]).all()
    assert (joined["followed_at"] >= joined["created_at"]).all()
    assert (joined["followed_at"] >= joined["created_at_organizer"]).all()
    assert (joined["followed_at"] <= NOW).all()
    assert follows.select("user_id", "organizer_id").is_unique().all()
    # Big organisers gather most followers, as they gather most members.
    per_organizer = follows["organizer_id"].value_counts(sort=True)["count"]
    top = per_organizer.head(max(1, per_organizer.len() // 10)).sum()
    assert top > 0.3 * follows.height
