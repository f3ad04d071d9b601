"""Admins' decisions over a batch's findings: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from pipelines.curation import decisions, linkage

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _decisions(*rows: tuple[str, int, int | None, int]) -> pl.DataFrame:
    """(action, event_id, other_event_id, minutes after T0) rows."""
    return pl.DataFrame(
        [
            {
                "action": a,
                "event_id": e,
                "other_event_id": o,
                "decided_at": T0 + timedelta(minutes=m),
            }
            for a, e, o, m in rows
        ],
        schema=decisions.DECISION_SCHEMA,
    )


def _pairs(*rows: tuple[int, int, float]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"event_id_l": left, "event_id_r": right, "match_probability": p, "match_weight": 5.0}
            for left, right, p in rows
        ],
        schema={
            "event_id_l": pl.Int64,
            "event_id_r": pl.Int64,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
        },
    )


def _listings(*ids: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"event_id": list(ids), "created_at": [T0 + timedelta(seconds=i) for i in ids]}
    )


def _canonical(pairs: pl.DataFrame, *ids: int) -> dict[int, int]:
    clusters = linkage.cluster_frame(_listings(*ids), pairs)
    return dict(zip(clusters["event_id"], clusters["canonical_id"], strict=True))


def test_no_decisions_keep_the_batch_links() -> None:
    pairs = _pairs((1, 2, 0.99), (3, 4, 0.6))
    kept = decisions.apply_to_links(pairs, _decisions())
    assert kept.select("event_id_l", "event_id_r", "match_probability").rows() == [
        (1, 2, 0.99),
        (3, 4, 0.6),
    ]


def test_a_split_listing_keeps_no_link_of_the_batch() -> None:
    pairs = _pairs((1, 2, 0.99), (2, 3, 0.95), (4, 5, 0.99))
    decided = decisions.apply_to_links(pairs, _decisions(("split", 2, None, 0)))
    assert _canonical(decided, 1, 2, 3, 4, 5) == {1: 1, 2: 2, 3: 3, 4: 4, 5: 4}


def test_a_merge_links_listings_the_batch_kept_apart() -> None:
    pairs = _pairs((1, 2, 0.55))
    decided = decisions.apply_to_links(pairs, _decisions(("merge", 2, 1, 0), ("merge", 5, 3, 1)))
    assert _canonical(decided, 1, 2, 3, 4, 5) == {1: 1, 2: 1, 3: 3, 4: 4, 5: 3}
    merged = decided.filter(pl.col("event_id_l") == 1)
    assert merged["match_probability"].to_list() == [1.0]


def test_the_latest_clustering_decision_of_a_listing_wins() -> None:
    pairs = _pairs((1, 2, 0.99))
    split_last = _decisions(("merge", 2, 3, 0), ("split", 2, None, 5))
    assert _canonical(decisions.apply_to_links(pairs, split_last), 1, 2, 3) == {1: 1, 2: 2, 3: 3}
    merge_last = _decisions(("split", 2, None, 0), ("merge", 2, 3, 5))
    assert _canonical(decisions.apply_to_links(pairs, merge_last), 1, 2, 3) == {1: 1, 2: 2, 3: 2}


def test_accept_and_reject_override_the_score() -> None:
    scores = pl.DataFrame(
        {
            "event_id": [1, 2, 3, 4],
            "quality_score": [0.2, 0.9, 0.3, 0.95],
            "low_quality": [True, False, True, False],
        }
    )
    verdicts = _decisions(
        ("accept", 1, None, 0),
        ("reject", 2, None, 0),
        ("accept", 3, None, 0),
        ("reject", 3, None, 2),
        ("merge", 4, 1, 0),
    )
    decided = decisions.apply_to_quality(scores, verdicts).sort("event_id")
    assert decided["low_quality"].to_list() == [False, True, True, False]
    assert decided["rejected"].to_list() == [False, True, True, False]
    assert decided["quality_score"].to_list() == [0.2, 0.9, 0.3, 0.95]
