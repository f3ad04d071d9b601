"""The events hybrid, its signals and references, on small worlds built by hand."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.event_ranker import EventRanker, ShippedSingleSignalWarning, ndcg_sum
from models.event_signals import build_catalogue, normalise_title
from models.references import NearestVenueReference, RandomRecommender, TfidfReference
from models.schema import UnknownColumnsWarning, recommendations_to_dict

T0 = datetime(2026, 6, 1, tzinfo=UTC)
TOPICS = ("python", "jazz", "yoga", "chess", "wine", "film")
VENUES = {  # venue id -> (lat, lng): two cities 300 km apart
    "v-py": (52.52, 13.40),
    "v-jazz": (52.50, 13.45),
    "v-yoga": (52.53, 13.38),
    "v-chess": (50.11, 8.68),
    "v-wine": (50.10, 8.70),
    "v-film": (50.12, 8.66),
}


def world(n_users: int = 120, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Six organisers, each a weekly series at its own venue, with boilerplate tags; every
    user belongs to one or two organisers and goes to about half of their weekly events."""
    rng = np.random.default_rng(seed)
    rows = []
    for o, topic in enumerate(TOPICS):
        venue = list(VENUES)[o]
        for week in range(-26, 13):
            starts = T0 + timedelta(weeks=week, days=o % 5, hours=18)
            rows.append(
                {
                    "item_id": f"ev-{topic}-{week + 30:02d}",
                    "title": f"{topic.title()} Night #{week + 30}",
                    "description": f"A weekly evening about {topic} with friends.",
                    "tags": ["community", "meetup", f"org{o}"],
                    "organizer_id": f"org-{o}",
                    "venue_id": venue,
                    "lat": VENUES[venue][0],
                    "lng": VENUES[venue][1],
                    "starts_at": starts,
                    "created_at": starts - timedelta(days=21),
                }
            )
    items = pl.DataFrame(rows)
    interactions = []
    for u in range(n_users):
        groups = rng.choice(len(TOPICS), size=rng.integers(1, 3), replace=False)
        for o in groups:
            events = items.filter(pl.col("organizer_id") == f"org-{o}")
            for event in events.iter_rows(named=True):
                if rng.random() < 0.5:
                    interactions.append(
                        {
                            "user_id": f"user-{u:03d}",
                            "item_id": event["item_id"],
                            "timestamp": event["starts_at"] - timedelta(days=2),
                        }
                    )
    return pl.DataFrame(interactions), items


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    return world()


@pytest.fixture(scope="module")
def fitted(data) -> tuple[EventRanker, pl.DataFrame, pl.DataFrame]:
    interactions, items = data
    past = interactions.filter(pl.col("timestamp") < T0)
    return EventRanker().fit(past, items), past, items


def upcoming(items: pl.DataFrame, days: int = 90) -> list[str]:
    window = (pl.col("starts_at") > T0) & (pl.col("starts_at") <= T0 + timedelta(days=days))
    return items.filter(window)["item_id"].to_list()


def test_string_ids_round_trip(fitted) -> None:
    model, past, items = fitted
    users = past["user_id"].unique().sort().head(5).to_list()
    recs = model.recommend([*users, "user-unknown"], 5, candidates=upcoming(items), as_of=T0)
    assert recs.schema["user_id"] == pl.String
    assert recs.schema["item_id"] == pl.String
    assert set(recs["user_id"]) == {*users, "user-unknown"}
    assert set(recs["item_id"]) <= set(upcoming(items))
    similar = model.similar_items(["ev-python-31"], 3)
    assert similar["similar_item_id"].to_list()[0].startswith("ev-python-")
    as_dict = recommendations_to_dict(recs)
    assert len(as_dict[users[0]]) == 5


def test_pandas_and_arrow_input_give_the_same_ranking(fitted) -> None:
    model, past, items = fitted
    from_pandas = EventRanker().fit(past.to_pandas(), items.to_pandas())
    from_arrow = EventRanker().fit(past.to_arrow(), items.to_arrow())
    users = pd.Series(past["user_id"].unique().sort().head(8).to_list())
    expected = model.recommend(users, 5, candidates=upcoming(items), as_of=T0)
    for other in (from_pandas, from_arrow):
        got = other.recommend(users, 5, candidates=upcoming(items), as_of=T0)
        assert got.select("user_id", "item_id").equals(expected.select("user_id", "item_id"))


