"""The one interface every recommender follows, and the batch scoring they share.

A model learns its state in ``_fit`` and scores a block of known users against a set of item
columns in ``_score``; this class does the rest the same way for all of them: id mapping, the
fallback for unknown users, excluding already-seen items, candidate restriction, blocking users
so memory stays bounded, top-k selection and the output frame.
"""

from __future__ import annotations

import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from models.matrix import encode, interaction_matrix, prepare_interactions, to_utc
from models.schema import (
    IdIndex,
    code_frame,
    interactions_frame,
    items_frame,
    users_frame,
)
from models.topk import block_rows, map_blocks, top_k

RECOMMENDATION_SCHEMA = {
    "user_id": pl.Int64,
    "rank": pl.Int32,
    "item_id": pl.Int64,
    "score": pl.Float32,
}
SIMILAR_SCHEMA = {
    "item_id": pl.Int64,
    "rank": pl.Int32,
    "similar_item_id": pl.Int64,
    "score": pl.Float32,
}

IdsLike = Sequence[Any] | np.ndarray | pl.Series


class ModelTooLargeError(RuntimeError):
    """The data is too big for this model's memory footprint; callers skip it with this reason."""


class UnknownCandidatesWarning(UserWarning):
    """Some candidate ids were never given to ``fit`` (neither interacted with nor in items)."""


