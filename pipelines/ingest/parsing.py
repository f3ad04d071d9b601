"""Reading and validating landed files: pure functions from file bytes to typed, checked frames.

Every row read ends in exactly one place: the typed ``good`` frame, the ``rejected`` frame (with the
reason of its first failing rule) or the duplicate count. Files are read as text, field by field,
so that one malformed line (truncated, invalid JSON, invalid UTF-8, wrong type) costs that line
only, never the whole file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from core.contracts import (
    EVENT_STATUSES,
    INTERACTION_SOURCES,
    INTERACTION_TYPES,
    LIST_SEPARATOR,
    USER_ROLES,
    LandingDataset,
)

LINE = "_line"
RAW = "_record"
SOURCE_FILE = "_source_file"
REASON = "reason"
_INVALID_UTF8 = "\ufffd"
# ISO-8601 with a mandatory UTC offset: naive timestamps are ambiguous and rejected.
_TIMESTAMP_FORMAT = "%+"


@dataclass(frozen=True)
class ParsedBatch:
    """The outcome of validating one batch of landed rows."""

    good: pl.DataFrame
    rejected: pl.DataFrame  # columns: _source_file, _line, reason, _record
    duplicates: int
    rows_read: int
    unknown_columns: tuple[str, ...]


def read_lines(paths: Sequence[Path]) -> pl.DataFrame:
    """Read JSON Lines files as one text column per line, with 1-based line numbers per file.

    All files are read in one multi-threaded scan. Invalid UTF-8 is replaced (and later rejected
    by its replacement character) rather than failing the read, so the other lines still load.
    """
    if not paths:
        return pl.DataFrame(schema={RAW: pl.String, LINE: pl.Int64, SOURCE_FILE: pl.String})
    frame = pl.scan_csv(
        [str(p) for p in paths],
        has_header=False,
        separator="\x1f",
        quote_char=None,
        new_columns=[RAW],
        encoding="utf8-lossy",
        infer_schema=False,
        include_file_paths=SOURCE_FILE,
    )
    line = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(SOURCE_FILE)
    return frame.with_columns(line.alias(LINE)).collect()


def extract_json_fields(lines: pl.DataFrame, dataset: LandingDataset) -> pl.DataFrame:
    """Pull the contract's fields out of JSON lines as text; a non-JSON line gets ``_invalid``."""
    fields = [
        pl.col(RAW).str.json_path_match(f"$.{column.name}").alias(column.name)
        for column in dataset.columns
    ]
    return lines.with_columns(
        *fields, pl.col(RAW).str.json_path_match("$").is_null().alias("_invalid")
    )


def read_csv_rows(path: Path) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Read a CSV file as text columns with line numbers (header is line 1)."""
    frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True)
    header = tuple(frame.columns)
    record = pl.concat_str([pl.col(c).fill_null("") for c in header], separator=",").alias(RAW)
    frame = frame.with_row_index(LINE, offset=2).with_columns(
        pl.col(LINE).cast(pl.Int64), record, pl.lit(str(path)).alias(SOURCE_FILE)
    )
    return frame, header


def read_landed_files(
    paths: Sequence[Path], dataset: LandingDataset
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Read landed JSON Lines files of ``dataset`` at once; returns rows and unknown columns."""
    frame = extract_json_fields(read_lines(paths), dataset)
    return frame, unknown_json_keys(frame, dataset)


def read_landed_file(path: Path, dataset: LandingDataset) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Read any landed file of ``dataset`` into text columns; returns it and the unknown columns."""
    if path.suffix == ".csv":
        frame, header = read_csv_rows(path)
        unknown = tuple(c for c in header if c not in dataset.names)
        missing = [c for c in dataset.names if c not in header]
        frame = frame.with_columns(
            *[pl.lit(None, dtype=pl.String).alias(c) for c in missing],
            pl.lit(False).alias("_invalid"),
        )
        return frame, unknown
    return read_landed_files([path], dataset)


def unknown_json_keys(frame: pl.DataFrame, dataset: LandingDataset) -> tuple[str, ...]:
    """Top-level keys present in the JSON lines that the contract does not know (schema drift)."""
    sample = frame.filter(~pl.col("_invalid")).head(1000)
    if sample.is_empty():
        return ()
    keys = (
        sample.select(pl.col(RAW).str.extract_all(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*:'))
        .explode(RAW)
        .drop_nulls()
        .select(pl.col(RAW).str.extract(r'"([^"]+)"'))
        .unique()
        .to_series()
        .to_list()
    )
    # Nested keys (inside ``context``) match the pattern too; only report unknown top-level ones.
    candidates = sorted(set(keys) - set(dataset.names))
    top_level = [
        key
        for key in candidates
        if sample.select(pl.col(RAW).str.json_path_match(f"$.{key}").is_not_null().any()).item()
    ]
    return tuple(top_level)


def _typed(column_type: str, name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    if column_type == "int":
        return text.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)
    if column_type == "float":
        return text.cast(pl.Float64, strict=False)
    if column_type == "datetime":
        return text.str.to_datetime(_TIMESTAMP_FORMAT, time_zone="UTC", strict=False)
    if column_type == "str_list":
        as_json = text.str.replace_all(r'[\[\]"]', "").str.split(",")
        as_cell = text.str.split(LIST_SEPARATOR)
        listed = pl.when(text.str.starts_with("[")).then(as_json).otherwise(as_cell)
        return (
            pl.when(text.is_null() | (text == "") | (text == "[]"))
            .then(pl.lit([], dtype=pl.List(pl.String)))
            .otherwise(listed.list.eval(pl.element().str.strip_chars()))
        )
    return pl.col(name)


def _type_errors(dataset: LandingDataset) -> list[tuple[pl.Expr, pl.Expr]]:
    """(is-bad, reason) pairs for values present but not of the contract's type."""
    rules = []
    for column in dataset.columns:
        if column.type not in ("int", "float", "datetime"):
            continue
        present = pl.col(column.name).is_not_null() & (pl.col(column.name).str.strip_chars() != "")
        bad = present & pl.col(f"__{column.name}").is_null()
        expected = {
            "int": "an integer",
            "float": "a number",
            "datetime": "an ISO-8601 timestamp with offset",
        }[column.type]
        reason = pl.format(f"{column.name} is not {expected}: '{{}}'", pl.col(column.name))
        rules.append((bad, reason))
    return rules