def test_a_never_seen_candidate_is_ranked_and_scored(fitted) -> None:
    model, past, items = fitted
    cold = sorted(set(upcoming(items)) - set(past["item_id"]))  # no interaction yet
    assert len(cold) > 50
    user = past["user_id"][0]
    recs = model.recommend([user], len(cold), candidates=cold, as_of=T0)
    assert recs.height == len(cold)
    assert recs["score"].is_finite().all()


def test_no_event_that_started_before_as_of_is_returned(fitted) -> None:
    model, past, items = fitted
    as_of = T0 + timedelta(days=20)
    recs = model.recommend(past["user_id"].unique().to_list(), 10, as_of=as_of)
    starts = recs.join(items.select("item_id", "starts_at"), on="item_id")["starts_at"]
    assert recs.height > 0
    assert (starts > as_of).all()


def test_returning_to_a_series_and_its_venue_ranks_first(fitted, data) -> None:
    model, past, items = fitted
    interactions, _ = data
    future = interactions.filter(pl.col("timestamp") >= T0)
    candidates = upcoming(items, days=28)
    recs = model.recommend(future["user_id"].unique().to_list(), 3, candidates=candidates, as_of=T0)
    organiser = dict(zip(items["item_id"], items["organizer_id"], strict=True))
    attended = past.with_columns(pl.col("item_id").replace_strict(organiser).alias("org"))
    own = attended.group_by("user_id").agg(pl.col("org").unique())
    own_orgs = {row[0]: set(row[1]) for row in own.iter_rows()}
    top = recs.filter(pl.col("rank") == 1)
    hits = [
        organiser[item] in own_orgs[user] for user, item in top.select("user_id", "item_id").rows()
    ]
    assert np.mean(hits) > 0.95
    assert model.shipped_ in ("learned", "series_count", "organizer_share", "venue_share")


def test_explanations_name_the_past_event_of_the_series(fitted) -> None:
    model, past, items = fitted
    user = past["user_id"][0]
    recs = model.recommend([user], 3, candidates=upcoming(items, 28), as_of=T0)
    explained = model.explain(recs)
    assert explained.columns[-2:] == ["reason", "because_item_id"]
    row = explained.row(0, named=True)
    assert row["reason"] in model.weights_
    if row["reason"] in ("series_count", "organizer_share", "organizer_count", "venue_share"):
        organiser = items.filter(pl.col("item_id") == row["item_id"])["organizer_id"][0]
        because = items.filter(pl.col("item_id") == row["because_item_id"])
        assert because["organizer_id"][0] == organiser
        assert row["because_item_id"] in set(past.filter(pl.col("user_id") == user)["item_id"])


def test_never_ships_below_its_best_signal_on_validation(data, monkeypatch) -> None:
    interactions, items = data
    past = interactions.filter(pl.col("timestamp") < T0)
    model = EventRanker().fit(past, items)
    report = model.validation_
    singles = {k: v for k, v in report.ndcg.items() if k != "learned"}
    assert report.check_users > 0
    assert model.shipped_ == "learned"
    assert report.ndcg["learned"] >= max(singles.values())

    # Learned weights that rank backwards must lose to the best signal, which then ships.
    def backwards(self, diffs, weights):
        return {"popularity": -1.0, "proximity": -1.0}

    monkeypatch.setattr(EventRanker, "_fit_weights", backwards)
    with pytest.warns(ShippedSingleSignalWarning, match="alone"):
        worse = EventRanker().fit(past, items)
    best = max(singles, key=lambda k: worse.validation_.ndcg[k])
    assert worse.shipped_ == best
    assert set(worse.weights_) <= {best, "popularity"}
    assert worse.weights_[best] == 1.0