class Recommender(ABC):
    """Base of every model: ``fit`` on interactions, then ``recommend`` and ``similar_items``.

    Learned state common to all models (set by :meth:`fit`):

    - ``user_ids_`` / ``item_ids_``: sorted universes of id codes; matrix rows and columns follow
      them. ``user_index_`` / ``item_index_`` map external ids (ints or strings) to those codes.
    - ``seen_``: users × items CSR of training interactions, used by ``exclude_seen``.
    - ``popularity_``: per-item training weight scaled to [0, 1], the fallback for unknown users.
    - ``now_``: the reference time of the fit (the ``now`` given or the latest interaction).
    - ``item_starts_``: start time of each item as epoch microseconds (``None`` without a
      ``starts_at`` column); events that started before ``as_of`` are never recommended.
    """

    #: Whether the model can score items absent from the interactions (from the items frame).
    uses_item_features: bool = False
    #: Whether :func:`fit_shared` may hand one fitted instance to several callers: the models
    #: a hybrid is built from, which an experiment also fits and evaluates on their own.
    shares_fits: bool = False

    # -- scikit-learn style parameter access ---------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``: what tuning varies and MLflow logs."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> Self:
        """Change hyper-parameters in place (learned state is kept until the next ``fit``)."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Any,
        items: Any | None = None,
        users: Any | None = None,
    ) -> Self:
        """Learn from interactions (and, for models that use them, item and user attributes).

        Frames may be Polars, pandas or Arrow tables in the schema of :mod:`models.schema`;
        ids may be integers or strings (they come back as given).
        """
        interactions = interactions_frame(interactions)
        items, users = items_frame(items), users_frame(users)
        self.user_index_ = _index_of(interactions, users, "user_id")
        self.item_index_ = _index_of(interactions, items, "item_id")
        interactions = code_frame(interactions, "user_id", self.user_index_)
        interactions = code_frame(interactions, "item_id", self.item_index_)
        items = code_frame(items, "item_id", self.item_index_)
        users = code_frame(users, "user_id", self.user_index_)
        assert interactions is not None
        interactions = prepare_interactions(interactions)
        self.__dict__.pop("_column_cache", None)
        self.__dict__.pop("_encoded_items", None)
        self._fit_common(interactions, items, users)
        self._fit(interactions, items, users)
        return self

    def _fit_common(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        user_ids = interactions["user_id"].unique().to_numpy()
        item_ids = interactions["item_id"].unique().to_numpy()
        if self.uses_item_features:
            if items is not None and "item_id" in items.columns:
                item_ids = np.concatenate([item_ids, items["item_id"].cast(pl.Int64).to_numpy()])
            if users is not None and "user_id" in users.columns:
                user_ids = np.concatenate([user_ids, users["user_id"].cast(pl.Int64).to_numpy()])
        self.user_ids_ = np.unique(user_ids).astype(np.int64)
        self.item_ids_ = np.unique(item_ids).astype(np.int64)
        self.seen_ = interaction_matrix(interactions, self.user_ids_, self.item_ids_, "raw")
        counts = np.asarray(self.seen_.sum(axis=0)).ravel()
        top = counts.max() if counts.size else 0.0
        self.popularity_ = (counts / top if top > 0 else counts).astype(np.float32)
        self.now_ = _reference_time(interactions, getattr(self, "now", None))
        self.item_starts_ = _item_starts(items, self.item_ids_)

    @abstractmethod
    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        """Learn the model's own state; ids, ``seen_`` and ``popularity_`` are already set."""

    @abstractmethod
    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        """Dense float32 scores of known users (rows) for item columns (``None``: all items)."""

    def _cold_user_scores(self, item_pos: np.ndarray | None) -> np.ndarray | None:
        """Scores for users absent from training: popularity; ``None`` gives them no rows."""
        return self.popularity_ if item_pos is None else self.popularity_[item_pos]

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        """Dense similarities of items (rows) to candidate columns; not every model has one."""
        raise NotImplementedError(f"{type(self).__name__} does not compute item similarities")

    # -- scoring -------------------------------------------------------------------------------
    def score_matrix(self, user_ids: IdsLike, item_ids: IdsLike) -> np.ndarray:
        """Raw scores of users × items; 0 where the model knows neither (used for blending)."""
        self._check_fitted()
        users = encode(self.user_ids_, np.asarray(user_ids, dtype=np.int64))
        items = self._encode_items_cached(np.asarray(item_ids, dtype=np.int64))
        known_items = np.flatnonzero(items >= 0)
        known_users = np.flatnonzero(users >= 0)
        all_users, all_items = known_users.size == users.size, known_items.size == items.size
        if all_items and all_users and users.size:
            # The common case inside a blend: no scatter copy, cleaned in place.
            return _finite(np.asarray(self._score(users, items), dtype=np.float32))
        out = np.zeros((users.size, items.size), dtype=np.float32)
        if known_items.size and known_users.size:
            scores = _finite(np.asarray(self._score(users[known_users], items[known_items])))
            if all_users:  # cold items only (new events): a column scatter, not a 2-D one
                out[:, known_items] = scores
            elif all_items:
                out[known_users] = scores
            else:
                out[np.ix_(known_users, known_items)] = scores
        return out

    def _encode_items_cached(self, item_ids: np.ndarray) -> np.ndarray:
        """``encode`` of item ids, remembered for the last id array (a blend asks per block)."""
        last = self.__dict__.get("_encoded_items")
        if last is not None and _same_array(last[0], item_ids):
            return last[1]
        pos = encode(self.item_ids_, item_ids)
        self._encoded_items = (item_ids.copy(), pos)
        return pos

    def _columns(self, name: str, item_pos: np.ndarray | None, build: Any) -> Any:
        """``build(item_pos)`` remembered per ``name`` for the last ``item_pos`` seen.

        A batch scorer asks for the same candidate columns once per block of users; slicing a
        learned matrix to those columns (a copy) once per call instead of once per block saved
        most of the scoring time of the item-item models.
        """
        cache = self.__dict__.setdefault("_column_cache", {})
        hit = cache.get(name)
        if hit is not None and _same_array(hit[0], item_pos):
            return hit[1]
        value = build(item_pos)
        cache[name] = (None if item_pos is None else item_pos.copy(), value)
        return value

    def __getstate__(self) -> dict[str, Any]:
        """Pickle learned state only: the per-call scoring caches are rebuilt on demand."""
        state = self.__dict__.copy()
        state.pop("_column_cache", None)
        state.pop("_encoded_items", None)
        return state

    def recommend(
        self,
        user_ids: IdsLike,
        k: int,
        exclude_seen: bool = True,
        candidates: IdsLike | None = None,
        as_of: datetime | None = None,
    ) -> pl.DataFrame:
        """Top-``k`` items per user, best first.

        Returns a Polars frame ``user_id, rank, item_id, score`` (rank from 1; ids in the type
        they were given to ``fit``; ``.to_pandas()`` or :func:`models.schema.
        recommendations_to_dict` for other shapes). Users unknown to the model get the model's
        answer for a user without history. ``candidates`` restricts results to those items (the
        published upcoming events), each of which is ranked, interactions or not; ids absent from
        both the interactions and the items of ``fit`` cannot be scored and are reported with a
        warning. No event that starts at or before ``as_of`` (default: the latest interaction
        seen in ``fit``) is ever returned. Users are scored in blocks so memory stays bounded.
        """
        self._check_fitted()
        user_index, item_index = self._indexes()
        user_codes, user_table = user_index.query(user_ids)
        users = np.unique(user_codes)
        item_pos = self._candidate_positions(candidates)
        item_pos = self._drop_started(item_pos, self._as_of(as_of))
        col_ids = self.item_ids_ if item_pos is None else self.item_ids_[item_pos]
        if users.size == 0 or col_ids.size == 0 or k <= 0:
            return _typed_empty(RECOMMENDATION_SCHEMA, user_index, item_index)
        col_of_item = None
        if item_pos is not None:
            col_of_item = np.full(self.item_ids_.size, -1, dtype=np.int64)
            col_of_item[item_pos] = np.arange(item_pos.size)
        positions = encode(self.user_ids_, users)
        self._scoring_as_of = self._as_of(as_of)
        cold = self._cold_user_scores(item_pos)
        parts: list[pl.DataFrame] = []
        # Block products are mid-sized and many; one BLAS thread per block (blocks run on every
        # core instead) avoids OpenBLAS spin-waits, measured 3-30× slower on a shared machine.
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                self._recommend_blocks(
                    users, positions, item_pos, col_ids, col_of_item, cold, k, exclude_seen, parts
                )
        finally:
            self.__dict__.pop("_scoring_as_of", None)
        if not parts:
            return _typed_empty(RECOMMENDATION_SCHEMA, user_index, item_index)
        out = user_index.decode(pl.concat(parts), "user_id", user_table)
        return item_index.decode(out, "item_id", None)

    def _recommend_blocks(
        self,
        users: np.ndarray,
        positions: np.ndarray,
        item_pos: np.ndarray | None,
        col_ids: np.ndarray,
        col_of_item: np.ndarray | None,
        cold: np.ndarray | None,
        k: int,
        exclude_seen: bool,
        parts: list[pl.DataFrame],
    ) -> None:
        """Score, mask and rank blocks of users (several at once), appending frames to ``parts``."""
        step = block_rows(col_ids.size)

        def block(start: int) -> pl.DataFrame | None:
            block_pos = positions[start : start + step]
            block_ids = users[start : start + step]
            known = block_pos >= 0
            if cold is None:
                block_pos, block_ids, known = block_pos[known], block_ids[known], known[known]
            if block_pos.size == 0:
                return None
            scores = np.empty((block_pos.size, col_ids.size), dtype=np.float32)
            if known.any():
                scores[known] = self._score(block_pos[known], item_pos)
            if not known.all():
                scores[~known] = cold
            scores[~np.isfinite(scores)] = -np.inf
            if exclude_seen and known.any():
                self._mask_seen(scores, np.flatnonzero(known), block_pos[known], col_of_item)
            rows, cols, vals = top_k(scores, k)
            return _ranked_frame(block_ids[rows], col_ids[cols], vals, RECOMMENDATION_SCHEMA)

        parts.extend(p for p in map_blocks(block, range(0, users.size, step)) if p is not None)

    def similar_items(
        self,
        item_ids: IdsLike,
        k: int,
        candidates: IdsLike | None = None,
    ) -> pl.DataFrame:
        """Top-``k`` most similar items of each item (itself excluded).

        Output columns: ``item_id, rank, similar_item_id, score``. Items unknown to the model
        get no rows; models without an item similarity raise ``NotImplementedError``.
        """
        self._check_fitted()
        _, item_index = self._indexes()
        items = np.unique(item_index.query(item_ids)[0])
        pos = encode(self.item_ids_, items)
        items, pos = items[pos >= 0], pos[pos >= 0]
        cand_pos = self._candidate_positions(candidates)
        col_ids = self.item_ids_ if cand_pos is None else self.item_ids_[cand_pos]
        if items.size == 0 or col_ids.size == 0 or k <= 0:
            self._item_similarity(pos[:0], cand_pos)  # surfaces NotImplementedError
            return _typed_empty(SIMILAR_SCHEMA, item_index, item_index)
        step = block_rows(col_ids.size)

        def block(start: int) -> pl.DataFrame:
            block_ids = items[start : start + step]
            sims = np.asarray(self._item_similarity(pos[start : start + step], cand_pos))
            sims = sims.astype(np.float32, copy=True)
            sims[~np.isfinite(sims)] = -np.inf
            sims[block_ids[:, None] == col_ids[None, :]] = -np.inf
            rows, cols, vals = top_k(sims, k)
            return _ranked_frame(block_ids[rows], col_ids[cols], vals, SIMILAR_SCHEMA)

        with threadpool_limits(limits=1, user_api="blas"):
            out = pl.concat(map_blocks(block, range(0, items.size, step)))
        out = item_index.decode(out, "item_id", None)
        return item_index.decode(out, "similar_item_id", None)

    # -- helpers -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit() first")

    def _indexes(self) -> tuple[IdIndex, IdIndex]:
        """The user and item id indexes (integer identity for models pickled before them)."""
        integer = IdIndex(pl.Series([], dtype=pl.Int64))
        return self.__dict__.get("user_index_", integer), self.__dict__.get("item_index_", integer)

    def _candidate_positions(self, candidates: IdsLike | None) -> np.ndarray | None:
        if candidates is None:
            return None
        _, item_index = self._indexes()
        codes = np.unique(item_index.query(candidates)[0])
        pos = encode(self.item_ids_, codes)
        # Models without item features cannot know cold events: that is what they are.
        if self.uses_item_features and (pos < 0).any():
            warnings.warn(
                f"{int((pos < 0).sum())} candidate ids are in neither the interactions nor the "
                "items given to fit() and cannot be scored; pass them in items to rank them",
                UnknownCandidatesWarning,
                stacklevel=3,
            )
        return pos[pos >= 0]

    def _as_of(self, as_of: datetime | None) -> datetime | None:
        """The reference time of a call: ``as_of`` made UTC-aware, or the fit's ``now_``."""
        if as_of is None:
            return self.now_
        return as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)

    def _drop_started(
        self, item_pos: np.ndarray | None, as_of: datetime | None
    ) -> np.ndarray | None:
        """Candidate positions without the events that start at or before ``as_of``."""
        starts = self.__dict__.get("item_starts_")
        if starts is None or as_of is None:
            return item_pos
        cutoff = np.int64(int(as_of.timestamp() * 1_000_000))
        upcoming = starts > cutoff
        if item_pos is None:
            return None if upcoming.all() else np.flatnonzero(upcoming)
        return item_pos[upcoming[item_pos]]

    def _mask_seen(
        self,
        scores: np.ndarray,
        rows: np.ndarray,
        user_pos: np.ndarray,
        col_of_item: np.ndarray | None,
    ) -> None:
        seen = self.seen_[user_pos]
        local_rows = np.repeat(rows, np.diff(seen.indptr))
        cols = seen.indices.astype(np.int64)
        if col_of_item is not None:
            cols = col_of_item[cols]
            local_rows, cols = local_rows[cols >= 0], cols[cols >= 0]
        scores[local_rows, cols] = -np.inf


