"""The events hybrid: a learning-to-rank model over the signals of :mod:`models.event_signals`.

How the signals combine is learned, not guessed: inside ``fit`` the interactions are cut again
at a validation time ``T_v = now − horizon``. Signals are computed from what happened before
``T_v``; the events starting in ``(T_v, T_v + horizon]`` are the candidates and the users'
interactions with them after ``T_v`` the labels — the same question the model answers in
production, asked of the past. A pairwise logistic regression (positive minus sampled negative,
RankNet with a linear scorer) learns one weight per signal on part of those users; the rest of
them check it. On that check the learned ranker must beat every signal on its own: if one
signal alone ranks better, the model says so (``shipped_``, ``shipped_reason_`` and a warning)
and ships that signal instead. The final weights are learned on all the validation users, and
scoring uses the signals of the whole history.

Because the score is linear in the signals, each recommendation's strongest contribution is
also its explanation (:meth:`EventRanker.explain`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from models.base import Recommender
from models.ease import EASERecommender
from models.event_signals import (
    PER_CANDIDATE,
    SIGNALS,
    SPARSE,
    TEXTUAL,
    Candidates,
    History,
    build_catalogue,
    build_history,
    candidates_for,
    signal_block,
    sparse_signal,
    weighted_textual,
)
from models.item_knn import ItemKNNRecommender
from models.matrix import encode
from models.splitters import random_by_user
from models.topk import BLOCK_CELLS, top_k

# Signals a reference ranks by on its own (for the "never below its best signal" check, each
# breaks ties by early popularity).
_TIE_BREAK = 1e-3
# Training pairs kept at most (a uniform sample beyond): the weights of 15 signals settle long
# before, and the pairs of 20 000 users would otherwise take gigabytes.
_MAX_PAIRS = 200_000
# Check users ranked over every candidate: the standard error of a mean nDCG over 3 000 users
# is well below the gaps between a learned ranker and its signals.
_MAX_CHECK_USERS = 3_000
# Users per block of training pairs (they share one random pool of candidate columns).
_PAIR_BLOCK_USERS = 256
_US_PER_DAY = 86_400_000_000


class ShippedSingleSignalWarning(UserWarning):
    """On validation one signal alone ranked better than the learned combination."""


@dataclass(frozen=True)
class ValidationReport:
    """What the ranker learned from and how it did on its held-out validation users."""

    cutoff: datetime | None
    candidates: int
    train_users: int
    check_users: int
    pairs: int
    ndcg: dict[str, float]  # "learned" and one entry per signal

    def best_signal(self) -> tuple[str, float]:
        singles = {k: v for k, v in self.ndcg.items() if k != "learned"}
        name = max(singles, key=lambda key: singles[key])
        return name, singles[name]


class EventRanker(Recommender):
    """Learned linear ranker over organiser, series, venue, place, time, text, popularity and
    collaborative signals; scores every candidate, interactions or not.

    Parameters: ``horizon_days`` (the window of events a recommendation is for, and how far
    back the validation cut-off is), ``signals`` (which signals to use; default all),
    ``negatives`` (uniformly sampled negatives per validation user),
    ``max_train_users`` / ``check_share`` (validation users, and the share kept aside to
    check), ``regularization`` (inverse L2 strength of the logistic regression), ``k`` (the
    cut-off of the validation check), ``now`` (reference time; default the latest interaction).

    ``ease_max_items`` (the collaborative signal is EASE up to this many interacted items,
    item-kNN above).

    Learned: ``catalogue_``, ``history_``, ``cf_`` (EASE or item-kNN, None without
    interactions),
    ``weights_`` (signal → weight on the raw signal), ``shipped_`` ("learned" or the signal
    shipped alone), ``shipped_reason_``, ``validation_`` (:class:`ValidationReport`).
    """

    uses_item_features = True

    def __init__(
        self,
        horizon_days: float = 90.0,
        signals: Sequence[str] | None = None,
        negatives: int = 40,
        max_train_users: int = 20_000,
        check_share: float = 0.3,
        regularization: float = 0.05,
        k: int = 10,
        random_state: int = 0,
        now: datetime | None = None,
        ease_max_items: int = 3_000,
    ) -> None:
        self.horizon_days = horizon_days
        self.signals = signals
        self.negatives = negatives
        self.max_train_users = max_train_users
        self.check_share = check_share
        self.regularization = regularization
        self.k = k
        self.random_state = random_state
        self.now = now
        self.ease_max_items = ease_max_items

    # -- fitting -------------------------------------------------------------------------------
    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        names = tuple(self.signals) if self.signals is not None else SIGNALS
        unknown = sorted(set(names) - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown signals {unknown}; known: {list(SIGNALS)}")
        self.signal_names_ = names
        self.catalogue_ = build_catalogue(items, self.item_ids_)
        with threadpool_limits(limits=1, user_api="blas"):
            weights, report = self._learn(interactions, users)
        self.validation_ = report
        self.shipped_, self.shipped_reason_ = "learned", "no validation labels: default weights"
        fixed = self._fixed_signal()
        if fixed is not None:
            self.shipped_ = fixed
            self.shipped_reason_ = "a reference: one signal, untrained"
        elif report.ndcg:
            best, best_ndcg = report.best_signal()
            learned = report.ndcg["learned"]
            if best_ndcg > learned:
                self.shipped_ = best
                self.shipped_reason_ = (
                    f"on validation the signal {best!r} alone (nDCG@{self.k} {best_ndcg:.4f}) "
                    f"ranked better than the learned combination ({learned:.4f}): shipping it"
                )
                warnings.warn(self.shipped_reason_, ShippedSingleSignalWarning, stacklevel=3)
                weights = self._single(best)
            else:
                self.shipped_reason_ = (
                    f"learned combination nDCG@{self.k} {learned:.4f} ≥ best single signal "
                    f"{best!r} {best_ndcg:.4f} on {report.check_users} validation users"
                )
        self.weights_ = weights
        self.history_ = build_history(
            interactions, self.catalogue_, self.user_ids_, self.item_ids_, users
        )
        self.history_now_ = self.now_ or datetime.now(UTC)
        self.cf_ = self._fit_cf(interactions) if weights.get("cf") else None

    def _fixed_signal(self) -> str | None:
        """The one signal a reference ranks by without training (None: learn the weights)."""
        return None

    def _single(self, name: str) -> dict[str, float]:
        weights = {name: 1.0}
        if name != "popularity":
            weights["popularity"] = _TIE_BREAK
        return weights

    def _default_weights(self) -> dict[str, float]:
        """Without validation labels: text similarity, returning, place and early popularity."""
        defaults = {
            "series_count": 1.0,
            "organizer_share": 1.0,
            "venue_share": 0.5,
            "text": 1.0,
            "proximity": 0.2,
            "popularity": 0.1,
        }
        return {k: v for k, v in defaults.items() if k in self.signal_names_}

    def _fit_cf(self, interactions: pl.DataFrame) -> Recommender | None:
        """EASE on catalogues small enough for its dense item × item inverse, else item-kNN.

        EASE ranks better on dense histories (MovieLens-100k: 0.48 against item-kNN's 0.45)
        but its cost grows with the cube of the items; event catalogues of the medium size
        (20k events) take item-kNN.
        """
        if interactions.height == 0:
            return None
        if interactions["item_id"].n_unique() <= self.ease_max_items:
            return EASERecommender().fit(interactions)
        return ItemKNNRecommender().fit(interactions)

    def _validation_cutoff(self, interactions: pl.DataFrame) -> datetime | None:
        """``now − horizon``, or the median interaction time when that leaves too little before."""
        if "timestamp" not in interactions.columns or interactions.height < 2 or not self.now_:
            return None
        cutoff = self.now_ - timedelta(days=self.horizon_days)
        before = interactions.filter(pl.col("timestamp") < pl.lit(cutoff)).height
        if before < 0.2 * interactions.height:
            cutoff = interactions["timestamp"].sort()[interactions.height // 2]
        return cutoff  # type: ignore[return-value]

    def _validation_split(
        self, interactions: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray, datetime | None] | None:
        """(past, later, candidate positions, cut-off) of the validation question.

        Events with start times: the past is what happened before the cut-off, the candidates
        the events starting after it up to the horizon, but only those that started by the end
        of the data, so that every interaction they will ever get (people book before the
        start) is observed, as in the real question. A catalogue without start times (e.g.
        MovieLens): a seeded fifth of each user's interactions is held out
        (:func:`models.splitters.random_by_user`) and every item is a candidate.
        """
        known_starts = self.catalogue_.starts_us != np.iinfo(np.int64).max
        if known_starts.any():
            cutoff = self._validation_cutoff(interactions)
            if cutoff is None:
                return None
            cutoff_us = int(cutoff.timestamp() * 1_000_000)
            assert self.now_ is not None
            end_us = min(
                cutoff_us + int(self.horizon_days * _US_PER_DAY),
                int(self.now_.timestamp() * 1_000_000),
            )
            starts = self.catalogue_.starts_us
            window = np.flatnonzero((starts > cutoff_us) & (starts <= end_us))
            before = pl.col("timestamp") < pl.lit(cutoff)
            return interactions.filter(before), interactions.filter(~before), window, cutoff
        past, later = random_by_user(interactions, 0.8, self.random_state)
        return past, later, np.arange(self.item_ids_.size), None

    def _learn(
        self, interactions: pl.DataFrame, users: pl.DataFrame | None
    ) -> tuple[dict[str, float], ValidationReport]:
        """Weights learned on the validation question, and the check of them against each signal."""
        empty = ValidationReport(None, 0, 0, 0, 0, {})
        fixed = self._fixed_signal()
        if fixed is not None:
            return self._single(fixed), empty
        split = self._validation_split(interactions)
        if split is None:
            return self._default_weights(), empty
        past, later, window, cutoff = split
        as_of = cutoff or self.now_ or datetime.now(UTC)
        cutoff_us = int(as_of.timestamp() * 1_000_000)
        history = build_history(past, self.catalogue_, self.user_ids_, self.item_ids_, users)
        rows = encode(self.user_ids_, later["user_id"].to_numpy())
        cols = encode(self.item_ids_, later["item_id"].to_numpy())
        col_of_item = np.full(self.item_ids_.size, -1, dtype=np.int64)
        col_of_item[window] = np.arange(window.size)
        cand_cols = np.where(cols >= 0, col_of_item[np.maximum(cols, 0)], -1)
        keep = (rows >= 0) & (cand_cols >= 0)
        labels = (
            pl.DataFrame({"row": rows[keep], "col": cand_cols[keep]}).unique().sort("row", "col")
        )
        if labels.height:
            # Events a user already had before the cut-off are not theirs to discover.
            label_rows = np.array(labels["row"].to_numpy())
            label_items = np.array(window[labels["col"].to_numpy()])
            booked = np.asarray(history.seen[label_rows, label_items]).ravel()
            labels = labels.filter(pl.Series(booked == 0))
        if window.size < 2 or labels.height == 0 or past.height == 0:
            return self._default_weights(), empty
        label_users = np.unique(labels["row"].to_numpy())
        rng = np.random.default_rng(self.random_state)
        if label_users.size > self.max_train_users:
            label_users = np.sort(rng.choice(label_users, self.max_train_users, replace=False))
        shuffled = rng.permutation(label_users)
        n_check = round(self.check_share * shuffled.size) if shuffled.size >= 10 else 0
        check, train = np.sort(shuffled[:n_check]), np.sort(shuffled[n_check:])
        cf = self._fit_cf(past) if "cf" in self.signal_names_ else None
        cands = candidates_for(self.catalogue_, history, window, cutoff_us)
        pairs_train = self._pairs(history, cands, cutoff_us, cf, train, labels, rng)
        pairs_check = self._pairs(history, cands, cutoff_us, cf, check, labels, rng)
        if pairs_train[0].shape[0] == 0:
            return self._default_weights(), empty
        weights = self._fit_weights(*pairs_train)
        ndcg: dict[str, float] = {}
        if check.size:
            ranked = check
            if ranked.size > _MAX_CHECK_USERS:
                ranked = np.sort(rng.choice(check, _MAX_CHECK_USERS, replace=False))
            ndcg = self._check(history, cands, cf, ranked, labels, weights)
        all_pairs = tuple(
            np.concatenate([a, b]) for a, b in zip(pairs_train, pairs_check, strict=True)
        )
        weights = self._fit_weights(*all_pairs)
        report = ValidationReport(
            cutoff=cutoff,
            candidates=int(window.size),
            train_users=int(train.size),
            check_users=int(min(check.size, _MAX_CHECK_USERS)),
            pairs=int(all_pairs[0].shape[0]),
            ndcg=ndcg,
        )
        return weights, report

    def _block_users(self, n_candidates: int, n_signals: int) -> int:
        return max(1, BLOCK_CELLS // max(1, n_candidates * n_signals))

    def _tensor(
        self,
        history: History,
        cands: Candidates,
        cf: Recommender | None,
        rows: np.ndarray,
        names: Sequence[str],
    ) -> np.ndarray:
        """Signals × users × candidates for history ``rows``."""
        cf_scores = None
        if "cf" in names and cf is not None:
            cf_scores = cf.score_matrix(self._row_ids(rows), self.item_ids_[cands.pos])
        return np.stack([signal_block(n, history, cands, rows, cf_scores) for n in names])

    def _row_ids(self, rows: np.ndarray) -> np.ndarray:
        """User codes of history rows (the extra last row, a user without past, gets -1)."""
        ids = np.full(rows.size, -1, dtype=np.int64)
        known = rows < self.user_ids_.size
        ids[known] = self.user_ids_[rows[known]]
        return ids

    def _pairs(
        self,
        history: History,
        cands: Candidates,
        now_us: int,
        cf: Recommender | None,
        rows: np.ndarray,
        labels: pl.DataFrame,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Signal differences (positive − negative) and their weights (each user sums to 1).

        Per user at most 10 positives and ``negatives`` uniformly random candidates, never an
        event the user had or a positive. (Negatives picked by the signals themselves would
        bias the weights against those very signals.) Users go in blocks that share a random
        set of candidate columns, so the signals are computed for those columns and the
        block's positives only, not for every candidate.
        """
        names = self.signal_names_
        parts: list[np.ndarray] = []
        shared = min(cands.pos.size, 8 * self.negatives)
        step = max(1, min(_PAIR_BLOCK_USERS, BLOCK_CELLS // max(1, 4 * shared * len(names))))
        capped = (
            labels.filter(pl.col("row").is_in(pl.Series(rows).implode()))
            .with_columns(
                pl.int_range(pl.len()).shuffle(seed=self.random_state).over("row").alias("n")
            )
            .filter(pl.col("n") < 10)
        )
        for start in range(0, rows.size, step):
            block_rows = rows[start : start + step]
            local = _local_labels(capped, block_rows)
            if local.shape[0] == 0:
                continue
            pool = rng.choice(cands.pos.size, shared, replace=False)
            cols = np.unique(np.concatenate([pool, local[:, 1]]))
            sub = candidates_for(self.catalogue_, history, cands.pos[cols], now_us)
            tensor = self._tensor(history, sub, cf, block_rows, names)
            excluded = history.seen[block_rows][:, sub.pos].toarray() > 0
            positive_at = np.searchsorted(cols, local[:, 1])
            excluded[local[:, 0], positive_at] = True
            # Each user's negatives: a random subset of the shared pool, excluded cells last.
            pool_at = np.searchsorted(cols, pool)
            keys = rng.random((block_rows.size, pool_at.size))
            keys[excluded[:, pool_at]] = np.inf
            n_neg = min(self.negatives, pool_at.size)
            chosen = np.argpartition(keys, n_neg - 1, axis=1)[:, :n_neg]
            neg_rows = np.repeat(np.arange(block_rows.size), n_neg)
            neg_cols = pool_at[chosen.ravel()]
            keep = ~excluded[neg_rows, neg_cols]
            negatives = pl.DataFrame({"r": neg_rows[keep], "neg": neg_cols[keep]})
            positives = pl.DataFrame({"r": local[:, 0], "pos": positive_at})
            pairs = positives.join(negatives, on="r", maintain_order="left_right")
            if pairs.height == 0:
                continue
            r = pairs["r"].to_numpy()
            diff = tensor[:, r, pairs["pos"].to_numpy()] - tensor[:, r, pairs["neg"].to_numpy()]
            per_user = np.bincount(r, minlength=block_rows.size)
            parts.append(np.column_stack([diff.T, 1.0 / per_user[r]]))
        if not parts:
            return np.empty((0, len(names))), np.empty(0)
        stacked = np.concatenate(parts)
        if stacked.shape[0] > _MAX_PAIRS:
            stacked = stacked[rng.choice(stacked.shape[0], _MAX_PAIRS, replace=False)]
        return stacked[:, :-1], stacked[:, -1]

    def _fit_weights(self, diffs: np.ndarray, weights: np.ndarray) -> dict[str, float]:
        """Pairwise logistic regression on standardised differences; weights on raw signals."""
        scale = diffs.std(axis=0)
        usable = scale > 1e-9
        names = [n for n, u in zip(self.signal_names_, usable, strict=True) if u]
        if not names:
            return self._default_weights()
        x = diffs[:, usable] / scale[usable]
        # Each pair in a random orientation: a symmetric problem without an intercept, with
        # both classes present and no copy of the pairs.
        flip = np.random.default_rng(self.random_state).random(x.shape[0]) < 0.5
        x[flip] *= -1.0
        model = LogisticRegression(C=self.regularization, fit_intercept=False, max_iter=500)
        # Tall and thin (pairs × 16): one BLAS thread is fastest, and threads spin on a busy
        # machine (measured 20× slower per product under load).
        with threadpool_limits(limits=1, user_api="blas"):
            model.fit(x, (~flip).astype(np.int8), sample_weight=weights / weights.mean())
        coef = model.coef_.ravel() / scale[usable]
        return {n: float(c) for n, c in zip(names, coef, strict=True) if c != 0.0}

    def _check(
        self,
        history: History,
        cands: Candidates,
        cf: Recommender | None,
        rows: np.ndarray,
        labels: pl.DataFrame,
        weights: dict[str, float],
    ) -> dict[str, float]:
        """nDCG@k of the learned weights and of every signal alone on the check users."""
        names = self.signal_names_
        totals = dict.fromkeys(("learned", *names), 0.0)
        step = self._block_users(cands.pos.size, len(names))
        tie = names.index("popularity") if "popularity" in names else None
        w = np.array([weights.get(n, 0.0) for n in names], dtype=np.float32)
        for start in range(0, rows.size, step):
            block_rows = rows[start : start + step]
            tensor = self._tensor(history, cands, cf, block_rows, names)
            booked = history.seen[block_rows][:, cands.pos].toarray() > 0
            relevant = np.zeros(booked.shape, dtype=bool)
            local = _local_labels(labels, block_rows)
            relevant[local[:, 0], local[:, 1]] = True
            learned = np.tensordot(w, tensor, axes=1)
            totals["learned"] += ndcg_sum(learned, relevant, booked, self.k)
            for s, name in enumerate(names):
                single = tensor[s].copy()
                if tie is not None and s != tie:
                    single += np.float32(_TIE_BREAK) * tensor[tie]
                totals[name] += ndcg_sum(single, relevant, booked, self.k)
        return {name: total / rows.size for name, total in totals.items()}

    # -- scoring -------------------------------------------------------------------------------
    def _candidates(self, item_pos: np.ndarray | None) -> Candidates:
        as_of = self.__dict__.get("_scoring_as_of") or self.history_now_
        now_us = int(as_of.timestamp() * 1_000_000)
        pos = np.arange(self.item_ids_.size) if item_pos is None else item_pos
        return self._columns(
            f"candidates@{now_us}",
            item_pos,
            lambda _: candidates_for(self.catalogue_, self.history_, pos, now_us),
        )

    def _score_rows(self, rows: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        cands = self._candidates(item_pos)
        out = np.zeros((rows.size, cands.pos.size), dtype=np.float32)
        cf_scores = None
        if self.weights_.get("cf") and self.cf_ is not None:
            cf_scores = self.cf_.score_matrix(self._row_ids(rows), self.item_ids_[cands.pos])
        sparse_sum = None
        for name, weight in self.weights_.items():
            if name in TEXTUAL:
                continue  # all at once below
            if name in PER_CANDIDATE:
                out += np.float32(weight) * getattr(cands, name)[None, :]
            elif name in SPARSE:
                part = sparse_signal(name, self.history_, cands, rows) * np.float32(weight)
                sparse_sum = part if sparse_sum is None else sparse_sum + part
            else:
                block = signal_block(name, self.history_, cands, rows, cf_scores)
                block *= np.float32(weight)
                out += block
        if sparse_sum is not None:
            out += sparse_sum.toarray()
        textual = weighted_textual(self.weights_, self.history_, cands, rows)
        if textual is not None:
            out += textual
        return out

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        return self._score_rows(user_pos, item_pos)

    def _cold_user_scores(self, item_pos: np.ndarray | None) -> np.ndarray:
        # The history's extra last row: a user without any past (nor home).
        return self._score_rows(np.array([self.user_ids_.size]), item_pos)[0]

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        """Events like this one: text and topics, plus the same series, organiser or venue."""
        cat = self.catalogue_
        cols = np.arange(self.item_ids_.size) if cand_pos is None else cand_pos
        sims = (cat.text[item_pos] @ cat.text[cols].T).toarray() * 0.5
        sims += (cat.topics[item_pos] @ cat.topics[cols].T).toarray() * 0.5
        for codes, bonus in ((cat.series, 0.3), (cat.organizer, 0.2), (cat.venue, 0.1)):
            same = (codes[item_pos][:, None] == codes[cols][None, :]) & (codes[item_pos] >= 0)[
                :, None
            ]
            sims += bonus * same
        return sims.astype(np.float32)

    # -- explanations --------------------------------------------------------------------------
    def explain(self, recommendations: pl.DataFrame) -> pl.DataFrame:
        """The signal that lifted each recommendation most, with its evidence.

        Input: a frame from :meth:`recommend` (``user_id, item_id`` at least). Output: the same
        rows with ``reason``, the signal whose weighted value for that event stands furthest
        above its average over the user's other recommendations, and ``because_item_id``, the
        user's latest past event of the same series, organiser or venue when the reason is one
        of those (else null), so a caller can word "because you went to Python Meetup #41".
        Computed in blocks of users over the events recommended to them.
        """
        self._check_fitted()
        user_index, item_index = self._indexes()
        user_codes, _ = user_index.query(recommendations["user_id"])
        item_codes, _ = item_index.query(recommendations["item_id"])
        rows = encode(self.user_ids_, user_codes)
        rows = np.where(rows >= 0, rows, self.user_ids_.size)
        items = encode(self.item_ids_, item_codes)
        reasons = np.full(rows.size, None, dtype=object)
        because = np.full(rows.size, -1, dtype=np.int64)
        names = list(self.weights_)
        order = np.argsort(rows, kind="stable")
        now_us = int(self.history_now_.timestamp() * 1_000_000)
        weights = np.array([self.weights_[n] for n in names], dtype=np.float32)[:, None]
        start = 0
        while start < order.size:
            # Users whole, up to about a block of (user, event) pairs.
            stop = min(order.size, start + max(1, BLOCK_CELLS // (64 * len(names))))
            while stop < order.size and rows[order[stop]] == rows[order[stop - 1]]:
                stop += 1
            picked = order[start:stop]
            picked = picked[items[picked] >= 0]
            start = stop
            if picked.size == 0:
                continue
            users, user_at = np.unique(rows[picked], return_inverse=True)
            events, event_at = np.unique(items[picked], return_inverse=True)
            cands = candidates_for(self.catalogue_, self.history_, events, now_us)
            tensor = self._tensor(self.history_, cands, self.cf_, users, names)
            values = tensor[:, user_at, event_at] * weights  # signals × pairs
            mean = np.zeros((len(names), users.size), dtype=np.float64)
            for s in range(len(names)):
                mean[s] = np.bincount(user_at, weights=values[s], minlength=users.size)
            counts = np.bincount(user_at, minlength=users.size)
            lift = values - (mean / np.maximum(counts, 1))[:, user_at]
            best = np.argmax(lift, axis=0)
            reasons[picked] = np.array(names, dtype=object)[best]
            because[picked] = self._evidence(rows[picked], items[picked], reasons[picked])
        evidence = pl.DataFrame(
            {"because_item_id": self.item_ids_[np.maximum(because, 0)]}
        ).with_columns(
            pl.when(pl.Series(because >= 0))
            .then(pl.col("because_item_id"))
            .alias("because_item_id")
        )
        decoded = item_index.decode(evidence, "because_item_id", None)
        return recommendations.with_columns(
            pl.Series("reason", reasons.tolist(), dtype=pl.String),
            decoded["because_item_id"],
        )

    def _evidence(self, rows: np.ndarray, items: np.ndarray, reasons: np.ndarray) -> np.ndarray:
        """Per (row, item) the user's latest past event sharing the reason's series, organiser
        or venue (the latest by start time), else -1."""
        out = np.full(rows.size, -1, dtype=np.int64)
        codes_of = {
            "series_count": self.catalogue_.series,
            "organizer_share": self.catalogue_.organizer,
            "organizer_count": self.catalogue_.organizer,
            "venue_share": self.catalogue_.venue,
        }
        seen = self.history_.seen
        starts = self.catalogue_.starts_us
        for i in np.flatnonzero(np.isin(reasons.astype(str), list(codes_of))):
            codes = codes_of[reasons[i]]
            past = seen.indices[seen.indptr[rows[i]] : seen.indptr[rows[i] + 1]]
            same = past[(codes[past] == codes[items[i]]) & (codes[past] >= 0)]
            if same.size:
                out[i] = same[np.argmax(starts[same])]
        return out


def _local_labels(labels: pl.DataFrame, block_rows: np.ndarray) -> np.ndarray:
    """(row within the block, candidate column) of the labels of history rows ``block_rows``."""
    local = pl.DataFrame({"row": block_rows, "r": np.arange(block_rows.size)})
    joined = labels.join(local, on="row")
    return np.column_stack([joined["r"].to_numpy(), joined["col"].to_numpy()]).astype(np.int64)


def ndcg_sum(scores: np.ndarray, relevant: np.ndarray, excluded: np.ndarray, k: int) -> float:
    """Sum over rows of nDCG@k of ``scores`` against boolean ``relevant`` (same shape).

    ``excluded`` cells are never ranked (events the user already had). Binary gain and the
    ``1 / ln(1 + rank)`` discount of :mod:`models.metrics`; rows without a relevant cell add 0.
    """
    masked = np.where(excluded, -np.inf, scores).astype(np.float32)
    rows, cols, _ = top_k(masked, k)
    ranks = np.zeros(rows.size, dtype=np.int64)
    if rows.size:
        starts = np.r_[True, rows[1:] != rows[:-1]]
        first = np.maximum.accumulate(np.where(starts, np.arange(rows.size), 0))
        ranks = np.arange(rows.size) - first + 1
    gains = relevant[rows, cols] / np.log1p(ranks)
    dcg = np.bincount(rows, weights=gains, minlength=scores.shape[0])
    n_relevant = np.minimum(relevant.sum(axis=1), k)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log1p(np.arange(1, k + 1)))])
    idcg = ideal[n_relevant]
    return float(np.sum(np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)))