def _domain_rules(dataset: LandingDataset, now: datetime) -> list[tuple[pl.Expr, str]]:
    """Business rules of each dataset, on typed columns (prefixed ``__``)."""

    def typed(name: str) -> pl.Expr:
        return pl.col(f"__{name}")

    def outside(name: str, low: float, high: float) -> pl.Expr:
        return typed(name).is_not_null() & ~typed(name).is_between(low, high)

    if dataset.name == "interactions":
        return [
            (~typed("type").is_in(INTERACTION_TYPES), "type is not an accepted interaction type"),
            (~typed("source").is_in(INTERACTION_SOURCES), "source is not an accepted source"),
            (typed("timestamp") > pl.lit(now), "timestamp is in the future"),
            (typed("user_id") <= 0, "user_id must be positive"),
            (typed("event_id") <= 0, "event_id must be positive"),
        ]
    if dataset.name == "events":
        return [
            (~typed("status").is_in(EVENT_STATUSES), "status is not an accepted event status"),
            (typed("ends_at") <= typed("starts_at"), "ends_at is not after starts_at"),
            (typed("capacity") < 0, "capacity is negative"),
            (typed("price") < 0, "price is negative"),
            (typed("currency").str.len_chars() != 3, "currency is not a 3-letter code"),
            (outside("lat", -90, 90), "lat is out of range"),
            (outside("lng", -180, 180), "lng is out of range"),
            (typed("title").str.len_chars() > 200, "title is longer than 200 characters"),
            (typed("event_id") <= 0, "event_id must be positive"),
        ]
    if dataset.name == "users":
        return [
            (~typed("role").is_in(USER_ROLES), "role is not an accepted user role"),
            (~typed("email").str.contains("@"), "email is not an e-mail address"),
            (outside("home_lat", -90, 90), "home_lat is out of range"),
            (outside("home_lng", -180, 180), "home_lng is out of range"),
            (typed("user_id") <= 0, "user_id must be positive"),
        ]
    return []


def validate(
    frame: pl.DataFrame,
    dataset: LandingDataset,
    *,
    now: datetime,
    known_ids: dict[str, pl.Series] | None = None,
    unknown_columns: tuple[str, ...] = (),
    order_by: str | None = None,
    extra_rules: Sequence[tuple[pl.Expr, str]] = (),
) -> ParsedBatch:
    """Type and check text rows against ``dataset``'s contract.

    Rows failing any rule are rejected with the first failing rule as the reason. Rows whose key
    repeats an earlier good row are duplicates: dropped and counted (the last by ``order_by`` wins
    when given, the first in file order otherwise). ``known_ids`` maps a column to the ids it must
    reference (referential integrity). ``extra_rules`` are (is-bad, reason) pairs over the typed
    columns, which are named ``__<column>``.
    """
    rows_read = frame.height
    typed = frame.with_columns(
        *[_typed(c.type, c.name).alias(f"__{c.name}") for c in dataset.columns]
    )
    rules: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col(RAW).str.contains(_INVALID_UTF8, literal=True), pl.lit("invalid UTF-8")),
        (pl.col("_invalid"), pl.lit("not a valid JSON object (malformed or truncated line)")),
    ]
    for column in dataset.columns:
        if column.required:
            missing = pl.col(column.name).is_null() | (pl.col(column.name).str.strip_chars() == "")
            rules.append((missing, pl.lit(f"missing required field {column.name}")))
    rules.extend(_type_errors(dataset))
    rules.extend((bad, pl.lit(reason)) for bad, reason in _domain_rules(dataset, now))
    rules.extend((bad, pl.lit(reason)) for bad, reason in extra_rules)
    for column, ids in (known_ids or {}).items():
        unknown = ~pl.col(f"__{column}").is_in(ids.implode())
        rules.append((unknown, pl.format(f"unknown {column} {{}}", pl.col(f"__{column}"))))

    reason = pl.lit(None, dtype=pl.String)
    for bad, text in reversed(rules):
        reason = pl.when(bad.fill_null(False)).then(text).otherwise(reason)
    checked = typed.with_columns(reason.alias(REASON))

    rejected = checked.filter(pl.col(REASON).is_not_null()).select(SOURCE_FILE, LINE, REASON, RAW)
    good = checked.filter(pl.col(REASON).is_null())
    key = f"__{dataset.key}"
    if order_by is not None:
        good = good.sort(f"__{order_by}", descending=True, nulls_last=True, maintain_order=True)
    deduplicated = good.unique(subset=[key], keep="first", maintain_order=True)
    duplicates = good.height - deduplicated.height
    result = deduplicated.select(
        SOURCE_FILE, LINE, *[pl.col(f"__{c.name}").alias(c.name) for c in dataset.columns]
    )
    return ParsedBatch(result, rejected, duplicates, rows_read, unknown_columns)
