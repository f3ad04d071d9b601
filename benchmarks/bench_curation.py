"""Curation measured against the planted truth: linkage, categories, flags, and their cost.

Run: ``.venv/bin/python benchmarks/bench_curation.py [--sizes small,medium] [--repeats 3]``.
For each size the generator's catalogue is planted as partner-feed listings
(``pipelines.synthetic.listings``) and the curation library runs on them in-process, as the
assets do (database reads and writes excluded: a COPY of the medium batch takes well under a
second). Printed, per size:

- linkage: pairwise precision and recall of the Splink clustering, and beside it, in the same
  run, a pure string-similarity baseline (Jaro-Winkler of the normalised titles of listings in
  the same place on the same day, at three thresholds); the hard-negative pairs (different events
  with the same normalised title at the same venue: a series' instances, later sessions) and how
  many of them each method merged;
- categories: macro-F1 and accuracy on held-out canonical events, accuracy of the predictions at
  the confidence the platform acts on and their share, and the same on the listings whose feed
  gave no category (their true category is known to the generator);
- flags: precision and recall of each flag;
- cost: the median wall time of each step over the repeats, candidate pairs per listing and
  seconds per thousand listings (how linkage grows with the catalogue).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import duckdb
import polars as pl

from pipelines.curation import categories, evaluation, linkage, quality
from pipelines.synthetic import GenerationSpec
from pipelines.synthetic.listings import plant_listings

BASELINE_THRESHOLDS = (0.85, 0.9, 0.95)
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def string_baseline_pairs(listings: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Listings on the same day in the same place (city, or the linkage's ~20 km cell) whose
    normalised titles are at least ``threshold`` alike (Jaro-Winkler): the obvious rule
    without a linkage model."""
    features = linkage.linkage_features(listings).select(
        pl.col("unique_id").alias("event_id"),
        "title_norm",
        "city_norm",
        "cell",
        (pl.col("start_s") // 86_400).alias("day"),
    )
    con = duckdb.connect()
    con.register("titles", features.to_arrow())
    return con.sql(
        f"""SELECT l.event_id AS event_id_l, r.event_id AS event_id_r,
                   jaro_winkler_similarity(l.title_norm, r.title_norm) AS match_probability
            FROM titles l JOIN titles r
              ON l.day = r.day AND l.event_id < r.event_id
             AND (l.city_norm = r.city_norm OR l.cell = r.cell)
            WHERE jaro_winkler_similarity(l.title_norm, r.title_norm) >= {threshold}"""
    ).pl()


def hard_negative_pairs(listings: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Pairs of different real events with the same normalised title at the same venue."""
    keyed = listings.join(truth.select("event_id", "true_event_id"), on="event_id").select(
        "event_id",
        "true_event_id",
        linkage.normalise_title(pl.col("title")).alias("t"),
        linkage.normalise_venue(pl.col("venue_name")).alias("v"),
    )
    pairs = keyed.join(keyed, on=["t", "v"], suffix="_r").filter(
        (pl.col("event_id") < pl.col("event_id_r"))
        & (pl.col("true_event_id") != pl.col("true_event_id_r"))
    )
    return pairs.select(a="event_id", b="event_id_r")


def merged_count(pairs: pl.DataFrame, clusters: pl.DataFrame) -> int:
    """How many of ``pairs`` (a, b) ended in one cluster."""
    canonical = clusters.select("event_id", "canonical_id")
    joined = pairs.join(canonical, left_on="a", right_on="event_id").join(
        canonical, left_on="b", right_on="event_id", suffix="_b"
    )
    return joined.filter(pl.col("canonical_id") == pl.col("canonical_id_b")).height


def timed(step, repeats: int):
    """The result of the last of ``repeats`` runs of ``step`` and the median wall seconds."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = step()
        seconds.append(time.perf_counter() - started)
    return result, statistics.median(seconds)


def bench_size(size: str, repeats: int) -> dict[str, object]:
    planted = plant_listings(GenerationSpec.of_size(size, now=NOW))
    listings, truth = planted.listings, planted.truth
    print(f"\n## {size}: {listings.height} listings of {truth['true_event_id'].n_unique()} events")
    print(truth.group_by("kind").len().sort("kind"))

    result, link_s = timed(lambda: linkage.link_listings(listings), repeats)
    clusters = result.clusters
    score = evaluation.pairwise_scores(clusters, truth)
    negatives = hard_negative_pairs(listings, truth)
    rows = [
        {
            "method": f"splink (p >= {linkage.MATCH_PROBABILITY})",
            "precision": score.precision,
            "recall": score.recall,
            "false_pairs": score.false_positives,
            "missed_pairs": score.false_negatives,
            "hard_negatives_merged": merged_count(negatives, clusters),
        }
    ]
    for threshold in BASELINE_THRESHOLDS:
        pairs = string_baseline_pairs(listings, threshold)
        baseline = linkage.cluster_frame(listings, pairs, threshold=threshold)
        s = evaluation.pairwise_scores(baseline, truth)
        rows.append(
            {
                "method": f"title Jaro-Winkler >= {threshold}, same day and place",
                "precision": s.precision,
                "recall": s.recall,
                "false_pairs": s.false_positives,
                "missed_pairs": s.false_negatives,
                "hard_negatives_merged": merged_count(negatives, baseline),
            }
        )
    true_pairs = score.true_positives + score.false_negatives
    print(f"true duplicate pairs: {true_pairs}; hard-negative pairs: {negatives.height}")
    with pl.Config(tbl_rows=20, fmt_str_lengths=60, float_precision=4):
        print(pl.DataFrame(rows))

    labelled = listings.filter(categories.has_category(listings))
    groups = labelled.join(clusters, on="event_id")["canonical_id"]

    def categorise() -> tuple[categories.CategoryEvaluation, pl.DataFrame]:
        held_out = categories.evaluate_classifier(labelled, groups)
        model = categories.train_classifier(labelled)
        missing = listings.filter(~categories.has_category(listings))
        return held_out, categories.predict_categories(model, missing)

    (held_out, predicted), category_s = timed(categorise, repeats)
    known = predicted.join(truth, on="event_id").filter(pl.col("true_category").is_not_null())
    correct = known["category"] == known["true_category"]
    confident = ~known["low_confidence"]
    print(
        f"categories, held-out canonical events ({held_out.test_rows} listings, "
        f"{held_out.classes} classes): macro-F1 {held_out.macro_f1:.4f}, accuracy "
        f"{held_out.accuracy:.4f}, at confidence >= {categories.MIN_CONFIDENCE}: accuracy "
        f"{held_out.accuracy_confident:.4f} on {held_out.confident_share:.1%} of predictions"
    )
    print(
        f"categories, listings without one ({known.height} with a known truth): accuracy "
        f"{correct.mean():.4f}; at confidence >= {categories.MIN_CONFIDENCE}: accuracy "
        f"{correct.filter(confident).mean():.4f} on {confident.mean():.1%}"
    )

    def flag() -> tuple[pl.DataFrame, pl.DataFrame]:
        flags = quality.quality_flags(listings, clusters)
        return flags, quality.quality_scores(listings["event_id"], flags)

    (flags, _), flag_s = timed(flag, repeats)
    with pl.Config(tbl_rows=20, float_precision=4):
        print(evaluation.flag_scores(flags, truth, quality.FLAG_NAMES))

    total = link_s + category_s + flag_s
    per_listing = result.candidate_pairs / listings.height
    print(
        f"median seconds over {repeats}: linkage {link_s:.2f}, categories {category_s:.2f}, "
        f"flags {flag_s:.2f}, total {total:.2f}; candidate pairs {result.candidate_pairs} "
        f"({per_listing:.2f} per listing), linkage {1000 * link_s / listings.height:.3f} s per "
        "1000 listings"
    )
    return {
        "size": size,
        "listings": listings.height,
        "candidate_pairs": result.candidate_pairs,
        "pairs_per_listing": per_listing,
        "linkage_s": link_s,
        "categories_s": category_s,
        "flags_s": flag_s,
        "total_s": total,
        "precision": score.precision,
        "recall": score.recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="small,medium", help="comma-separated named sizes")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    summary = [bench_size(size, args.repeats) for size in args.sizes.split(",")]
    frame = pl.DataFrame(summary)
    first = frame.row(0, named=True)
    frame = frame.with_columns(
        (pl.col("listings") / first["listings"]).alias("listings_x"),
        (pl.col("linkage_s") / first["linkage_s"]).alias("linkage_time_x"),
        (pl.col("candidate_pairs") / first["candidate_pairs"]).alias("candidate_pairs_x"),
    )
    print("\n## growth (ratios to the first size)")
    with pl.Config(tbl_cols=20, float_precision=3, tbl_width_chars=200):
        print(frame)


if __name__ == "__main__":
    main()
