"""Curation's pure functions on tiny hand-made listings: linkage, flags, categories, measures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from pipelines.curation import categories, evaluation, linkage, quality

T0 = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
CREATED = datetime(2026, 5, 1, tzinfo=UTC)


def listing(event_id: int, **values: object) -> dict[str, object]:
    """A clean listing; ``values`` override its fields."""
    row: dict[str, object] = {
        "event_id": event_id,
        "title": f"Event {event_id}",
        "description": "An evening of talks, demos and conversation with the local community.",
        "category": "meetup",
        "starts_at": T0,
        "venue_name": f"Venue {event_id}",
        "city": "Berlin",
        "lat": 52.52,
        "lng": 13.40,
        "capacity": 100,
        "price": 10.0,
        "currency": "EUR",
        "organizer_id": event_id,
        "created_at": CREATED,
    }
    row.update(values)
    return row


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "event_id": pl.Int64,
            "title": pl.String,
            "description": pl.String,
            "category": pl.String,
            "starts_at": pl.Datetime("us", "UTC"),
            "venue_name": pl.String,
            "city": pl.String,
            "lat": pl.Float64,
            "lng": pl.Float64,
            "capacity": pl.Int64,
            "price": pl.Float64,
            "currency": pl.String,
            "organizer_id": pl.Int64,
            "created_at": pl.Datetime("us", "UTC"),
        },
    )


# --- linkage -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Rust Night Berlin [Tickets]", "rust night berlin"),
        ("Rust Night Berlin - Tickets", "rust night berlin"),
        ("Rust Night Berlin (Official) | Book now", "rust night berlin"),
        ("  RUST   night, Berlin!  ", "rust night berlin"),
        ("Python Meetup #41", "python meetup 41"),
    ],
)
def test_titles_lose_what_feeds_add(title: str, expected: str) -> None:
    normalised = pl.select(linkage.normalise_title(pl.lit(title))).item()
    assert normalised == expected


def test_venue_names_lose_a_leading_article_and_online_is_no_venue() -> None:
    assert pl.select(linkage.normalise_venue(pl.lit("The Old Hall"))).item() == "old hall"
    assert pl.select(linkage.normalise_venue(pl.lit("Online"))).item() is None


def test_starts_an_hour_apart_always_share_a_window() -> None:
    starts = [T0 + timedelta(minutes=m) for m in range(0, 24 * 60, 7)]
    rows = [listing(i, starts_at=s) for i, s in enumerate(starts)]
    rows += [listing(1000 + i, starts_at=s + timedelta(hours=1)) for i, s in enumerate(starts)]
    features = linkage.linkage_features(frame(rows))
    first, later = features.head(len(starts)), features.tail(len(starts))
    shared = (first["window_a"] == later["window_a"]) | (first["window_b"] == later["window_b"])
    assert shared.all()


def test_blank_texts_are_no_evidence() -> None:
    features = linkage.linkage_features(frame([listing(1, description="  ", venue_name="")]))
    assert features.row(0, named=True)["description_norm"] is None
    assert features.row(0, named=True)["venue_norm"] is None


def test_connected_components_label_with_the_smallest_member() -> None:
    edges = pl.DataFrame({"a": [1, 2, 5, 9], "b": [2, 3, 6, 10]})
    labels = linkage.connected_components(pl.Series([1, 2, 3, 4, 5, 6]), edges)
    assert dict(labels.iter_rows()) == {1: 1, 2: 1, 3: 1, 4: 4, 5: 5, 6: 5}


def test_clusters_take_the_earliest_listing_as_canonical() -> None:
    listings = frame(
        [
            listing(1, created_at=CREATED + timedelta(days=2)),
            listing(2, created_at=CREATED),
            listing(3, created_at=CREATED + timedelta(days=1)),
            listing(4),
        ]
    )
    pairs = pl.DataFrame(
        {
            "event_id_l": [1, 1, 3],
            "event_id_r": [2, 3, 4],
            "match_probability": [0.99, 0.95, 0.4],
            "match_weight": [9.0, 7.0, -1.0],
        }
    )
    clusters = linkage.cluster_frame(listings, pairs)
    assert clusters.to_dicts() == [
        {
            "event_id": 1,
            "canonical_id": 2,
            "is_canonical": False,
            "cluster_size": 3,
            "match_probability": 0.99,
        },
        {
            "event_id": 2,
            "canonical_id": 2,
            "is_canonical": True,
            "cluster_size": 3,
            "match_probability": 0.99,
        },
        {
            "event_id": 3,
            "canonical_id": 2,
            "is_canonical": False,
            "cluster_size": 3,
            "match_probability": 0.95,
        },
        {
            "event_id": 4,
            "canonical_id": 4,
            "is_canonical": True,
            "cluster_size": 1,
            "match_probability": None,
        },
    ]


def _city_events(count: int) -> list[dict[str, object]]:
    """Unrelated events around town over a few days: what the model's u probabilities see."""
    topics = ["Jazz", "Yoga", "Python", "Pottery", "Startup", "Poetry", "Chess", "Salsa"]
    kinds = ["Night", "Workshop", "Meetup", "Session", "Social", "Class"]
    return [
        listing(
            100 + i,
            title=f"{topics[i % 8]} {kinds[i % 6]} {i}",
            description=f"{topics[i % 8]} {kinds[i % 6]} number {i}: come and meet people.",
            starts_at=T0 + timedelta(hours=(i * 5) % 72),
            venue_name=f"{kinds[(i + 3) % 6]} Hall {i % 13}",
            lat=52.45 + (i % 17) * 0.01,
            lng=13.30 + (i % 11) * 0.02,
        )
        for i in range(count)
    ]


