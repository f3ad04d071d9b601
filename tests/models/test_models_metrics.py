"""Ranking metrics pinned on small hand-computed cases (recommenders-team definitions)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from models import metrics


def recs_frame(rows: dict[int, list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [u for u, items in rows.items() for _ in items],
            "item_id": [i for items in rows.values() for i in items],
            "rank": [r + 1 for items in rows.values() for r in range(len(items))],
        }
    )


def truth_frame(rows: dict[int, list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [u for u, items in rows.items() for _ in items],
            "item_id": [i for items in rows.values() for i in items],
        }
    )


# user 1 hits at ranks 1 and 3 of 3 relevant; user 2 hits at rank 2 of 1 relevant;
# user 5 has no hit; user 3 (truth only) and user 4 (recs only) are not common users.
RECS = recs_frame({1: [1, 2, 3], 2: [4, 6, 7], 4: [1, 2, 3], 5: [8, 9, 10]})
TRUTH = truth_frame({1: [1, 3, 5], 2: [6], 3: [1], 5: [11, 12, 13, 14]})


def test_precision_divides_hits_by_k_over_common_users() -> None:
    assert metrics.precision_at_k(RECS, TRUTH, 3) == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)


def test_recall_divides_hits_by_relevant_items() -> None:
    assert metrics.recall_at_k(RECS, TRUTH, 3) == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_ndcg_uses_binary_gain_and_natural_log_discount() -> None:
    user1 = (1 / math.log(2) + 1 / math.log(4)) / (
        1 / math.log(2) + 1 / math.log(3) + 1 / math.log(4)
    )
    user2 = (1 / math.log(3)) / (1 / math.log(2))
    assert metrics.ndcg_at_k(RECS, TRUTH, 3) == pytest.approx((user1 + user2 + 0) / 3)


def test_map_sums_precision_at_hits_over_relevant_count() -> None:
    user1 = (1 / 1 + 2 / 3) / 3
    user2 = (1 / 2) / 1
    assert metrics.map(RECS, TRUTH, 3) == pytest.approx((user1 + user2 + 0) / 3)


def test_map_at_k_normalises_by_min_of_relevant_and_k() -> None:
    recs = recs_frame({1: [1, 2]})
    truth = truth_frame({1: [1, 2, 3, 4]})
    assert metrics.map(recs, truth, 2) == pytest.approx(0.5)
    assert metrics.map_at_k(recs, truth, 2) == pytest.approx(1.0)


def test_only_top_k_ranks_count() -> None:
    recs = recs_frame({1: [9, 1]})
    truth = truth_frame({1: [1]})
    assert metrics.precision_at_k(recs, truth, 1) == 0.0
    assert metrics.recall_at_k(recs, truth, 2) == 1.0


def test_catalogue_coverage_counts_distinct_recommended_catalogue_items() -> None:
    assert metrics.catalogue_coverage(RECS, list(range(1, 21))) == pytest.approx(9 / 20)


def test_cold_start_recall_only_counts_items_unseen_in_training() -> None:
    # Cold items: 5, 6, 11..14 (train knew 1, 3). User 1: 0 of {5}; user 2: 1 of {6}; user 5: 0.
    value = metrics.cold_start_recall(RECS, TRUTH, [1, 3], 3)
    assert value == pytest.approx((0 + 1 + 0) / 3)
    assert metrics.cold_start_recall(RECS, TRUTH, list(range(100)), 3) is None


def test_evaluate_returns_every_metric_consistently() -> None:
    out = metrics.evaluate(RECS, TRUTH, 3, catalogue=list(range(1, 21)), train_items=[1, 3])
    assert out["precision@k"] == pytest.approx(metrics.precision_at_k(RECS, TRUTH, 3))
    assert out["ndcg@k"] == pytest.approx(metrics.ndcg_at_k(RECS, TRUTH, 3))
    assert out["map@k"] == pytest.approx(metrics.map_at_k(RECS, TRUTH, 3))
    assert out["coverage"] == pytest.approx(9 / 20)
    assert out["cold_start_recall"] == pytest.approx(1 / 3)
