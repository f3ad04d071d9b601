"""Curation in the marts: a duplicate listing's interactions count for its canonical event.

The hand-made data set of ``marts_dataset`` is built with curation saying that the Tech Meetup
listing is another feed's copy of Jazz Night (a made-up merge: what matters is that every
number below follows from the data set's interactions by hand) and that the Food Fair listing
is low quality.
"""

from __future__ import annotations

from collections.abc import Iterator

import marts_dataset as ds
import psycopg
import pytest

pytestmark = pytest.mark.integration

BUILD_VARS = '{popularity_as_of: "2021-06-20T00:00:00+00:00"}'


@pytest.fixture(scope="module")
def marts(database_url: str) -> Iterator[psycopg.Connection]:
    ds.load(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("truncate curation.listing_clusters, curation.listing_quality")
        conn.execute(
            """insert into curation.listing_clusters
                   (event_id, canonical_id, is_canonical, cluster_size, match_probability)
               values (%(jazz)s, %(jazz)s, true, 2, 0.99), (%(meetup)s, %(jazz)s, false, 2, 0.99),
                      (%(fair)s, %(fair)s, true, 1, null), (%(walk)s, %(walk)s, true, 1, null)""",
            {"jazz": ds.JAZZ, "meetup": ds.MEETUP, "fair": ds.FOOD_FAIR, "walk": ds.ART_WALK},
        )
        conn.execute(
            """insert into curation.listing_quality (event_id, quality_score, flags, low_quality)
               values (%s, 0.4, '{all_caps,link_farm}', true)""",
            (ds.FOOD_FAIR,),
        )
    ds.run_dbt("build", "--full-refresh", "--vars", BUILD_VARS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn
        conn.execute("truncate curation.listing_clusters, curation.listing_quality")
    ds.unload(database_url)
    ds.rebuild_marts()


def _rows(conn: psycopg.Connection, query: str, *params: object) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def test_dim_events_names_each_listings_canonical_event(marts) -> None:
    events = {
        row[0]: row[1:]
        for row in _rows(
            marts,
            "select event_id, canonical_event_id, is_canonical, low_quality, quality_flags"
            " from marts.dim_events where event_id between 920001 and 920099",
        )
    }
    assert events[ds.MEETUP][:2] == (ds.JAZZ, False)
    assert events[ds.JAZZ][:2] == (ds.JAZZ, True)
    assert events[ds.FOOD_FAIR][2:] == (True, ["all_caps", "link_farm"])
    # The API's event was never curated: it stands for itself.
    assert events[ds.API_PITCH] == (ds.API_PITCH, True, False, [])


def test_training_pairs_count_the_duplicate_for_its_canonical_event(marts) -> None:
    training = {
        (user, event): (weight, count)
        for user, event, weight, count in _rows(
            marts,
            "select user_id, event_id, weight, interaction_count"
            " from marts.ml_training_interactions where event_id between 920001 and 920099",
        )
    }
    assert training == {
        (ds.ALICE, ds.JAZZ): (8.0, 5),  # 4 on Jazz Night, a view on the copy
        (ds.BOB, ds.JAZZ): (4.0, 4),  # view, click; view, share on the copy
        # Carol registered on the copy but dismissed Jazz Night: the real event is ruled out.
        (ds.DAVE, ds.JAZZ): (6.0, 4),  # view, favorite, register; the re-delivered view
        (ds.EVE, ds.JAZZ): (1.0, 1),
        (ds.CAROL, ds.API_PITCH): (1.0, 1),
    }
    items = [row[0] for row in _rows(marts, "select event_id from marts.ml_event_features")]
    assert ds.MEETUP not in items
    assert ds.JAZZ in items


def test_popularity_has_one_row_per_real_event(marts) -> None:
    popularity = dict(
        _rows(
            marts,
            "select event_id, views from marts.mart_event_popularity"
            " where event_id between 920001 and 920099",
        )
    )
    assert ds.MEETUP not in popularity
    # Jazz Night's 4 views and its copy's 5 (one of them the re-delivered interaction).
    assert popularity[ds.JAZZ] == 9
