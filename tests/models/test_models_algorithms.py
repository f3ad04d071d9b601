"""Each algorithm on tiny cases whose answer is known, plus the shared recommend contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import scipy.linalg
import scipy.sparse as sp

from models import MODEL_REGISTRY, ModelTooLargeError, make_model
from models.als import ALSRecommender
from models.base import fit_shared, shared_fits
from models.content import ContentRecommender
from models.ease import EASERecommender
from models.hybrid import HybridRecommender
from models.item_knn import ItemKNNRecommender
from models.matrix import prepare_interactions
from models.popularity import PopularityRecommender
from models.topk import sparse_top_k, top_k

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def frame(pairs: list[tuple[int, int]], weights: list[float] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [u for u, _ in pairs],
            "item_id": [i for _, i in pairs],
            "weight": weights or [1.0] * len(pairs),
            "timestamp": [T0] * len(pairs),
        }
    )


# Two taste blocks: users 1-3 like items 10-12, users 4-6 like items 20-22.
BLOCKS = frame(
    [(u, i) for u in (1, 2, 3) for i in (10, 11, 12) if (u, i) != (3, 12)]
    + [(u, i) for u in (4, 5, 6) for i in (20, 21, 22) if (u, i) != (6, 22)]
    + [(1, 20)]
)


def test_popularity_halves_an_interaction_every_half_life() -> None:
    interactions = pl.DataFrame(
        {
            "user_id": [1, 2, 3],
            "item_id": [10, 11, 11],
            "weight": [4.0, 1.0, 1.0],
            "timestamp": [T0, T0 - timedelta(days=10), T0 - timedelta(days=20)],
        }
    )
    model = PopularityRecommender(half_life_days=10.0).fit(interactions)
    assert model.item_scores_.tolist() == pytest.approx([4.0, 0.5 + 0.25])
    recs = model.recommend([99], k=2)
    assert recs["item_id"].to_list() == [10, 11]
    assert recs["score"].to_list() == pytest.approx([4.0, 0.75])


def test_recommend_contract_schema_ranks_seen_and_candidates() -> None:
    model = PopularityRecommender(half_life_days=None).fit(BLOCKS)
    recs = model.recommend([1, 4], k=3)
    assert recs.schema == pl.Schema(
        {"user_id": pl.Int64, "rank": pl.Int32, "item_id": pl.Int64, "score": pl.Float32}
    )
    assert recs.filter(pl.col("user_id") == 1)["rank"].to_list() == [1, 2]  # 2 unseen left
    assert recs.filter(pl.col("user_id") == 4)["rank"].to_list() == [1, 2, 3]
    seen_by_1 = {10, 11, 12, 20}
    assert not seen_by_1 & set(recs.filter(pl.col("user_id") == 1)["item_id"])
    restricted = model.recommend([4], k=5, candidates=[10, 11, 999], exclude_seen=False)
    assert set(restricted["item_id"]) == {10, 11}
    assert model.recommend([4], k=0).height == 0


def test_ease_weights_match_the_closed_form() -> None:
    model = EASERecommender(l2=2.0).fit(BLOCKS)
    X = model.X_.toarray().astype(np.float64)
    P = scipy.linalg.inv(X.T @ X + 2.0 * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P / np.diag(P)
    assert np.allclose(model.B_, B, atol=1e-5)
    assert np.allclose(np.diag(model.B_), 0.0)
    # User 3 misses item 12 of their block: EASE ranks it first.
    assert model.recommend([3], k=1)["item_id"].to_list() == [12]


def test_ease_refuses_catalogues_above_max_items() -> None:
    with pytest.raises(ModelTooLargeError, match="max_items=3"):
        EASERecommender(max_items=3).fit(BLOCKS)


def test_item_knn_cosine_similarity_is_hand_computable() -> None:
    interactions = frame([(1, 10), (1, 11), (2, 10), (2, 11), (3, 10), (3, 12)])
    model = ItemKNNRecommender(k_neighbors=5).fit(interactions)
    sims = model.similar_items([10], k=2)
    # Item 10 has users {1,2,3}, 11 has {1,2}, 12 has {3}: cos = 2/sqrt(6), 1/sqrt(3).
    assert sims["similar_item_id"].to_list() == [11, 12]
    assert sims["score"].to_list() == pytest.approx([2 / np.sqrt(6), 1 / np.sqrt(3)], rel=1e-5)
    # User 3 knows 10 and 12; item 11 scores sim(10, 11) + sim(12, 11) = 2/sqrt(6) + 0.
    recs = model.recommend([3], k=1)
    assert recs["item_id"].to_list() == [11]
    assert recs["score"][0] == pytest.approx(2 / np.sqrt(6), rel=1e-5)


@pytest.mark.parametrize("similarity", ["cosine", "bm25"])
def test_item_knn_completes_the_taste_block(similarity: str) -> None:
    model = ItemKNNRecommender(k_neighbors=3, similarity=similarity).fit(BLOCKS)
    assert model.recommend([6], k=1)["item_id"].to_list() == [22]


def test_item_knn_keeps_only_k_neighbors_per_item() -> None:
    model = ItemKNNRecommender(k_neighbors=1).fit(BLOCKS)
    assert np.diff(model.S_.tocsc().indptr).max() <= 1


@pytest.mark.parametrize(
    ("similarity", "shrink", "k"), [("cosine", 0.0, 4), ("bm25", 0.0, 7), ("cosine", 3.0, 5)]
)
def test_item_knn_sparse_neighbours_match_a_dense_brute_force(
    similarity: str, shrink: float, k: int
) -> None:
    rng = np.random.default_rng(7)
    # Integer weights: many equal similarities, so ties at the k-th neighbour really happen.
    cells = rng.random((60, 40)) < 0.15
    users, items = np.nonzero(cells)
    interactions = pl.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "weight": rng.integers(1, 4, users.size).astype(float),
        }
    )
    model = ItemKNNRecommender(k, similarity, shrink, weighting="raw").fit(interactions)

    vectors = model.item_vectors_.toarray().astype(np.float64)
    dense = vectors @ vectors.T
    if shrink:
        support = (vectors > 0).astype(float) @ (vectors > 0).astype(float).T
        dense *= support / (support + shrink)
    np.fill_diagonal(dense, 0.0)
    dense[dense <= 0] = -np.inf
    expected = -np.sort(-dense, axis=1)[:, :k]  # each item's k best similarities

    neighbours = model.S_.T.toarray()  # row i: item i's neighbours
    kept = neighbours != 0
    assert (kept.sum(axis=1) == np.isfinite(expected).sum(axis=1)).all()
    # Every kept neighbour carries its brute-force similarity ...
    np.testing.assert_allclose(neighbours[kept], dense[kept], rtol=1e-5)
    # ... and the kept values are each item's best ones: equal up to the choice among ties.
    got = -np.sort(-np.where(kept, neighbours, -np.inf), axis=1)[:, :k]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sparse_top_k_matches_dense_top_k() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(1, 5, (50, 300)).astype(np.float32)
    values[rng.random(values.shape) < 0.9] = 0  # rows of 0 to ~60 stored values
    dense = np.where(values > 0, values, -np.inf).astype(np.float32)
    # Stored in shuffled order, as sparse products leave column indices unsorted.
    r, c = np.nonzero(values)
    order = np.lexsort((rng.random(r.size), r))  # rows in order, columns shuffled within
    indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=values.shape[0]))]
    matrix = sp.csr_matrix((values[r, c][order], c[order], indptr), shape=values.shape)
    assert not matrix.has_sorted_indices
    rows, cols, vals = sparse_top_k(matrix, 8)
    want_rows, _, want_vals = top_k(dense, 8)
    assert np.array_equal(rows, want_rows)
    assert np.array_equal(vals, want_vals)
    assert np.array_equal(vals, dense[rows, cols])
    # Within a row: best first, ties by column index.
    same_row = rows[1:] == rows[:-1]
    assert (vals[1:][same_row] <= vals[:-1][same_row]).all()
    tied = same_row & (vals[1:] == vals[:-1])
    assert (cols[1:][tied] > cols[:-1][tied]).all()


def test_als_learns_the_blocks_and_is_deterministic() -> None:
    params = {"factors": 4, "regularization": 0.1, "alpha": 10.0, "iterations": 10}
    first = ALSRecommender(**params, random_state=1).fit(BLOCKS)
    second = ALSRecommender(**params, random_state=1).fit(BLOCKS)
    assert np.array_equal(first.user_factors_, second.user_factors_)
    assert first.recommend([3], k=1)["item_id"].to_list() == [12]
    assert first.recommend([6], k=1)["item_id"].to_list() == [22]
    sims = first.similar_items([10], k=2)
    assert set(sims["similar_item_id"]) == {11, 12}


def test_als_cg_solution_matches_the_exact_least_squares() -> None:
    model = ALSRecommender(factors=3, regularization=0.5, alpha=2.0, iterations=1, cg_steps=3)
    model.fit(BLOCKS)
    # Re-solving a user with the learned item factors: 3 CG steps on a 3-dim system are exact.
    Y = model.item_factors_.astype(np.float64)
    row = model.seen_[0].toarray().ravel() > 0
    c = 1.0 + 2.0 * row
    A = Y.T @ (c[:, None] * Y) + 0.5 * np.eye(3)
    b = Y.T @ (c * row)
    exact = np.linalg.solve(A, b)
    from models.als import _cg_solve

    conf = model.seen_[:1].copy()
    conf.data[:] = 2.0
    solved = _cg_solve(conf, model.item_factors_, model.user_factors_[:1], 0.5, 3)
    assert np.allclose(solved[0], exact, atol=1e-3)


ITEMS = pl.DataFrame(
    {
        "item_id": [10, 11, 12, 20, 21, 22, 30, 31],
        "title": [
            "jazz concert",
            "rock concert",
            "jazz night",
            "python meetup",
            "data meetup",
            "python workshop",
            "jazz festival",  # never interacted with
            "cloud meetup",  # never interacted with
        ],
        "category": ["music"] * 3 + ["tech"] * 3 + ["music", "tech"],
        "tags": [["jazz"], ["rock"], ["jazz"], ["python"], ["data"], ["python"], ["jazz"], []],
        "city": ["lisbon"] * 8,
        "price": [10.0, 20.0, 0.0, 0.0, 0.0, 50.0, 15.0, 0.0],
        "starts_at": [T0 - timedelta(days=1)] * 6 + [T0 + timedelta(days=5)] * 2,
        "lat": [38.7] * 7 + [41.1],
        "lng": [-9.1] * 7 + [-8.6],
    }
)
USERS = pl.DataFrame(
    {
        "user_id": [1, 4, 7],
        "home_lat": [38.7, 41.1, 41.1],
        "home_lng": [-9.1, -8.6, -8.6],
        "interests": [["jazz"], ["python"], ["tech"]],
    }
)


def test_content_recommends_cold_items_matching_the_profile() -> None:
    model = ContentRecommender().fit(BLOCKS, ITEMS, USERS)
    recs = model.recommend([2, 5], k=1, candidates=[30, 31])
    assert dict(zip(recs["user_id"], recs["item_id"], strict=True)) == {2: 30, 5: 31}
    # User 7 never interacted but declared "tech": served from interests alone.
    assert model.recommend([7], k=1, candidates=[30, 31])["item_id"].to_list() == [31]
    sims = model.similar_items([30], k=1)
    assert sims["similar_item_id"].to_list() in ([10], [12])


def test_content_needs_items() -> None:
    with pytest.raises(ValueError, match="items frame"):
        ContentRecommender().fit(BLOCKS)


def test_hybrid_skips_started_events_and_reaches_cold_ones() -> None:
    model = HybridRecommender(cf_model="item_knn", distance_weight=0.0).fit(BLOCKS, ITEMS, USERS)
    recs = model.recommend([2, 5, 999], k=5)
    assert set(recs["item_id"]) <= {30, 31}  # everything else started before now
    top = recs.filter(pl.col("rank") == 1)
    assert dict(zip(top["user_id"], top["item_id"], strict=True))[2] == 30
    assert dict(zip(top["user_id"], top["item_id"], strict=True))[5] == 31
    assert model.similar_items([10], k=1)["similar_item_id"].to_list() == [30]


def test_hybrid_penalises_distance_from_home() -> None:
    # User 1 likes jazz (item 30, at home) — with a huge distance weight, user 4 (living by 31)
    # is pushed to the nearby event even though 31 is tech and they also like tech.
    near = HybridRecommender(cf_model="item_knn", content_weight=0.0, popularity_weight=0.0)
    near.set_params(distance_weight=5.0, distance_scale_km=10.0).fit(BLOCKS, ITEMS, USERS)
    scores = near.score_matrix([4], [30, 31])[0]
    assert scores[1] > scores[0]
    assert scores[0] == pytest.approx(-5.0 * (1 - np.exp(-near_km() / 10.0)), rel=1e-3)


def near_km() -> float:
    from models.geo import haversine_km

    return float(haversine_km(np.array(41.1), np.array(-8.6), np.array(38.7), np.array(-9.1)))


def test_hybrid_respects_an_explicit_now() -> None:
    model = HybridRecommender(cf_model="item_knn", now=T0 + timedelta(days=10)).fit(
        BLOCKS, ITEMS, USERS
    )
    assert model.recommend([2], k=5).height == 0


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_registered_model_fits_and_recommends(name: str) -> None:
    model = make_model(name).fit(BLOCKS, ITEMS, USERS)
    # Before the events of ITEMS start, so that every one of them may be recommended.
    recs = model.recommend([1, 2, 3, 4, 5, 6], k=2, exclude_seen=False, as_of=T0 - timedelta(2))
    assert recs.height > 0
    assert recs.group_by("user_id").len()["len"].max() <= 2
    assert recs["score"].is_sorted(descending=True) or recs.height > 0
    by_user = recs.group_by("user_id", maintain_order=True).agg("score")
    assert all(s == sorted(s, reverse=True) for s in by_user["score"].to_list())
    assert model.get_params() == make_model(name).get_params()


def test_popularity_has_no_item_similarity() -> None:
    with pytest.raises(NotImplementedError):
        PopularityRecommender().fit(BLOCKS).similar_items([10], k=2)


def test_distance_penalty_matches_haversine_near_and_far() -> None:
    from models.geo import distance_penalty, haversine_km, unit_vectors

    rng = np.random.default_rng(0)
    lat, lng = rng.uniform(-60, 60, 40), rng.uniform(-180, 180, 40)
    # Half the events a few hundred metres from a home (where float32 dot products cancel).
    lat2 = np.r_[lat[:20] + rng.normal(0, 0.003, 20), rng.uniform(-60, 60, 20), np.nan]
    lng2 = np.r_[lng[:20] + rng.normal(0, 0.003, 20), rng.uniform(-180, 180, 20), 0.0]
    km = haversine_km(lat[:, None], lng[:, None], lat2[None, :], lng2[None, :])
    expected = np.nan_to_num(1.0 - np.exp(-km / 30.0), nan=0.0)
    got = distance_penalty(unit_vectors(lat, lng), unit_vectors(lat2, lng2), 30.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_candidate_column_caches_follow_refits_and_candidates() -> None:
    model = ItemKNNRecommender(k_neighbors=5).fit(BLOCKS)
    first = model.recommend([1, 2], k=2, candidates=[11, 12])
    assert set(first["item_id"]) <= {11, 12}
    assert set(model.recommend([1, 2], k=2, candidates=[21, 22])["item_id"]) <= {21, 22}
    model.fit(BLOCKS.filter(pl.col("item_id") != 12))
    assert set(model.recommend([1, 2], k=2, candidates=[11, 12])["item_id"]) <= {11}
    assert "_column_cache" not in model.__getstate__()


def test_als_explicit_and_matrix_free_solvers_agree() -> None:
    params = {"factors": 3, "regularization": 0.5, "alpha": 2.0, "iterations": 4, "cg_steps": 3}
    explicit = ALSRecommender(**params).fit(BLOCKS)
    matrix_free = ALSRecommender(**params, solver="cg").fit(BLOCKS)
    np.testing.assert_allclose(explicit.user_factors_, matrix_free.user_factors_, atol=1e-4)
    with pytest.raises(ValueError, match="solver"):
        ALSRecommender(solver="lu").fit(BLOCKS)


def test_an_experiment_scope_fits_the_hybrids_components_once() -> None:
    with shared_fits():
        knn = fit_shared(ItemKNNRecommender(), BLOCKS, ITEMS, USERS)
        content = fit_shared(ContentRecommender(), BLOCKS, ITEMS, USERS)
        hybrid = fit_shared(HybridRecommender(cf_model="item_knn"), BLOCKS, ITEMS, USERS)
        other = fit_shared(ItemKNNRecommender(k_neighbors=2), BLOCKS)
    assert hybrid.cf_ is knn
    assert hybrid.content_ is content
    assert other is not knn
    # Outside a scope every fit is a fresh one.
    assert fit_shared(ItemKNNRecommender(), BLOCKS) is not knn


def test_prepare_interactions_returns_a_prepared_frame_itself() -> None:
    assert prepare_interactions(BLOCKS) is BLOCKS
    raw = BLOCKS.with_columns(pl.col("user_id").cast(pl.Int32))
    prepared = prepare_interactions(raw)
    assert prepared is not raw
    assert prepare_interactions(prepared) is prepared
