"""A category for every listing: a text classifier trained on the listings that have one.

TF-IDF of the title and description (words and word pairs) into a multinomial logistic
regression, whose class probability is the prediction's confidence. The platform acts on a
prediction (shows it, filters search by it) only at :data:`MIN_CONFIDENCE` or above; a lower
one is kept but marked low-confidence, for an admin to confirm.

Listings of one event in several feeds, or of one series, read alike: the held-out split keeps
each canonical event's listings on one side, so the evaluation measures new events, not copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import Pipeline

MIN_CONFIDENCE = 0.6
HELD_OUT_SHARE = 0.2
CATEGORY_COLUMNS = ("event_id", "title", "description", "category")


@dataclass(frozen=True)
class CategoryEvaluation:
    """Hold-out figures of one trained classifier."""

    macro_f1: float
    accuracy: float
    accuracy_confident: float  # accuracy over the predictions at MIN_CONFIDENCE or above
    confident_share: float  # share of held-out predictions at MIN_CONFIDENCE or above
    train_rows: int
    test_rows: int
    classes: int

    def as_metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow and Dagster metadata."""
        return {
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "accuracy_confident": self.accuracy_confident,
            "confident_share": self.confident_share,
        }


def category_text(listings: pl.DataFrame) -> list[str]:
    """What the classifier reads of a listing: its title, then its description."""
    text = pl.concat_str(
        pl.col("title").fill_null(""), pl.col("description").fill_null(""), separator=". "
    )
    return listings.select(text.alias("t"))["t"].to_list()


def has_category(listings: pl.DataFrame) -> pl.Series:
    """Whether the feed gave a category (an empty cell counts as none)."""
    category = pl.col("category").str.strip_chars()
    return listings.select((category.is_not_null() & (category != "")).alias("c"))["c"]


def new_classifier(random_state: int = 42) -> Pipeline:
    """An untrained TF-IDF + logistic regression pipeline."""
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000
                ),
            ),
            ("model", LogisticRegression(C=10.0, max_iter=2000, random_state=random_state)),
        ]
    )


def predict_categories(model: Pipeline, listings: pl.DataFrame) -> pl.DataFrame:
    """``event_id``, the predicted ``category``, its ``confidence`` and ``low_confidence``."""
    if listings.is_empty():
        return pl.DataFrame(
            schema={
                "event_id": pl.Int64,
                "category": pl.String,
                "confidence": pl.Float64,
                "low_confidence": pl.Boolean,
            }
        )
    probabilities = model.predict_proba(category_text(listings))
    best = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(best)), best]
    return pl.DataFrame(
        {
            "event_id": listings["event_id"],
            "category": model.classes_[best].astype(str),
            "confidence": confidence.round(4),
            "low_confidence": confidence < MIN_CONFIDENCE,
        }
    )


def evaluate_classifier(
    labelled: pl.DataFrame, groups: pl.Series, random_state: int = 42
) -> CategoryEvaluation:
    """Train on part of the categorised listings, measure on the rest (whole groups held out).

    ``groups`` (one per row, e.g. the canonical event id) keeps related listings on one side.
    """
    splitter = GroupShuffleSplit(n_splits=1, test_size=HELD_OUT_SHARE, random_state=random_state)
    train, test = next(splitter.split(np.zeros(labelled.height), groups=groups.to_numpy()))
    model = new_classifier(random_state).fit(
        category_text(labelled[train]), labelled["category"][train].to_list()
    )
    predicted = predict_categories(model, labelled[test])
    truth = labelled["category"][test].to_numpy()
    guessed = predicted["category"].to_numpy()
    confident = ~predicted["low_confidence"].to_numpy()
    correct = guessed == truth
    return CategoryEvaluation(
        macro_f1=float(f1_score(truth, guessed, average="macro")),
        accuracy=float(correct.mean()),
        accuracy_confident=float(correct[confident].mean()) if confident.any() else float("nan"),
        confident_share=float(confident.mean()),
        train_rows=len(train),
        test_rows=len(test),
        classes=len(set(truth)),
    )


def train_classifier(labelled: pl.DataFrame, random_state: int = 42) -> Pipeline:
    """The classifier fitted on every categorised listing (what is registered and used)."""
    return new_classifier(random_state).fit(category_text(labelled), labelled["category"].to_list())


def resolve_categories(
    listings: pl.DataFrame, clusters: pl.DataFrame, predictions: pl.DataFrame
) -> pl.DataFrame:
    """One category per listing: its feed's, else one another feed gave the same event, else
    the prediction (``predictions`` from :func:`predict_categories`, with ``model_version``).

    Columns: ``event_id``, ``category``, ``source`` (``feed``, ``cluster`` or ``model``),
    ``confidence`` and ``model_version`` (predictions only) and ``low_confidence``.
    """
    given = listings.select(
        "event_id",
        pl.when(has_category(listings)).then(pl.col("category").str.strip_chars()).alias("feed"),
    ).join(clusters.select("event_id", "canonical_id"), on="event_id", how="left")
    # The most common feed category of the canonical event (ties: alphabetical).
    cluster_category = (
        given.drop_nulls("feed")
        .group_by("canonical_id", "feed")
        .len()
        .sort("canonical_id", "len", "feed", descending=[False, True, False])
        .group_by("canonical_id", maintain_order=True)
        .agg(pl.col("feed").first().alias("from_cluster"))
    )
    joined = given.join(cluster_category, on="canonical_id", how="left").join(
        predictions.select(
            "event_id",
            pl.col("category").alias("predicted"),
            "confidence",
            "low_confidence",
            "model_version",
        ),
        on="event_id",
        how="left",
    )
    source = (
        pl.when(pl.col("feed").is_not_null())
        .then(pl.lit("feed"))
        .when(pl.col("from_cluster").is_not_null())
        .then(pl.lit("cluster"))
        .when(pl.col("predicted").is_not_null())
        .then(pl.lit("model"))
    )
    by_model = pl.col("source") == "model"
    return (
        joined.with_columns(source.alias("source"))
        .select(
            "event_id",
            pl.coalesce("feed", "from_cluster", "predicted").alias("category"),
            "source",
            pl.when(by_model).then("confidence").alias("confidence"),
            (by_model & pl.col("low_confidence").fill_null(False)).alias("low_confidence"),
            pl.when(by_model).then("model_version").alias("model_version"),
        )
        .sort("event_id")
    )
