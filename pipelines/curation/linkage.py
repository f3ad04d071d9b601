"""Entity resolution of listings: which listings, across feeds, are the same real event.

Splink (Fellegi-Sunter probabilistic linkage) runs on an in-process DuckDB. Candidate pairs come
from blocking on when and where. When: the start within the same six-hour window (two grids
three hours apart, so that any two starts up to three hours apart share one), and the two
starts the same or a whole hour apart, as after a feed's time-zone mistake; a later session of
the same event, or a series' next week, is never paired. Where: the same city or ~20 km cell, or,
for listings a feed gave no place, the same organiser or title word (:data:`BLOCKING_KEYS`).

Each pair is compared on title, description, organiser, venue, start and coordinates. The m
probabilities (how a copy compares with its original) are set from what is known of feeds
(:data:`M_PROBABILITIES`); the u probabilities (how often unrelated listings agree) and the prior
match rate are measured on each batch. Expectation maximisation is not used: on the small
planted catalogue a level unseen among the matches gets m = 0 and the fit fails outright, and
fixed m keep the model the same, and explainable, from one batch to the next.

Pairs at or above :data:`MATCH_PROBABILITY` are clustered into connected components; each
cluster is one canonical event whose id is the id of its earliest-created listing (ties: the
lowest id), so that the id stays put when later duplicates arrive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

MATCH_PROBABILITY = 0.9
# Six-hour windows of the start, on two grids three hours apart.
_WINDOW_SECONDS = 6 * 3600
# Cells of 0.2 degree (about 22 km north-south): a metropolitan area.
_CELL_DEGREES = 0.2
# Words of feed boilerplate that say nothing about which event a title names.
_TITLE_NOISE = r"\b(?:tickets?|book now|official|sold fast|sold out|on sale now)\b"
_DESCRIPTION_CHARS = 120
_NO_VENUE = r"^(?:online|virtual|online event|livestream|zoom|tba|tbc)$"
SEED = 42
# Random pairs the u probabilities are measured on: a fixed cost per batch, whatever its size
# (two million, as first set, were most of the linkage's time at medium and large size).
U_SAMPLE_PAIRS = 2e5

# How a copy of an event in another feed compares with the original, level by level (exact or
# closest level first, "else" last; a missing value is no evidence): the m probabilities of
# the model. They describe feeds, not a batch, so they are set here rather than fitted per
# batch; the u probabilities (how often unrelated listings agree) are what each batch measures.
M_PROBABILITIES: dict[str, list[float]] = {
    "title_norm": [0.55, 0.35, 0.07, 0.03],
    "description_norm": [0.7, 0.15, 0.1, 0.05],
    "organizer": [0.7, 0.3],
    "venue_norm": [0.8, 0.1, 0.05, 0.05],
    "start_s": [0.7, 0.3],
    "distance": [0.3, 0.6, 0.07, 0.03],
}

LINKAGE_COLUMNS = (
    "event_id",
    "title",
    "description",
    "organizer_id",
    "venue_name",
    "city",
    "lat",
    "lng",
    "starts_at",
    "created_at",
)


@dataclass(frozen=True)
class Linkage:
    """The outcome of linking one batch of listings.

    ``pairs``: scored candidate pairs (``event_id_l``, ``event_id_r``, ``match_probability``,
    ``match_weight``) at or above the reporting floor. ``clusters``: one row per listing with its
    ``canonical_id``, ``cluster_size`` and ``match_probability`` (the strongest link to another
    member; null for a listing alone). ``candidate_pairs``: how many pairs blocking produced.
    """

    pairs: pl.DataFrame
    clusters: pl.DataFrame
    candidate_pairs: int


def normalise_text(text: pl.Expr) -> pl.Expr:
    """Lower-case words and digits only, single-spaced: what two spellings of a name share."""
    return (
        text.str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
        .str.replace_all(r"\s+", " ")
    )


def normalise_title(title: pl.Expr) -> pl.Expr:
    """A title without what feeds add to it: bracketed remarks and ticketing boilerplate."""
    bare = title.str.replace_all(r"\[[^\]]*\]|\([^)]*\)", " ")
    bare = bare.str.to_lowercase().str.replace_all(_TITLE_NOISE, " ")
    return normalise_text(bare)


def normalise_venue(venue: pl.Expr) -> pl.Expr:
    """A venue name without a leading article; null for an online event, which has no venue
    (two webinars are not alike for both being "Online")."""
    name = normalise_text(venue).str.replace(r"^the ", "")
    return pl.when(name.str.contains(_NO_VENUE)).then(None).otherwise(name)


def linkage_features(listings: pl.DataFrame) -> pl.DataFrame:
    """The columns Splink compares and blocks on, derived from landed listings.

    Blank texts become null, so that a missing value counts as no evidence rather than as a
    disagreement. Timestamps go over as epoch seconds (DuckDB's time arithmetic on them is exact).
    """

    def blank_to_null(expr: pl.Expr) -> pl.Expr:
        return pl.when(expr.str.len_chars() > 0).then(expr).otherwise(None)

    epoch = pl.col("starts_at").dt.epoch("s")
    cell = pl.format(
        "{}:{}",
        (pl.col("lat") / _CELL_DEGREES).floor().cast(pl.Int64),
        (pl.col("lng") / _CELL_DEGREES).floor().cast(pl.Int64),
    )
    return listings.select(
        pl.col("event_id").alias("unique_id"),
        blank_to_null(normalise_title(pl.col("title"))).alias("title_norm"),
        blank_to_null(normalise_text(pl.col("description")).str.slice(0, _DESCRIPTION_CHARS)).alias(
            "description_norm"
        ),
        pl.col("organizer_id").cast(pl.String).alias("organizer"),
        blank_to_null(normalise_venue(pl.col("venue_name"))).alias("venue_norm"),
        blank_to_null(normalise_text(pl.col("city"))).alias("city_norm"),
        pl.col("lat"),
        pl.col("lng"),
        epoch.alias("start_s"),
        (epoch // _WINDOW_SECONDS).alias("window_a"),
        ((epoch + _WINDOW_SECONDS // 2) // _WINDOW_SECONDS).alias("window_b"),
        pl.when(pl.col("lat").is_not_null() & pl.col("lng").is_not_null())
        .then(cell)
        .otherwise(None)
        .alias("cell"),
    ).with_columns(
        pl.col("title_norm").str.extract(r"^(\S+)", 1).alias("title_first"),
        pl.col("title_norm").str.extract(r"(\S+)$", 1).alias("title_last"),
    )


# Where two listings of one event agree even when a feed left the place out (an online event,
# a missing city): the city, the ~20 km cell, the organiser, the title's first or last word (a
# typo spoils one of them at most).
BLOCKING_KEYS = ("city_norm", "cell", "organizer", "title_first", "title_last")
# Two listings of one event start at the same time, or a whole hour apart after a feed's
# time-zone mistake; a start two or three hours away is another session, never a copy.
_START_GAP = "abs(l.start_s - r.start_s)"
SAME_START_OR_HOUR_OFF = f"({_START_GAP} <= 900 or {_START_GAP} between 2700 and 4500)"


def _name_comparison(column: str, *, same_numbers: bool) -> object:
    """A name compared as a typo would change it, then word by word: exact; at most two edits;
    at least 60 % of the words shared (Jaccard); else.

    Jaro-Winkler is not used: it rewards a common prefix, and titles and venue names share
    theirs ("Berlin Cycling Open" and "Berlin Running Club"; "Lighthouse Studio" and
    "Lighthouse Loft"). With ``same_numbers`` the numbers in both must be the same for any level
    but "else": "#41" and "#42" are two instances of a series, never a typo.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    left, right = f"{column}_l", f"{column}_r"
    numbers = (
        f" and regexp_replace({left}, '[^0-9]', '', 'g')"
        f" = regexp_replace({right}, '[^0-9]', '', 'g')"
        if same_numbers
        else ""
    )
    words_l, words_r = f"string_split({left}, ' ')", f"string_split({right}, ' ')"
    jaccard = (
        f"len(list_intersect(list_distinct({words_l}), list_distinct({words_r})))"
        f" / len(list_distinct(list_concat({words_l}, {words_r})))"
    )
    return cl.CustomComparison(
        output_column_name=column,
        comparison_description=f"{column}: exact, a typo, most words shared, or different",
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.CustomLevel(f"damerau_levenshtein({left}, {right}) <= 2{numbers}", "a typo"),
            cll.CustomLevel(f"{jaccard} >= 0.6{numbers}", "most words shared"),
            cll.ElseLevel(),
        ],
    )


