"""The documented input schema of the library, and the mapping of external ids to codes.

Callers hand us interactions, items and users as Polars, pandas or Arrow tables, with ids of any
hashable type (partner feeds use alphanumeric event ids). Everything is normalised here once: the
frame becomes Polars, documented aliases are renamed, a misspelt column is an error (it would
otherwise be ignored and silently change the model), other extra columns are reported with a
warning, and non-integer ids are mapped to int64 codes that every model works with internally
and mapped back on the way out.

Item schema (every column but ``item_id`` optional):

  item_id       event id (int or string)
  title, description, category, tags (list or ``a|b|c``), city, lat, lng, price
  starts_at     start time (datetime, naive = UTC); events that started are never recommended
  ends_at, created_at (when the event was published), status, capacity, currency, venue_name
  organizer_id, series_id, venue_id   (int or string; ``series_id`` is derived from the
                organiser and the normalised title when absent, ``venue_id`` from the
                coordinates)

Interaction schema: ``user_id``, ``item_id``, optional ``weight`` (> 0) and ``timestamp``.
User schema: ``user_id``, optional ``home_city``, ``home_lat``, ``home_lng``, ``interests``,
``created_at``.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl

INTERACTION_COLUMNS = ("user_id", "item_id", "weight", "timestamp")
ITEM_COLUMNS = (
    "item_id",
    "title",
    "description",
    "category",
    "tags",
    "city",
    "lat",
    "lng",
    "price",
    "starts_at",
    "ends_at",
    "created_at",
    "status",
    "capacity",
    "currency",
    "venue_name",
    "organizer_id",
    "series_id",
    "venue_id",
)
USER_COLUMNS = ("user_id", "home_city", "home_lat", "home_lng", "interests", "created_at")

# Other names for documented columns, as other systems spell them.
INTERACTION_ALIASES = {
    "event_id": "item_id",
    "member_id": "user_id",
    "rating": "weight",
    "ts": "timestamp",
    "time": "timestamp",
    "created_at": "timestamp",
    "mtime": "timestamp",
}
ITEM_ALIASES = {
    "event_id": "item_id",
    "name": "title",
    "start_time": "starts_at",
    "starts": "starts_at",
    "start": "starts_at",
    "time": "starts_at",
    "event_time": "starts_at",
    "start_date": "starts_at",
    "end_time": "ends_at",
    "published_at": "created_at",
    "latitude": "lat",
    "longitude": "lng",
    "lon": "lng",
    "organiser_id": "organizer_id",
    "group_id": "organizer_id",
}
USER_ALIASES = {
    "member_id": "user_id",
    "city": "home_city",
    "lat": "home_lat",
    "lng": "home_lng",
    "latitude": "home_lat",
    "longitude": "home_lng",
}

# Close enough to a documented name (difflib ratio) to be a typo rather than an extra column.
_TYPO_RATIO = 0.8


class UnknownColumnsWarning(UserWarning):
    """Columns that are neither documented nor aliases were passed and are not used."""


def to_polars(frame: Any, what: str) -> pl.DataFrame:
    """A Polars frame from a Polars, pandas or Arrow table (or anything ``pl.DataFrame`` takes)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    module = type(frame).__module__.split(".")[0]
    if module == "pandas":
        return pl.from_pandas(frame)
    if module == "pyarrow":
        return pl.from_arrow(frame)  # type: ignore[return-value]
    try:
        return pl.DataFrame(frame)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be a Polars, pandas or Arrow table, got {type(frame)}"
        ) from exc


def normalise_columns(
    frame: pl.DataFrame,
    what: str,
    documented: Iterable[str],
    aliases: Mapping[str, str],
    required: Iterable[str] = (),
) -> pl.DataFrame:
    """Rename aliases to the documented names and check the columns of ``frame``.

    Raises ``ValueError`` for a missing required column, for an alias whose documented name is
    also present, and for a column that looks like a misspelt documented name; warns with
    :class:`UnknownColumnsWarning` about other unknown columns, which no model reads.
    """
    documented = tuple(documented)
    renames = {
        column: aliases[column]
        for column in frame.columns
        if column not in documented and column in aliases
    }
    clashes = sorted(c for c, target in renames.items() if target in frame.columns)
    if clashes:
        raise ValueError(
            f"{what}: {clashes} are aliases of columns that are also present "
            f"({[renames[c] for c in clashes]}); drop one of each pair"
        )
    if renames:
        frame = frame.rename(renames)
    unknown = [c for c in frame.columns if c not in documented]
    typos = {
        column: match[0]
        for column in unknown
        if (match := difflib.get_close_matches(column, documented, n=1, cutoff=_TYPO_RATIO))
    }
    if typos:
        hints = ", ".join(f"{c!r} (did you mean {m!r}?)" for c, m in typos.items())
        raise ValueError(f"{what}: unknown columns {hints}; documented: {list(documented)}")
    if unknown:
        warnings.warn(
            f"{what}: columns {unknown} are not part of the schema and are not used; "
            f"documented: {list(documented)}",
            UnknownColumnsWarning,
            stacklevel=3,
        )
    missing = sorted(set(required) - set(frame.columns))
    if missing:
        raise ValueError(f"{what} lack required columns: {missing}")
    return frame