def test_splink_merges_a_cross_feed_copy_and_keeps_look_alikes_apart() -> None:
    original = listing(
        1,
        title="Berlin Rust Meetup #41",
        description="Async in practice. Join the Berlin Rust community for talks and pizza.",
        venue_name="Factory Hub",
    )
    rows = [
        original,
        # Another feed's copy: ticketing suffix, a typo, an hour off, 300 m away, no organiser.
        {
            **original,
            "event_id": 2,
            "title": "Berlin Rust Meetpu #41 [Tickets]",
            "starts_at": T0 + timedelta(hours=1),
            "lat": 52.5227,
            "organizer_id": None,
            "created_at": CREATED + timedelta(days=3),
        },
        # The series' next instance at the same venue, a week later.
        {
            **original,
            "event_id": 3,
            "title": "Berlin Rust Meetup #42",
            "starts_at": T0 + timedelta(days=7),
        },
        # A second session of the same event, three hours later.
        {**original, "event_id": 4, "starts_at": T0 + timedelta(hours=3)},
        # Another event at the same time on the other side of town.
        listing(5, title="Berlin Go Meetup", venue_name="Tower Loft", lat=52.48, lng=13.31),
        # The same organiser's other event at the same time, at the venue next door.
        listing(
            6,
            title="Berlin Rust Workshop: Traits",
            venue_name="Factory Loft",
            lat=52.5213,
            organizer_id=1,
        ),
        # Two webinars of one organiser at the same time: "Online" is no venue.
        listing(7, title="Python Webinar: Typing", venue_name="Online", lat=None, lng=None),
        listing(
            8,
            title="Python Webinar: Packaging",
            venue_name="Online",
            lat=None,
            lng=None,
            organizer_id=7,
        ),
        *_city_events(60),
    ]
    result = linkage.link_listings(frame(rows))
    clusters = {r["event_id"]: r["canonical_id"] for r in result.clusters.iter_rows(named=True)}
    assert clusters[1] == clusters[2] == 1
    assert clusters[3] == 3
    assert clusters[4] == 4
    assert [clusters[i] for i in (5, 6, 7, 8)] == [5, 6, 7, 8]
    assert result.clusters.filter(pl.col("cluster_size") > 1).height == 2
    assert result.candidate_pairs >= 1


def test_a_lone_listing_is_its_own_canonical_event() -> None:
    result = linkage.link_listings(frame([listing(7)]))
    assert result.clusters.select("event_id", "canonical_id", "cluster_size").row(0) == (7, 7, 1)
    assert result.pairs.is_empty()