def _settings(prior: float | None = None) -> object:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on
    from splink.blocking_rule_library import And, CustomRule

    start_time = cl.CustomComparison(
        output_column_name="start_s",
        comparison_description="start time: the same, or a time-zone hour off",
        comparison_levels=[
            cll.NullLevel("start_s"),
            cll.CustomLevel("abs(start_s_l - start_s_r) <= 900", "within 15 minutes"),
            cll.ElseLevel(),
        ],
    )
    gap = CustomRule(SAME_START_OR_HOUR_OFF)
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            And(block_on(window, place), gap)
            for window in ("window_a", "window_b")
            for place in BLOCKING_KEYS
        ],
        comparisons=[
            _name_comparison("title_norm", same_numbers=True).configure(
                m_probabilities=M_PROBABILITIES["title_norm"]
            ),
            cl.JaroWinklerAtThresholds("description_norm", [0.95, 0.85]).configure(
                m_probabilities=M_PROBABILITIES["description_norm"]
            ),
            # A big organiser's name agrees on many unrelated pairs: weigh agreement by how
            # rare the value is (term-frequency adjustment), not by how rare agreement is.
            cl.ExactMatch("organizer").configure(
                m_probabilities=M_PROBABILITIES["organizer"], term_frequency_adjustments=True
            ),
            _name_comparison("venue_norm", same_numbers=False).configure(
                m_probabilities=M_PROBABILITIES["venue_norm"]
            ),
            start_time.configure(m_probabilities=M_PROBABILITIES["start_s"]),
            cl.DistanceInKMAtThresholds("lat", "lng", [0.1, 0.6, 2.0]).configure(
                m_probabilities=M_PROBABILITIES["distance"]
            ),
        ],
        retain_intermediate_calculation_columns=False,
        **({} if prior is None else {"probability_two_random_records_match": prior}),
    )


