"""The planted truth: listings as partner feeds land them, and what each of them really is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from pipelines.curation.quality import FLAG_NAMES
from pipelines.synthetic import GenerationSpec
from pipelines.synthetic.listings import (
    DUPLICATE_FLAG,
    FEEDS,
    JUNK_KINDS,
    ListingPlan,
    one_event_per_venue_and_time,
    plant_listings,
)

SPEC = GenerationSpec(users=200, events=800, interactions=0, now=datetime(2026, 12, 2, tzinfo=UTC))


@pytest.fixture(scope="module")
def planted():
    return plant_listings(SPEC)


def test_the_same_seed_plants_the_same_listings(planted) -> None:
    again = plant_listings(SPEC)
    assert again.listings.equals(planted.listings)
    assert again.truth.equals(planted.truth)
    other = plant_listings(
        GenerationSpec(users=200, events=800, interactions=0, seed=7, now=SPEC.now)
    )
    assert not other.listings.equals(planted.listings)


def test_the_truth_stays_out_of_the_listings(planted) -> None:
    assert {"true_event_id", "kind", "flags", "true_category"}.isdisjoint(planted.listings.columns)
    assert planted.listings["event_id"].is_unique().all()
    assert planted.truth["event_id"].to_list() == planted.listings["event_id"].to_list()
    assert set(planted.listings["feed"].unique()) == set(FEEDS)
    assert planted.listings["external_id"].is_unique().all()


def test_duplicates_are_other_feeds_copies_with_perturbations(planted) -> None:
    rows = planted.listings.join(planted.truth, on="event_id")
    copies = rows.filter(pl.col("kind") == "duplicate")
    originals = rows.filter(pl.col("kind") != "duplicate")
    pairs = copies.join(originals, on="true_event_id", suffix="_o")
    assert copies.height >= 0.1 * originals.height
    assert (pairs["feed"] != pairs["feed_o"]).all()
    assert (pairs["external_id"] != pairs["external_id_o"]).all()
    hours_off = (pairs["starts_at"] - pairs["starts_at_o"]).abs() == timedelta(hours=1)
    assert 0.15 < hours_off.mean() < 0.45
    assert (pairs["title"] != pairs["title_o"]).mean() > 0.5
    assert pairs["title"].str.contains(r"\[Tickets\]").any()
    moved = pairs.filter(pl.col("lat").is_not_null() & (pl.col("lat") != pl.col("lat_o")))
    assert moved.height > 0.5 * pairs.height
    assert (copies["flags"].list.contains(DUPLICATE_FLAG)).all()
    # A copy is listed after its original and before the start.
    assert (pairs["created_at"] >= pairs["created_at_o"]).all()
    assert (pairs["created_at"] < pairs["starts_at"]).all()


def test_hard_negatives_are_other_events(planted) -> None:
    truth = planted.truth
    sessions = truth.filter(pl.col("kind") == "same_day_session")
    assert sessions.height > 0
    assert (sessions["true_event_id"] == sessions["event_id"]).all()
    rows = planted.listings.join(truth, on="event_id")
    if "series_id" not in rows.columns:
        # A catalogue without series gets next week's instances planted.
        assert truth.filter(pl.col("kind") == "next_week").height > 0
        return
    series = rows.filter(pl.col("series_id").is_not_null() & (pl.col("kind") != "duplicate"))
    instances = series.group_by("series_id", "venue_id").agg(pl.col("true_event_id").n_unique())
    # The catalogue's series have several instances at one venue: natural hard negatives.
    assert (instances["true_event_id"] > 1).sum() > 10


def test_every_junk_kind_is_planted_and_named_like_its_flag(planted) -> None:
    flags = planted.truth.explode("flags")["flags"].drop_nulls()
    assert set(flags) == {*JUNK_KINDS, DUPLICATE_FLAG}
    assert set(JUNK_KINDS) | {DUPLICATE_FLAG} == set(FLAG_NAMES)
    junk = planted.listings.join(planted.truth, on="event_id").filter(
        pl.col("flags").list.contains("start_in_past")
    )
    assert (junk["created_at"] > junk["starts_at"]).all()


def test_some_feeds_give_no_category(planted) -> None:
    given = planted.truth["category_given"]
    assert 0.15 < 1 - given.mean() < 0.5
    assert planted.listings.filter(~given)["category"].null_count() == (~given).sum()


def test_a_plan_can_switch_every_kind_off() -> None:
    nothing = ListingPlan(
        duplicate_share=0,
        next_week_share=0,
        same_day_session_share=0,
        uncategorised_share=0,
        junk_share=0,
    )
    planted = plant_listings(SPEC, nothing)
    assert set(planted.truth["kind"]) == {"original"}
    assert planted.truth["flags"].list.len().sum() == 0
    with pytest.raises(ValueError, match="share"):
        ListingPlan(junk_share=1.5)


def test_a_double_booked_venue_keeps_its_first_event() -> None:
    t0 = datetime(2026, 6, 1, 18, tzinfo=UTC)
    events = pl.DataFrame(
        {
            "event_id": [1, 2, 3, 4, 5],
            "venue_id": [7, 7, 7, None, None],
            "starts_at": [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=4), t0, t0],
        }
    )
    kept = one_event_per_venue_and_time(events)
    assert kept["event_id"].to_list() == [1, 3, 4, 5]