def interactions_frame(interactions: Any) -> pl.DataFrame:
    """Interactions as Polars with documented column names (ids not yet coded)."""
    frame = to_polars(interactions, "interactions")
    return normalise_columns(
        frame, "interactions", INTERACTION_COLUMNS, INTERACTION_ALIASES, ("user_id", "item_id")
    )


def items_frame(items: Any | None) -> pl.DataFrame | None:
    """Items as Polars with documented column names (ids not yet coded); ``None`` passes."""
    if items is None:
        return None
    frame = to_polars(items, "items")
    return normalise_columns(frame, "items", ITEM_COLUMNS, ITEM_ALIASES, ("item_id",))


def users_frame(users: Any | None) -> pl.DataFrame | None:
    """Users as Polars with documented column names (ids not yet coded); ``None`` passes."""
    if users is None:
        return None
    frame = to_polars(users, "users")
    return normalise_columns(frame, "users", USER_COLUMNS, USER_ALIASES, ("user_id",))


class IdIndex:
    """External ids of one kind (users or items) and their int64 codes.

    Integer ids are their own codes (the common case costs nothing). Any other ids (strings,
    UUIDs, mixed) are cast to strings, sorted, and coded 0..n-1; an id first met after the fit
    gets a code past the universe for the length of one call, so it is handled like any id the
    model has not seen (a cold user, an unknown candidate) and mapped back on the way out.
    """

    def __init__(self, ids: pl.Series) -> None:
        self.integer = ids.dtype.is_integer() or ids.dtype == pl.Null
        self.values: pl.Series | None = (
            None if self.integer else ids.cast(pl.String).drop_nulls().unique().sort()
        )

    @property
    def dtype(self) -> pl.DataType:
        """The dtype ids are returned in."""
        return pl.Int64 if self.integer else pl.String

    def codes(self, ids: pl.Series) -> pl.Series:
        """Codes of ids known to the index (unknown ids: null)."""
        if self.integer:
            return ids.cast(pl.Int64)
        assert self.values is not None
        table = pl.DataFrame(
            {"__id": self.values, "__code": np.arange(self.values.len(), dtype=np.int64)}
        )
        found = pl.DataFrame({"__id": ids.cast(pl.String)}).join(
            table, on="__id", how="left", maintain_order="left"
        )
        return found["__code"].rename(ids.name)

    def query(self, ids: Any) -> tuple[np.ndarray, pl.DataFrame | None]:
        """Codes of the ids of one call, and the table that maps them back (``None``: integers).

        Unknown ids get distinct codes past the universe, so they stay apart from each other.
        """
        series = ids if isinstance(ids, pl.Series) else pl.Series("id", _as_list(ids))
        if self.integer:
            if not (series.dtype.is_integer() or series.dtype == pl.Null):
                raise TypeError(f"the model was fitted on integer ids, got {series.dtype} ids")
            return series.cast(pl.Int64).to_numpy(), None
        assert self.values is not None
        strings = series.cast(pl.String)
        codes = self.codes(strings)
        unknown = codes.is_null()
        if unknown.any():
            extra = strings.filter(unknown).unique(maintain_order=True)
            extra_codes = pl.DataFrame(
                {
                    "__id": extra,
                    "__new": np.arange(extra.len(), dtype=np.int64) + self.values.len(),
                }
            )
            filled = pl.DataFrame({"__id": strings, "__code": codes}).join(
                extra_codes, on="__id", how="left", maintain_order="left"
            )
            codes = filled.select(pl.coalesce("__code", "__new"))["__code"]
        code_array = codes.to_numpy().astype(np.int64)
        table = pl.DataFrame({"__code": code_array, "__id": strings}).unique("__code")
        return code_array, table

    def decode(self, frame: pl.DataFrame, column: str, table: pl.DataFrame | None) -> pl.DataFrame:
        """``frame`` with the codes in ``column`` replaced by the external ids."""
        if self.integer:
            return frame
        assert self.values is not None
        known = pl.DataFrame(
            {"__code": np.arange(self.values.len(), dtype=np.int64), "__id": self.values}
        )
        lookup = known if table is None else pl.concat([known, table]).unique("__code")
        out = frame.join(
            lookup.rename({"__code": column}), on=column, how="left", maintain_order="left"
        )
        return out.with_columns(pl.col("__id").alias(column)).drop("__id").select(frame.columns)


def _as_list(ids: Any) -> list[Any]:
    if isinstance(ids, np.ndarray):
        return ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        return [ids]
    return list(ids)


def code_frame(frame: pl.DataFrame | None, column: str, index: IdIndex) -> pl.DataFrame | None:
    """``frame`` with ``column`` replaced by its codes; rows whose id is unknown are dropped."""
    if frame is None or column not in frame.columns:
        return frame
    if index.integer and frame.schema[column] == pl.Int64:
        return frame  # the same object: shared fits recognise frames by identity
    return frame.with_columns(index.codes(frame[column]).alias(column)).drop_nulls(column)


def recommendations_to_dict(recommendations: pl.DataFrame) -> dict[Any, list[Any]]:
    """``{user_id: [item_id, ...]}`` best first, from a frame returned by ``recommend``."""
    grouped = recommendations.sort(["user_id", "rank"]).group_by("user_id", maintain_order=True)
    return {row[0]: row[1] for row in grouped.agg(pl.col("item_id")).iter_rows()}