# --- quality flags -------------------------------------------------------------------------


def _flags_of(rows: list[dict[str, object]], canonical: dict[int, int] | None = None) -> dict:
    listings = frame(rows)
    canonical = canonical or {}
    clusters = pl.DataFrame(
        {
            "event_id": listings["event_id"],
            "canonical_id": [canonical.get(i, i) for i in listings["event_id"]],
            "match_probability": [0.98 if i in canonical else None for i in listings["event_id"]],
        }
    ).with_columns((pl.col("event_id") == pl.col("canonical_id")).alias("is_canonical"))
    flags = quality.quality_flags(listings, clusters)
    return {(r["event_id"], r["flag"]): r["evidence"] for r in flags.iter_rows(named=True)}


def test_a_clean_listing_raises_no_flag() -> None:
    assert _flags_of([listing(1)]) == {}


@pytest.mark.parametrize(
    ("values", "flag", "evidence"),
    [
        ({"description": None}, "missing_description", "the feed gave no description"),
        ({"description": "   "}, "missing_description", "the feed gave no description"),
        (
            {"description": "Fun!"},
            "short_description",
            "description has 4 characters (fewer than 40): 'Fun!'",
        ),
        (
            {"title": "FREE PARTY TONIGHT"},
            "all_caps",
            "title is 100% capitals: 'FREE PARTY TONIGHT'",
        ),
        ({"title": "Party tonight!!!"}, "repeated_punctuation", "'!!!' in the text"),
        (
            {"description": "Go http://a.example/1 http://b.example/2 http://c.example/3 now."},
            "link_farm",
            "3 links: http://a.example/1 http://b.example/2 http://c.example/3",
        ),
        ({"capacity": 0}, "impossible_capacity", "capacity 0 is outside 1..200000"),
        ({"capacity": 5_000_000}, "impossible_capacity", "capacity 5000000 is outside 1..200000"),
        ({"price": 250_000.0}, "impossible_price", "price 250000.0 EUR is above 100000"),
        (
            {"created_at": T0 + timedelta(hours=5)},
            "start_in_past",
            "starts 2026-06-10T18:00Z, 5 hours before it was listed (2026-06-10T23:00Z)",
        ),
    ],
)
def test_each_flag_names_its_evidence(values: dict, flag: str, evidence: str) -> None:
    assert _flags_of([listing(1, **values)]) == {(1, flag): evidence}


def test_acronyms_are_not_shouting() -> None:
    assert _flags_of([listing(1, title="AI and ML in NYC")]) == {}


def test_a_duplicate_points_at_its_canonical_event() -> None:
    flags = _flags_of([listing(1), listing(2)], canonical={2: 1})
    assert flags == {(2, "duplicate_listing"): "same event as listing 1 (match probability 0.98)"}


def test_scores_multiply_and_low_quality_is_below_the_bar() -> None:
    flags = pl.DataFrame(
        {
            "event_id": [1, 1, 2, 3],
            "flag": ["short_description", "all_caps", "start_in_past", "duplicate_listing"],
            "evidence": ["x", "x", "x", "x"],
        }
    )
    scores = quality.quality_scores(pl.Series([1, 2, 3, 4]), flags)
    assert scores.to_dicts() == [
        {
            "event_id": 1,
            "quality_score": 0.6,  # (1 - 0.2) * (1 - 0.25)
            "flags": ["all_caps", "short_description"],
            "low_quality": False,
        },
        {"event_id": 2, "quality_score": 0.4, "flags": ["start_in_past"], "low_quality": True},
        {"event_id": 3, "quality_score": 1.0, "flags": ["duplicate_listing"], "low_quality": False},
        {"event_id": 4, "quality_score": 1.0, "flags": [], "low_quality": False},
    ]


# --- categories ----------------------------------------------------------------------------

TEXTS = {
    "concert": ["Jazz live at the hall", "Rock concert night", "Live jazz and soul", "Folk live"],
    "workshop": ["Pottery workshop hands-on", "Hands-on coding workshop", "Workshop: knitting"],
    "sports": ["Running club 10k race", "Football match night", "Race day: 5k running"],
}