def _deterministic_pairs(features: pl.DataFrame) -> int:
    """Pairs that agree on title, venue and start window: what the prior is estimated from."""
    keys = ["title_norm", "venue_norm", "window_a"]
    groups = features.drop_nulls(keys).group_by(keys).len()
    return int((groups["len"] * (groups["len"] - 1) // 2).sum())


def link_listings(listings: pl.DataFrame, *, report_floor: float = 0.5) -> Linkage:
    """Link a batch of listings (columns :data:`LINKAGE_COLUMNS`) into canonical events.

    Deterministic for a given batch (u is sampled with a fixed seed). A batch of fewer than two
    listings comes back unlinked.
    """
    features = linkage_features(listings)
    if features.height < 2:
        return Linkage(_empty_pairs(), cluster_frame(listings, _empty_pairs()), 0)
    from splink import DuckDBAPI, Linker, block_on

    db_api = DuckDBAPI()
    table = db_api.register(features.to_arrow(), dataset_display_name="listings")
    # A batch without a single sure pair would estimate a prior of 0 (a match weight of -inf):
    # then one match in all possible pairs is assumed instead.
    sure = _deterministic_pairs(features)
    prior = None if sure else 2.0 / (features.height * (features.height - 1))
    # Splink warns of every level a small batch never shows; nothing an operator could act on.
    linker = Linker(table, _settings(prior), log_level=logging.ERROR)
    candidates = _count_candidates(linker)
    training = linker.training
    if sure:
        training.estimate_probability_two_random_records_match(
            [block_on("title_norm", "venue_norm", "window_a")], recall=0.7
        )
    training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=SEED)
    predictions = linker.inference.predict(threshold_match_probability=report_floor)
    pairs = (
        predictions.as_duckdbpyrelation()
        .select("unique_id_l, unique_id_r, match_probability, match_weight")
        .pl()
    )
    pairs = pairs.rename({"unique_id_l": "event_id_l", "unique_id_r": "event_id_r"})
    return Linkage(
        pairs.sort("event_id_l", "event_id_r"), cluster_frame(listings, pairs), candidates
    )


def _count_candidates(linker: object) -> int:
    counted = linker.inference.compute_blocked_pairs_for_predict()  # type: ignore[attr-defined]
    return int(counted.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0])


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "event_id_l": pl.Int64,
            "event_id_r": pl.Int64,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
        }
    )


def connected_components(nodes: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """Label each node (``node``) with the smallest node of its connected component (``label``).

    ``edges`` has columns ``a`` and ``b``, naming nodes; edges to unknown nodes are ignored.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as components

    index = pl.DataFrame({"node": nodes}).with_row_index("i")
    ends = edges.join(index, left_on="a", right_on="node").join(
        index, left_on="b", right_on="node", suffix="_b"
    )
    n = index.height
    graph = coo_matrix(
        (np.ones(ends.height), (ends["i"].to_numpy(), ends["i_b"].to_numpy())), shape=(n, n)
    )
    _, component = components(graph, directed=False)
    labelled = index.with_columns(pl.Series("component", component))
    return labelled.with_columns(pl.col("node").min().over("component").alias("label")).select(
        "node", "label"
    )


def cluster_frame(
    listings: pl.DataFrame, pairs: pl.DataFrame, threshold: float = MATCH_PROBABILITY
) -> pl.DataFrame:
    """One row per listing: its canonical event, the cluster's size and its strongest link.

    The canonical id is the id of the cluster's earliest-created listing (lowest id on ties):
    a duplicate landing later joins the cluster without renaming the event.
    """
    links = pairs.filter(pl.col("match_probability") >= threshold).select(
        a="event_id_l", b="event_id_r", p="match_probability"
    )
    components = connected_components(listings["event_id"], links)
    ranked = listings.select("event_id", "created_at").join(
        components, left_on="event_id", right_on="node"
    )
    canonical = (
        ranked.sort("created_at", "event_id")
        .group_by("label", maintain_order=True)
        .agg(
            pl.col("event_id").first().alias("canonical_id"),
            pl.len().alias("cluster_size"),
        )
    )
    strongest = (
        pl.concat([links.select("a", "p"), links.select(a="b", p="p")])
        .group_by("a")
        .agg(pl.col("p").max().alias("match_probability"))
    )
    return (
        ranked.join(canonical, on="label")
        .join(strongest, left_on="event_id", right_on="a", how="left")
        .select(
            "event_id",
            "canonical_id",
            (pl.col("event_id") == pl.col("canonical_id")).alias("is_canonical"),
            pl.col("cluster_size").cast(pl.Int64),
            "match_probability",
        )
        .sort("event_id")
    )
