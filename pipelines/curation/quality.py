"""Quality flags of listings, each with its evidence, and a quality score from them.

Every rule is a Polars condition and an evidence text, evaluated over the whole batch at once.
The score starts at 1 and each raised flag multiplies it by ``1 - weight``: one serious problem
(a listing of an event that had already started) sinks a listing on its own, two small ones
(a short description in capitals) add up. Below :data:`LOW_QUALITY_SCORE` a listing is low
quality: demoted in search and never recommended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

MIN_DESCRIPTION_CHARS = 40
# Capacity and price beyond any real venue or ticket: a feed's placeholder or a typo.
MAX_CAPACITY = 200_000
MAX_PRICE = 100_000
MIN_LINKS_FOR_FARM = 3
# Shouting needs enough letters to be told from an acronym ("AI", "NYC").
MIN_LETTERS_FOR_CAPS = 8
CAPS_SHARE = 0.8
LOW_QUALITY_SCORE = 0.6

_URL = r"https?://[^\s]+"
_REPEATED_PUNCTUATION = r"[!?$*]{3,}"


@dataclass(frozen=True)
class FlagRule:
    """One named quality flag: which listings raise it, and the evidence shown for each."""

    name: str
    weight: float
    raised: Callable[[], pl.Expr]
    evidence: Callable[[], pl.Expr]


def _description() -> pl.Expr:
    return pl.col("description").fill_null("").str.strip_chars()


def _caps_share() -> pl.Expr:
    upper = pl.col("title").str.count_matches(r"\p{Lu}")
    lower = pl.col("title").str.count_matches(r"\p{Ll}")
    return upper / (upper + lower)


def _letters() -> pl.Expr:
    return pl.col("title").str.count_matches(r"\p{L}")


def _text() -> pl.Expr:
    return pl.concat_str(pl.col("title"), _description(), separator=" ")


FLAG_RULES: tuple[FlagRule, ...] = (
    FlagRule(
        "missing_description",
        0.35,
        lambda: _description() == "",
        lambda: pl.lit("the feed gave no description"),
    ),
    FlagRule(
        "short_description",
        0.2,
        lambda: (_description() != "") & (_description().str.len_chars() < MIN_DESCRIPTION_CHARS),
        lambda: pl.format(
            "description has {} characters (fewer than {}): '{}'",
            _description().str.len_chars(),
            pl.lit(MIN_DESCRIPTION_CHARS),
            _description(),
        ),
    ),
    FlagRule(
        "all_caps",
        0.25,
        lambda: (_letters() >= MIN_LETTERS_FOR_CAPS) & (_caps_share() >= CAPS_SHARE),
        lambda: pl.format(
            "title is {}% capitals: '{}'", (_caps_share() * 100).round(0).cast(pl.Int64), "title"
        ),
    ),
    FlagRule(
        "repeated_punctuation",
        0.25,
        lambda: _text().str.contains(_REPEATED_PUNCTUATION),
        lambda: pl.format("'{}' in the text", _text().str.extract(f"({_REPEATED_PUNCTUATION})", 1)),
    ),
    FlagRule(
        "link_farm",
        0.5,
        lambda: _text().str.count_matches(_URL) >= MIN_LINKS_FOR_FARM,
        lambda: pl.format(
            "{} links: {}",
            _text().str.count_matches(_URL),
            _text().str.extract_all(_URL).list.join(" "),
        ),
    ),
    FlagRule(
        "impossible_capacity",
        0.4,
        lambda: (pl.col("capacity") < 1) | (pl.col("capacity") > MAX_CAPACITY),
        lambda: pl.format("capacity {} is outside 1..{}", "capacity", pl.lit(MAX_CAPACITY)),
    ),
    FlagRule(
        "impossible_price",
        0.4,
        lambda: pl.col("price") > MAX_PRICE,
        lambda: pl.format(
            "price {} {} is above {}", pl.col("price").round(2), "currency", pl.lit(MAX_PRICE)
        ),
    ),
    FlagRule(
        "start_in_past",
        0.6,
        lambda: pl.col("starts_at") < pl.col("created_at"),
        lambda: pl.format(
            "starts {}, {} hours before it was listed ({})",
            pl.col("starts_at").dt.to_string("%Y-%m-%dT%H:%MZ"),
            (pl.col("created_at") - pl.col("starts_at")).dt.total_hours(),
            pl.col("created_at").dt.to_string("%Y-%m-%dT%H:%MZ"),
        ),
    ),
    # A duplicate is not bad content: it is collapsed into its canonical event, not demoted.
    FlagRule(
        "duplicate_listing",
        0.0,
        lambda: ~pl.col("is_canonical"),
        lambda: pl.format(
            "same event as listing {} (match probability {})",
            "canonical_id",
            pl.col("match_probability").round(3),
        ),
    ),
)
FLAG_NAMES = tuple(rule.name for rule in FLAG_RULES)
QUALITY_COLUMNS = (
    "event_id",
    "title",
    "description",
    "capacity",
    "price",
    "currency",
    "starts_at",
    "created_at",
)


def quality_flags(listings: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """Every raised flag: one row per listing and flag, with ``evidence``.

    ``listings`` needs :data:`QUALITY_COLUMNS`; ``clusters`` the linkage's ``event_id``,
    ``canonical_id``, ``is_canonical`` and ``match_probability``.
    """
    frame = listings.join(
        clusters.select(
            "event_id",
            "canonical_id",
            "is_canonical",
            pl.col("match_probability").cast(pl.Float64),
        ),
        on="event_id",
        how="left",
    ).with_columns(pl.col("is_canonical").fill_null(True))
    raised = [
        frame.filter(rule.raised().fill_null(False)).select(
            "event_id", pl.lit(rule.name).alias("flag"), rule.evidence().alias("evidence")
        )
        for rule in FLAG_RULES
    ]
    return pl.concat(raised).sort("event_id", "flag")


def quality_scores(event_ids: pl.Series, flags: pl.DataFrame) -> pl.DataFrame:
    """One row per listing: ``quality_score`` in [0, 1], its ``flags`` and ``low_quality``."""
    weights = pl.DataFrame({"flag": FLAG_NAMES, "weight": [r.weight for r in FLAG_RULES]})
    per_listing = (
        flags.join(weights, on="flag")
        .group_by("event_id")
        .agg(
            (1 - pl.col("weight")).product().alias("quality_score"),
            pl.col("flag").sort().alias("flags"),
        )
    )
    return (
        pl.DataFrame({"event_id": event_ids})
        .join(per_listing, on="event_id", how="left")
        .with_columns(
            pl.col("quality_score").fill_null(1.0).round(4),
            pl.col("flags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .with_columns((pl.col("quality_score") < LOW_QUALITY_SCORE).alias("low_quality"))
        .sort("event_id")
    )