# Fits already made in the current :func:`shared_fits` scope (None outside any scope).
_SHARED_FITS: ContextVar[dict[tuple[Any, ...], tuple[tuple[Any, ...], Recommender]] | None] = (
    ContextVar("shared_fits", default=None)
)


@contextmanager
def shared_fits() -> Iterator[None]:
    """Scope in which :func:`fit_shared` fits each (model, parameters, data) only once.

    An experiment fits item-kNN and content on the same train part as stand-alone models and
    again inside the hybrid (and inside each hybrid tuning trial); those fits are identical.
    Fitted models are kept until the scope ends.
    """
    token = _SHARED_FITS.set({})
    try:
        yield
    finally:
        _SHARED_FITS.reset(token)


def fit_shared(
    model: Recommender,
    interactions: pl.DataFrame,
    items: pl.DataFrame | None = None,
    users: pl.DataFrame | None = None,
) -> Recommender:
    """``model.fit(...)``, or inside :func:`shared_fits` the instance already fitted there on
    the same frames (the same objects, not equal copies) with the same class and parameters.

    Frames a model ignores (items and users without ``uses_item_features``) are not part of the
    key, so the hybrid's collaborative part matches the stand-alone model fitted with items.
    The returned instance may be shared: callers must not refit it.
    """
    fits = _SHARED_FITS.get()
    if fits is None or not model.shares_fits:
        return model.fit(interactions, items, users)
    frames = (interactions, items, users) if model.uses_item_features else (interactions,)
    params = json.dumps(model.get_params(), sort_keys=True, default=repr)
    key = (type(model), params, *(id(frame) for frame in frames))
    if key in fits:
        return fits[key][1]
    model.fit(interactions, items, users)
    # The frames are kept with the fit so their ids cannot be reused by other frames.
    fits[key] = (frames, model)
    return model