def _labelled() -> pl.DataFrame:
    rows = [
        listing(i, title=t, description=t, category=c)
        for i, (c, t) in enumerate((c, t) for c, ts in TEXTS.items() for t in ts * 3)
    ]
    return frame(rows)


def test_the_classifier_predicts_a_category_with_its_confidence() -> None:
    model = categories.train_classifier(_labelled())
    unseen = frame(
        [
            listing(90, title="Live jazz concert", description="live jazz"),
            listing(91, title="Tuesday", description="Tuesday"),
        ]
    )
    predicted = categories.predict_categories(model, unseen)
    jazz, vague = predicted.to_dicts()
    assert jazz["category"] == "concert"
    assert jazz["confidence"] >= categories.MIN_CONFIDENCE
    assert not jazz["low_confidence"]
    assert vague["confidence"] < categories.MIN_CONFIDENCE
    assert vague["low_confidence"]


def test_held_out_evaluation_keeps_groups_on_one_side() -> None:
    labelled = _labelled()
    result = categories.evaluate_classifier(labelled, labelled["event_id"] % 10)
    assert result.train_rows + result.test_rows == labelled.height
    assert 0.0 <= result.macro_f1 <= 1.0
    assert 0.0 <= result.confident_share <= 1.0


def test_categories_come_from_the_feed_then_the_cluster_then_the_model() -> None:
    listings = frame(
        [
            listing(1, category="concert"),
            listing(2, category=None),  # copy of 1 in a feed without categories
            listing(3, category=" "),  # no category anywhere for its event
            listing(4, category="workshop"),
        ]
    )
    clusters = pl.DataFrame({"event_id": [1, 2, 3, 4], "canonical_id": [1, 1, 3, 4]})
    predictions = pl.DataFrame(
        {
            "event_id": [2, 3],
            "category": ["sports", "sports"],
            "confidence": [0.9, 0.45],
            "low_confidence": [False, True],
            "model_version": ["event-category-classifier/1"] * 2,
        }
    )
    resolved = categories.resolve_categories(listings, clusters, predictions)
    assert resolved.to_dicts() == [
        {
            "event_id": 1,
            "category": "concert",
            "source": "feed",
            "confidence": None,
            "low_confidence": False,
            "model_version": None,
        },
        {
            "event_id": 2,
            "category": "concert",
            "source": "cluster",
            "confidence": None,
            "low_confidence": False,
            "model_version": None,
        },
        {
            "event_id": 3,
            "category": "sports",
            "source": "model",
            "confidence": 0.45,
            "low_confidence": True,
            "model_version": "event-category-classifier/1",
        },
        {
            "event_id": 4,
            "category": "workshop",
            "source": "feed",
            "confidence": None,
            "low_confidence": False,
            "model_version": None,
        },
    ]


# --- measures ------------------------------------------------------------------------------


def test_pairwise_scores_count_unordered_pairs() -> None:
    truth = pl.DataFrame({"event_id": [1, 2, 3, 4, 5], "true_event_id": [1, 1, 1, 4, 5]})
    # 1-2 found, 1-3 and 2-3 missed, 4-5 merged wrongly.
    predicted = pl.DataFrame({"event_id": [1, 2, 3, 4, 5], "canonical_id": [1, 1, 3, 4, 4]})
    score = evaluation.pairwise_scores(predicted, truth)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 1, 2)
    assert score.precision == 0.5
    assert score.recall == pytest.approx(1 / 3)


def test_flag_scores_per_flag() -> None:
    truth = pl.DataFrame({"event_id": [1, 2, 3], "flags": [["all_caps"], [], ["link_farm"]]})
    raised = pl.DataFrame({"event_id": [1, 2], "flag": ["all_caps", "all_caps"]})
    scores = evaluation.flag_scores(raised, truth, ("all_caps", "link_farm"))
    assert scores.to_dicts() == [
        {"flag": "all_caps", "planted": 1, "raised": 2, "precision": 0.5, "recall": 1.0},
        {"flag": "link_farm", "planted": 1, "raised": 0, "precision": 1.0, "recall": 0.0},
    ]