def test_columns_are_checked_and_aliases_renamed(data) -> None:
    interactions, items = data
    renamed = items.rename({"starts_at": "start_time", "item_id": "event_id"})
    model = TfidfReference().fit(interactions, renamed)
    assert model.item_starts_ is not None
    with pytest.raises(ValueError, match="did you mean 'starts_at'"):
        EventRanker().fit(interactions, items.rename({"starts_at": "starts_att"}))
    with pytest.warns(UnknownColumnsWarning, match="colour"):
        TfidfReference().fit(interactions, items.with_columns(pl.lit("red").alias("colour")))
    with pytest.raises(ValueError, match="lack required columns"):
        EventRanker().fit(interactions.drop("user_id"))


def test_series_titles_normalise_to_one_key() -> None:
    titles = pl.Series(
        ["Python Meetup #41", "Python Meetup #42 (December)", "PYTHON MEETUP - 2026 edition"]
    )
    assert normalise_title(titles).to_list() == ["python meetup"] * 3


def test_organiser_boilerplate_is_not_a_topic() -> None:
    items = pl.DataFrame(
        {
            "item_id": [1, 2, 3, 4, 5],
            "title": ["Django talk", "Pandas talk", "Numpy talk", "Async talk", "Typing talk"],
            "tags": [["python", "community"]] * 5,
            "organizer_id": [7] * 5,
        }
    )
    catalogue = build_catalogue(items, np.arange(1, 6))
    assert catalogue.n_series == 5
    # "talk" and both tags are on every event of organiser 7: none of them is left.
    assert all(row.nnz == 1 for row in catalogue.topics)
    assert catalogue.text.shape[0] == 5


def test_references_rank_by_their_one_rule(data) -> None:
    interactions, items = data
    past = interactions.filter(pl.col("timestamp") < T0)
    chess_fan = (
        past.join(items.select("item_id", "organizer_id"), on="item_id")
        .group_by("user_id")
        .agg(pl.col("organizer_id").unique())
        .filter(pl.col("organizer_id") == pl.lit(["org-3"], dtype=pl.List(pl.String)))["user_id"][0]
    )
    near = NearestVenueReference().fit(past, items)
    recs = near.recommend([chess_fan], 5, candidates=upcoming(items), as_of=T0)
    venues = items.filter(pl.col("item_id").is_in(recs["item_id"].implode()))["venue_id"]
    assert set(venues) <= {"v-chess", "v-wine", "v-film"}  # the chess venue's city
    text = TfidfReference().fit(past, items)
    top = text.recommend([chess_fan], 1, candidates=upcoming(items), as_of=T0)["item_id"][0]
    assert top.startswith("ev-chess-")
    random = RandomRecommender().fit(past, items)
    once = random.recommend([chess_fan], 5, candidates=upcoming(items), as_of=T0)
    assert once.equals(random.recommend([chess_fan], 5, candidates=upcoming(items), as_of=T0))


def test_ndcg_sum_on_a_hand_computed_case() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    relevant = np.array([[False, True, False, True], [False, False, False, False]])
    excluded = np.array([[True, False, False, False], [False] * 4])
    # Row 0 ranks 1 (0.8, relevant), 3 (0.5, relevant), 2: DCG = IDCG, so nDCG = 1.
    assert ndcg_sum(scores, relevant, excluded, 2) == pytest.approx(1.0)
    relevant[0] = [False, False, True, False]  # now only the third-ranked item is relevant
    assert ndcg_sum(scores, relevant, excluded, 3) == pytest.approx(math.log(2) / math.log(4))


def test_unknown_candidates_are_reported(fitted) -> None:
    model, past, items = fitted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = model.recommend([past["user_id"][0]], 3, candidates=["nope", *upcoming(items)])
    assert any("cannot be scored" in str(w.message) for w in caught)
    assert "nope" not in recs["item_id"].to_list()


def test_batch_scores_are_the_weighted_sum_of_the_signals(fitted) -> None:
    from models.event_signals import signal_block

    model = fitted[0]
    rows = np.arange(6)
    pos = np.flatnonzero(model.item_starts_ > int(T0.timestamp() * 1e6))
    fast = model._score_rows(rows, pos)
    cands = model._candidates(pos)
    cf = model.cf_.score_matrix(model.user_ids_[rows], model.item_ids_[pos]) if model.cf_ else None
    slow = sum(
        weight * signal_block(name, model.history_, cands, rows, cf)
        for name, weight in model.weights_.items()
    )
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-4)