def _ranked_frame(
    keys: np.ndarray, values: np.ndarray, scores: np.ndarray, schema: dict[str, Any]
) -> pl.DataFrame:
    """Frame of ranked rows; ``top_k`` output is grouped by key and sorted within each key."""
    names = list(schema)
    if keys.size == 0:
        return pl.DataFrame(schema=schema)
    starts = np.r_[True, keys[1:] != keys[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(keys.size), 0))
    rank = np.arange(keys.size) - group_start + 1
    return pl.DataFrame(
        {
            names[0]: keys.astype(np.int64),
            names[1]: rank.astype(np.int32),
            names[2]: values.astype(np.int64),
            names[3]: scores.astype(np.float32),
        },
        schema=schema,
    )


def _finite(scores: np.ndarray) -> np.ndarray:
    """Non-finite scores set to 0 in place; one cheap reduction proves most blocks clean."""
    if not np.isfinite(scores.sum(dtype=np.float64)):
        np.nan_to_num(scores, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return scores


def _same_array(cached: np.ndarray | None, current: np.ndarray | None) -> bool:
    """Whether two position arrays (or two ``None``) hold the same values."""
    if cached is None or current is None:
        return cached is None and current is None
    return cached is current or (
        cached.shape == current.shape and bool(np.array_equal(cached, current))
    )


def _index_of(interactions: pl.DataFrame, extra: pl.DataFrame | None, column: str) -> IdIndex:
    """The id index over ``column`` of the interactions and, when it has one, of ``extra``."""
    series = [interactions[column]]
    if extra is not None and column in extra.columns:
        series.append(extra[column])
    if all(s.dtype.is_integer() for s in series):
        return IdIndex(pl.Series([], dtype=pl.Int64))
    return IdIndex(pl.concat([s.cast(pl.String) for s in series]))


def _item_starts(items: pl.DataFrame | None, item_ids: np.ndarray) -> np.ndarray | None:
    """Start of each item in ``item_ids`` order as epoch microseconds.

    ``None`` when the items carry no ``starts_at`` (e.g. MovieLens): nothing is ever started.
    An item without a known start gets INT64_MAX: it is not known to have started.
    """
    if items is None or "starts_at" not in items.columns:
        return None
    frame = items.select(
        pl.col("item_id").cast(pl.Int64), to_utc(items["starts_at"]).alias("starts_at")
    ).unique("item_id", keep="first")
    unknown = np.iinfo(np.int64).max
    starts = np.full(item_ids.size, unknown, dtype=np.int64)
    pos = encode(item_ids, frame["item_id"].to_numpy())
    values = frame["starts_at"].dt.epoch("us").fill_null(unknown).to_numpy()
    starts[pos[pos >= 0]] = values[pos >= 0]
    return starts


def _typed_empty(schema: dict[str, Any], first: IdIndex, second: IdIndex) -> pl.DataFrame:
    """An empty result frame whose id columns have the external id types."""
    names = list(schema)
    typed = dict(schema)
    typed[names[0]] = first.dtype
    typed[names[2]] = second.dtype
    return pl.DataFrame(schema=typed)


def _reference_time(interactions: pl.DataFrame, now: datetime | None) -> datetime | None:
    """The fit's "now": the given one (made UTC-aware) or the latest interaction's timestamp."""
    if now is not None:
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    if "timestamp" in interactions.columns and interactions.height:
        return interactions["timestamp"].max()  # type: ignore[return-value]
    return None


def csr_rows_dense(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """Dense float32 copy of selected rows (and optionally columns) of a sparse matrix."""
    block = matrix[rows]
    if cols is not None:
        block = block[:, cols]
    return block.toarray().astype(np.float32, copy=False)
