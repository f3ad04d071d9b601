"""Measures of curation against a known truth: pairwise linkage, flags, categories.

Pure functions over frames; the benchmark and the tests feed them the planted truth of
``pipelines.synthetic.listings``, an admin's labels would do as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class PrecisionRecall:
    """Counts and rates of one binary decision measured against the truth."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """Share of predicted positives that are true; 1.0 when nothing was predicted."""
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        """Share of true positives that were predicted; 1.0 when there were none."""
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0


def same_cluster_pairs(assignment: pl.DataFrame, item: str, cluster: str) -> pl.DataFrame:
    """Every unordered pair of items sharing a cluster, as ``(a, b)`` with ``a < b``."""
    members = assignment.select(pl.col(item).alias("a"), pl.col(cluster).alias("c"))
    return (
        members.join(members.rename({"a": "b"}), on="c")
        .filter(pl.col("a") < pl.col("b"))
        .select("a", "b")
    )


def pairwise_scores(
    predicted: pl.DataFrame, truth: pl.DataFrame, *, item: str = "event_id"
) -> PrecisionRecall:
    """Pairwise precision and recall of a clustering: a pair counts once per unordered pair.

    ``predicted`` maps ``item`` to ``canonical_id``, ``truth`` maps it to ``true_event_id``.
    A false positive is two listings merged that are different events (a series' next week,
    another session); a false negative is two listings of one event left apart.
    """
    found = same_cluster_pairs(predicted, item, "canonical_id")
    actual = same_cluster_pairs(truth, item, "true_event_id")
    hits = found.join(actual, on=["a", "b"]).height
    return PrecisionRecall(hits, found.height - hits, actual.height - hits)


def flag_scores(flags: pl.DataFrame, truth: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """Precision and recall of each named flag.

    ``flags`` has one row per raised flag (``event_id``, ``flag``); ``truth`` has ``event_id``
    and ``flags`` (the list of flags each listing deserves).
    """
    expected = truth.select("event_id", pl.col("flags").alias("flag")).explode("flag").drop_nulls()
    raised = flags.select("event_id", "flag").unique()
    rows = []
    for name in names:
        got = raised.filter(pl.col("flag") == name)
        want = expected.filter(pl.col("flag") == name)
        hits = got.join(want, on=["event_id", "flag"]).height
        score = PrecisionRecall(hits, got.height - hits, want.height - hits)
        rows.append(
            {
                "flag": name,
                "planted": want.height,
                "raised": got.height,
                "precision": score.precision,
                "recall": score.recall,
            }
        )
    return pl.DataFrame(rows)
