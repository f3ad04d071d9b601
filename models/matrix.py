"""Id indexing and sparse user × item matrices shared by every model."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

WEIGHTINGS = ("binary", "raw", "log")


def prepare_interactions(interactions: pl.DataFrame) -> pl.DataFrame:
    """Coerce an interactions frame to the documented schema.

    Callers pass frames from CSV, Parquet or the marts; normalising here once means every model
    can rely on Int64 (or, for non-integer ids, String) ids, a positive Float64 ``weight``
    (1.0 when absent) and, when present, a UTC ``timestamp``. A frame already in that shape is
    returned as is (the same object), so fits of several models on one prepared frame can
    recognise it (see ``fit_shared``).
    """
    missing = {"user_id", "item_id"} - set(interactions.columns)
    if missing:
        raise ValueError(f"interactions lack required columns: {sorted(missing)}")
    if _is_prepared(interactions):
        return interactions
    df = interactions.with_columns(
        id_column(interactions, "user_id"), id_column(interactions, "item_id")
    )
    if "weight" not in df.columns:
        df = df.with_columns(pl.lit(1.0, dtype=pl.Float64).alias("weight"))
    df = df.with_columns(pl.col("weight").cast(pl.Float64)).filter(pl.col("weight") > 0)
    if "timestamp" in df.columns:
        df = df.with_columns(to_utc(df["timestamp"]).alias("timestamp"))
    return df


def id_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """An id column as Int64 when its values are integers, else as strings.

    Models code any ids themselves (see :class:`models.schema.IdIndex`); splits and metrics
    only need one comparable type per column.
    """
    dtype = frame.schema[name]
    if dtype.is_integer() or dtype == pl.Null:
        return pl.col(name).cast(pl.Int64)
    return pl.col(name).cast(pl.String)


def ids_alike(
    left: pl.DataFrame, right: pl.DataFrame, columns: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both frames with each id column in one type (strings when either side has strings)."""
    casts_left, casts_right = [], []
    for column in columns:
        strings = not (left.schema[column].is_integer() and right.schema[column].is_integer())
        dtype = pl.String if strings else pl.Int64
        casts_left.append(pl.col(column).cast(dtype))
        casts_right.append(pl.col(column).cast(dtype))
    return left.with_columns(casts_left), right.with_columns(casts_right)


def _is_prepared(interactions: pl.DataFrame) -> bool:
    """Whether ``prepare_interactions`` would leave this frame's values unchanged."""
    schema = interactions.schema
    if (
        schema["user_id"] not in (pl.Int64, pl.String)
        or schema["item_id"] not in (pl.Int64, pl.String)
        or schema.get("weight") != pl.Float64
        or schema.get("timestamp", _UTC_MICROS) != _UTC_MICROS
    ):
        return False
    weight = interactions["weight"]
    return weight.null_count() == 0 and bool((weight > 0).all())


_UTC_MICROS = pl.Datetime("us", "UTC")


def to_utc(series: pl.Series) -> pl.Series:
    """Turn a datetime-like series (datetime, naive datetime, or unix seconds) into UTC datetimes.

    Timestamps reach us as unix seconds (MovieLens), naive datetimes (CSV) or aware ones (the
    marts); comparing them against cut-offs and ``starts_at`` needs one representation.
    """
    dtype = series.dtype
    if dtype.is_numeric():
        return pl.from_epoch(series.cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC")
    if dtype == pl.Utf8:
        series = series.str.to_datetime(time_zone="UTC")
        dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        series = series.dt.cast_time_unit("us")
        if dtype.time_zone is None:
            return series.dt.replace_time_zone("UTC")
        return series.dt.convert_time_zone("UTC")
    if dtype == pl.Date:
        return series.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    raise TypeError(f"cannot read {series.name!r} of type {dtype} as a timestamp")


# Id spans up to this many times the universe size (and at most 256M) are encoded with a
# lookup table: millions of binary searches in random order measured ~10× slower.
_LOOKUP_SPAN_RATIO = 16
_LOOKUP_MAX_SPAN = 256 * 1024 * 1024


def encode(universe: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of ``ids`` in the sorted ``universe``; -1 for ids it does not hold."""
    ids = np.asarray(ids, dtype=np.int64)
    if universe.size == 0:
        return np.full(ids.shape, -1, dtype=np.int64)
    low, high = int(universe[0]), int(universe[-1])
    span = high - low + 1
    if ids.size > 4 * universe.size and span <= min(
        _LOOKUP_MAX_SPAN, _LOOKUP_SPAN_RATIO * universe.size
    ):
        table = np.full(span, -1, dtype=np.int64)
        table[universe.astype(np.int64) - low] = np.arange(universe.size)
        inside = (ids >= low) & (ids <= high)
        out = np.full(ids.shape, -1, dtype=np.int64)
        out[inside] = table[ids[inside] - low]
        return out
    pos = np.searchsorted(universe, ids)
    pos = np.minimum(pos, universe.size - 1)
    return np.where(universe[pos] == ids, pos, -1).astype(np.int64)


def weight_values(values: np.ndarray, weighting: str) -> np.ndarray:
    """Turn summed interaction weights into matrix values.

    ``binary`` treats any interaction as one positive (the MovieLens benchmark convention),
    ``raw`` keeps the summed strength, ``log`` dampens heavy repeat interactions.
    """
    if weighting == "binary":
        return np.ones_like(values, dtype=np.float32)
    if weighting == "raw":
        return values.astype(np.float32)
    if weighting == "log":
        return np.log1p(values).astype(np.float32)
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def interaction_matrix(
    interactions: pl.DataFrame,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    weighting: str = "raw",
) -> sp.csr_matrix:
    """Users × items CSR matrix of summed weights, rows and columns in universe order.

    Repeated (user, item) pairs are summed before ``weighting`` applies, so a user who viewed and
    then registered counts once with the combined strength. Ids outside the universes are dropped.
    """
    rows = encode(user_ids, interactions["user_id"].to_numpy())
    cols = encode(item_ids, interactions["item_id"].to_numpy())
    keep = (rows >= 0) & (cols >= 0)
    weights = interactions["weight"].to_numpy().astype(np.float64)[keep]
    matrix = sp.csr_matrix(
        (weights, (rows[keep], cols[keep])), shape=(user_ids.size, item_ids.size)
    )
    matrix.sum_duplicates()
    matrix.data = weight_values(matrix.data, weighting)
    return matrix.astype(np.float32)


def row_normalize(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale every row of a sparse matrix to unit L2 norm (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ matrix)


def place_rows(matrix: sp.csr_matrix, rows: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """Scatter the rows of ``matrix`` to positions ``rows`` (-1: dropped) of an n_rows matrix."""
    keep = rows >= 0
    scatter = sp.csr_matrix(
        (np.ones(keep.sum(), np.float32), (rows[keep], np.flatnonzero(keep))),
        shape=(n_rows, matrix.shape[0]),
    )
    return sp.csr_matrix(scatter @ matrix)
