"""Item and user feature vectors for content-based scoring (TF-IDF text + categorical bands)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from models.matrix import encode, row_normalize

# Price bands (upper bounds, currency units): free, cheap, mid, premium, luxury. Fixed bands keep
# a user's "price habit" comparable across catalogues and over time.
PRICE_BANDS = (0.0, 15.0, 40.0, 100.0)


@dataclass
class ItemFeatureSpace:
    """Fitted vocabulary of the item feature space, reused to encode user interests."""

    vectorizer: TfidfVectorizer | None
    categories: np.ndarray
    cities: np.ndarray
    text_weight: float
    category_weight: float
    price_weight: float
    location_weight: float

    @property
    def n_features(self) -> int:
        n_text = len(self.vectorizer.vocabulary_) if self.vectorizer is not None else 0
        return n_text + self.categories.size + len(PRICE_BANDS) + 1 + self.cities.size

    def encode_items(self, items: pl.DataFrame) -> sp.csr_matrix:
        """Unit-norm feature rows of ``items`` (one per row, in frame order)."""
        blocks = [
            self._text(item_text(items)) * self.text_weight,
            _one_hot(_lower(items, "category"), self.categories) * self.category_weight,
            _price_bands(items) * self.price_weight,
            _one_hot(_lower(items, "city"), self.cities) * self.location_weight,
        ]
        return row_normalize(sp.hstack(blocks, format="csr").astype(np.float32))

    def encode_interests(self, interests: pl.Series) -> sp.csr_matrix:
        """Feature rows of free-text interests: matched against words and category names."""
        interests = as_list(interests)
        n_users = interests.len()
        text = interests.list.join(" ").fill_null("").to_list()
        exploded = pl.DataFrame({"owner": np.arange(n_users), "tag": interests}).explode("tag")
        exploded = exploded.drop_nulls("tag")
        cat_pos = encode_str(
            self.categories.astype(str),
            exploded["tag"].str.to_lowercase().to_numpy().astype(str),
        )
        owner = exploded["owner"].to_numpy()
        hit = cat_pos >= 0
        categories = sp.csr_matrix(
            (np.ones(hit.sum(), np.float32), (owner[hit], cat_pos[hit])),
            shape=(n_users, self.categories.size),
        )
        blocks = [
            self._text(text) * self.text_weight,
            categories * self.category_weight,
            sp.csr_matrix((n_users, len(PRICE_BANDS) + 1), dtype=np.float32),
            sp.csr_matrix((n_users, self.cities.size), dtype=np.float32),
        ]
        return row_normalize(sp.hstack(blocks, format="csr").astype(np.float32))

    def _text(self, texts: list[str]) -> sp.csr_matrix:
        if self.vectorizer is None:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        return sp.csr_matrix(self.vectorizer.transform(texts), dtype=np.float32)


def fit_feature_space(
    items: pl.DataFrame,
    *,
    max_features: int,
    min_df: int,
    text_weight: float,
    category_weight: float,
    price_weight: float,
    location_weight: float,
) -> ItemFeatureSpace:
    """Learn the TF-IDF vocabulary and the category / city levels of a catalogue."""
    texts = item_text(items)
    vectorizer: TfidfVectorizer | None = TfidfVectorizer(
        max_features=max_features,
        min_df=min(min_df, max(1, len(texts))),
        sublinear_tf=True,
        stop_words="english",
        dtype=np.float32,
    )
    try:
        vectorizer.fit(texts)  # type: ignore[union-attr]
    except ValueError:  # empty vocabulary: no text columns or only stop words
        vectorizer = None
    return ItemFeatureSpace(
        vectorizer=vectorizer,
        categories=_levels(_lower(items, "category")),
        cities=_levels(_lower(items, "city")),
        text_weight=text_weight,
        category_weight=category_weight,
        price_weight=price_weight,
        location_weight=location_weight,
    )


def item_text(items: pl.DataFrame) -> list[str]:
    """Title, description and tags of each item as one document."""
    parts = []
    for column in ("title", "description", "category"):
        if column in items.columns:
            parts.append(pl.col(column).cast(pl.Utf8).fill_null(""))
    if "tags" in items.columns:
        tags = pl.col("tags")
        if items.schema["tags"] == pl.Utf8:
            tags = tags.str.split("|")
        parts.append(tags.cast(pl.List(pl.Utf8)).list.join(" ").fill_null(""))
    if not parts:
        return [""] * items.height
    return items.select(pl.concat_str(parts, separator=" ").alias("text"))["text"].to_list()


def encode_str(levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Positions of string ``values`` in sorted ``levels``; -1 when absent."""
    if levels.size == 0 or values.size == 0:
        return np.full(values.shape, -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(levels, values), 0, levels.size - 1)
    return np.where(levels[pos] == values, pos, -1).astype(np.int64)


def _lower(items: pl.DataFrame, column: str) -> np.ndarray:
    if column not in items.columns:
        return np.full(items.height, "", dtype=object)
    values = items[column].cast(pl.Utf8).str.to_lowercase().fill_null("")
    return values.to_numpy().astype(object)


def _levels(values: np.ndarray) -> np.ndarray:
    levels = np.unique(values.astype(str))
    return levels[levels != ""].astype(object)


def _one_hot(values: np.ndarray, levels: np.ndarray) -> sp.csr_matrix:
    pos = encode_str(levels.astype(str), values.astype(str))
    hit = pos >= 0
    return sp.csr_matrix(
        (np.ones(hit.sum(), np.float32), (np.flatnonzero(hit), pos[hit])),
        shape=(values.size, levels.size),
    )


def _price_bands(items: pl.DataFrame) -> sp.csr_matrix:
    n_bands = len(PRICE_BANDS) + 1
    if "price" not in items.columns:
        return sp.csr_matrix((items.height, n_bands), dtype=np.float32)
    price = items["price"].cast(pl.Float64).to_numpy()
    known = np.isfinite(price)
    band = np.searchsorted(np.asarray(PRICE_BANDS), price[known], side="left")
    band = np.where(price[known] <= 0, 0, band)
    return sp.csr_matrix(
        (np.ones(known.sum(), np.float32), (np.flatnonzero(known), band)),
        shape=(items.height, n_bands),
    )


def as_list(series: pl.Series) -> pl.Series:
    """A List[Utf8] view of tags or interests, which CSV files carry as ``a|b|c`` strings."""
    if series.dtype == pl.Utf8:
        return series.str.split("|")
    return series.cast(pl.List(pl.Utf8))


def user_attribute(
    users: pl.DataFrame | None, user_ids: np.ndarray, column: str
) -> tuple[np.ndarray, pl.Series]:
    """Positions in ``user_ids`` of the users carrying ``column``, and its values for them."""
    if users is None or column not in users.columns:
        return np.empty(0, dtype=np.int64), pl.Series(column, [])
    frame = (
        users.select(pl.col("user_id").cast(pl.Int64), pl.col(column))
        .unique("user_id", keep="first", maintain_order=True)
        .drop_nulls(column)
    )
    pos = encode(user_ids, frame["user_id"].to_numpy())
    keep = pos >= 0
    return pos[keep], frame[column].filter(pl.Series(keep))
