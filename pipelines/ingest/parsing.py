"""Reading and validating landed files: pure functions from file bytes to typed, checked frames.

Every row read ends in exactly one place: the typed ``good`` frame, the ``rejected`` frame (with the
reason of its first failing rule) or the duplicate count. One malformed line (truncated, invalid
JSON, invalid UTF-8, wrong type, a malformed CSV record) costs that line only, never the whole
file. Every value PostgreSQL would refuse (out of a column's range, a NUL character, a non-object
``jsonb``, a timestamp outside years 1-9999, a key too long for its index) is refused here first,
with a reason, so that the COPY of a load never fails on its data.

JSON Lines are read in two ways that give the same rows. The field-by-field reading (one JSON path
per field and line) defines the behaviour but re-parses every line once per field. Blocks of lines
that a typed one-pass decoder reads unambiguously take a fast path instead; a block the decoder
rejects is halved until the lines at fault are found, and only those (and rows whose decoded
value could differ from the field-by-field text) are read field by field.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.contracts import (
    ATTENDANCE_MODES,
    EVENT_STATUSES,
    FEEDBACK_ACTIONS,
    INTERACTION_SOURCES,
    INTERACTION_TYPES,
    LIST_SEPARATOR,
    USER_ROLES,
    LandingDataset,
)
from core.time_zones import time_zone_names
from pipelines.ingest.csv_rows import CsvColumns, read_csv_frame
from pipelines.ingest.json_values import check_line

LINE = "_line"
RAW = "_record"
SOURCE_FILE = "_source_file"
REASON = "reason"
# A reason found while reading a row (a malformed CSV record, a JSON value of the wrong type).
READ_ERROR = "_read_error"
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


_SEPARATOR = b"\x1f"
_LINES_OPTIONS = {
    "has_header": False,
    "separator": _SEPARATOR.decode(),
    "quote_char": None,
    "new_columns": [RAW],
    "encoding": "utf8-lossy",
    "infer_schema": False,
}


def read_lines(paths: Sequence[Path]) -> pl.DataFrame:
    """Read JSON Lines files as one text column per line, with 1-based line numbers per file.

    Invalid UTF-8 is replaced (and later rejected by its replacement character) rather than
    failing the read, so the other lines still load.
    """
    frames = [_block_lines(path.read_bytes(), 1, str(path)) for path in paths]
    if not frames:
        return pl.DataFrame(schema={RAW: pl.String, SOURCE_FILE: pl.String, LINE: pl.Int64})
    return pl.concat(frames)


def _block_lines(block: bytes, first_line: int, source: str) -> pl.DataFrame:
    """The lines of a block of a file, numbered from ``first_line``.

    Lines are split by a CSV reader whose separator is the unit-separator byte, which no valid
    line holds; a corrupted line that does would split into fields and fail the whole read, so
    the byte is read as a replacement character instead (and the line rejected for it).
    """
    if not block:
        return pl.DataFrame(schema={RAW: pl.String, SOURCE_FILE: pl.String, LINE: pl.Int64})
    if _SEPARATOR in block:
        block = block.replace(_SEPARATOR, _REPLACEMENT_BYTES)
    lines = pl.read_csv(io.BytesIO(block), **_LINES_OPTIONS)
    return lines.with_columns(
        pl.lit(source).alias(SOURCE_FILE),
        pl.int_range(first_line, first_line + pl.len(), dtype=pl.Int64).alias(LINE),
    )


def extract_json_fields(lines: pl.DataFrame, dataset: LandingDataset) -> pl.DataFrame:
    """Pull the contract's fields out of JSON lines as text; a non-JSON line gets ``_invalid``.

    Each valid line is also parsed exactly (``json_values.check_line``): a field of the wrong
    JSON type gets its reason in ``_read_error``, and JSON fields take their exact text.
    """
    fields = [
        pl.col(RAW).str.json_path_match(f"$.{column.name}").alias(column.name)
        for column in dataset.columns
    ]
    frame = lines.with_columns(
        *fields, pl.col(RAW).str.json_path_match("$").is_null().alias("_invalid")
    )
    json_columns = [c.name for c in dataset.columns if c.type == "json"]
    errors: list[str | None] = []
    exact: dict[str, list[str | None]] = {name: [] for name in json_columns}
    for text, invalid in zip(frame[RAW], frame["_invalid"], strict=True):
        error, values = check_line(text, dataset.columns) if not invalid else (None, {})
        errors.append(error)
        for name in json_columns:
            exact[name].append(values.get(name))
    return frame.with_columns(
        pl.Series(READ_ERROR, errors, dtype=pl.String),
        *[
            pl.coalesce(pl.Series(name, values, dtype=pl.String), pl.col(name)).alias(name)
            for name, values in exact.items()
        ],
    )


def read_csv_rows(path: Path) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Read a CSV file as text columns, numbered by the line each record starts on (the header
    is line 1). A malformed record keeps its line's text and its reason in ``_read_error``;
    empty cells are nulls."""
    names, frame = read_csv_frame(path, CsvColumns(line=LINE, text=RAW, error=READ_ERROR))
    return frame.with_columns(pl.lit(str(path)).alias(SOURCE_FILE)), tuple(names)


# Types the one-pass decoder reads exactly as the field-by-field path does (see ``_fast_schema``).
_FAST_TYPES = {"str", "int", "datetime", "json"}
# Bytes decoded per block: large enough for the decoder's threads, small enough to bound memory.
_BLOCK_BYTES = 16 << 20
# A failing block is halved down to this size, then its lines are read field by field.
_LEAF_BYTES = 64 << 10
_REPLACEMENT_BYTES = _INVALID_UTF8.encode()
# Bytes of each file's head read for the schema-drift sample (a thousand typical lines).
_SAMPLE_BYTES = 512 << 10


def _fast_schema(dataset: LandingDataset) -> dict[str, pl.DataType] | None:
    """The decoder's schema, or None when a column type has no exact one-pass equivalent.

    Integers are decoded strictly (a string, float, boolean or object fails the block, which then
    goes field by field). Text fields are decoded as text; the decoder also turns numbers, booleans
    and objects into text, which ``_needs_field_path`` catches.
    """
    if any(c.type not in _FAST_TYPES for c in dataset.columns):
        return None
    return {c.name: pl.Int64 if c.type == "int" else pl.String for c in dataset.columns}


def _line_count(block: bytes) -> int:
    """Lines as ``read_lines`` counts them (a last line may lack its newline)."""
    return block.count(b"\n") + (1 if block and not block.endswith(b"\n") else 0)


def _blocks(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """A file's bytes in blocks of whole lines: start and end offsets, first line number and line
    count of each (offsets rather than copies, so that blocks waiting for a thread cost nothing)."""
    first_line, start = 1, 0
    while start < len(data):
        limit = start + _BLOCK_BYTES
        if limit >= len(data):
            end = len(data)
        else:
            end = data.rfind(b"\n", start, limit) + 1
            if end <= start:  # one line longer than a block: the block ends with it
                end = data.find(b"\n", limit) + 1 or len(data)
        lines = data.count(b"\n", start, end) + (0 if data.endswith(b"\n", start, end) else 1)
        yield start, end, first_line, lines
        first_line += lines
        start = end


def _sample_rows(paths: Sequence[Path], dataset: LandingDataset, rows: int = 1000) -> pl.DataFrame:
    """The first lines of the files, read field by field: what schema drift is looked for in."""
    frames = []
    for path in paths:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
        if len(head) == _SAMPLE_BYTES:
            head = head[: head.rfind(b"\n") + 1]
        frames.append(extract_json_fields(_block_lines(head, 1, str(path)), dataset))
        if sum(f.filter(~pl.col("_invalid")).height for f in frames) >= rows:
            break
    return pl.concat(frames)


def _field_path_rows(lines: pl.DataFrame, dataset: LandingDataset) -> pl.DataFrame:
    """Lines read field by field (the reference behaviour), in the layout of ``_decode_block``."""
    frame = extract_json_fields(lines, dataset)
    typed = [
        pl.lit(None, dtype=pl.Int64).alias(f"__{c.name}")
        for c in dataset.columns
        if c.type == "int"
    ]
    return frame.with_columns(typed).select(_row_layout(dataset))


def _row_layout(dataset: LandingDataset) -> list[str]:
    ints = [f"__{c.name}" for c in dataset.columns if c.type == "int"]
    return [RAW, SOURCE_FILE, LINE, "_invalid", READ_ERROR, *dataset.names, *ints]


_NON_STRING_TEXT = r"(?s)^(?:-?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|true|false|[\[{].*)$"


def _needs_field_path(dataset: LandingDataset) -> pl.Expr:
    """Decoded rows whose text could differ from the field-by-field reading of their line.

    A text field decoded from a JSON number, boolean, object or array reads differently (``1.0``
    becomes ``1``, objects lose their original spacing), so any text value that looks like one
    of those is read again field by field. (So is a line with an escaped surrogate, where the
    decoders differ too: see ``_surrogate_escapes``.)
    """
    suspicious = pl.lit(False)
    for column in dataset.columns:
        if column.type in ("str", "datetime"):
            # One anchored pattern: a number, a boolean, or an object or array.
            looks_other = pl.col(column.name).str.contains(_NON_STRING_TEXT)
            suspicious = suspicious | looks_other.fill_null(False)
        elif column.type == "json":
            # The decoder writes objects out again without escaping backslashes and control
            # characters, and cannot tell a string from an object: only a plain object that
            # needs no escape keeps its decoded text.
            value = pl.col(column.name)
            plain = value.str.starts_with("{") & ~value.str.contains(_NEEDS_ESCAPE)
            suspicious = suspicious | (value.is_not_null() & ~plain)
    return suspicious


# Characters that JSON text escapes: a decoded object holding one is read again exactly.
_NEEDS_ESCAPE = r"[\x00-\x1f\\]"


def _string_json_values(block: bytes, dataset: LandingDataset) -> re.Pattern[bytes] | None:
    """A pattern finding lines whose JSON field holds a string (``"context": "{...}"`` decodes
    to the same text as an object), or None when the block holds none or the contract has no
    JSON field."""
    names = [c.name for c in dataset.columns if c.type == "json"]
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in names)
    pattern = re.compile(rf'"(?:{alternatives})"\s*:\s*"'.encode())
    return pattern if pattern.search(block) else None


def _surrogate_escapes(block: bytes) -> bool:
    """Whether a block may hold a ``\\uD800``-``\\uDFFF`` escape: the decoder reads a lone
    surrogate as a character where the JSON path rejects the line. (Other escapes and control
    characters are read, or rejected, alike by both.)"""
    return b"\\" in block and (b"\\ud" in block or b"\\uD" in block)


def _decode_block(
    block: bytes, first_line: int, lines: int, source: str, dataset: LandingDataset, schema: dict
) -> list[pl.DataFrame]:
    """Rows of a block of ``lines`` whole lines: decoded in one pass when possible, else halved.

    Decoded rows carry no ``_record`` (the line's text): ``validate`` reads it back for the few
    rows it rejects, which spares splitting every line of a clean block.
    """
    fast: pl.DataFrame | None = None
    if block.isascii() or _REPLACEMENT_BYTES not in block:
        try:
            fast = pl.read_ndjson(io.BytesIO(block), schema=schema)
        except Exception:  # any decoding error: the block is halved, down to the slow path
            fast = None
    if fast is None or fast.height != lines:
        half = len(block) // 2
        middle = block.rfind(b"\n", 0, half) + 1 or block.find(b"\n", half) + 1
        if len(block) <= _LEAF_BYTES or middle in (0, len(block)):
            return [_field_path_rows(_block_lines(block, first_line, source), dataset)]
        head, tail = block[:middle], block[middle:]
        head_lines = _line_count(head)
        return [
            *_decode_block(head, first_line, head_lines, source, dataset, schema),
            *_decode_block(
                tail, first_line + head_lines, lines - head_lines, source, dataset, schema
            ),
        ]
    ints = [c.name for c in dataset.columns if c.type == "int"]
    rows = fast.with_columns(
        *[pl.col(name).alias(f"__{name}") for name in ints],
        *[pl.lit(None, dtype=pl.String).alias(name) for name in ints],
        pl.lit(None, dtype=pl.String).alias(RAW),
        pl.lit(source).alias(SOURCE_FILE),
        pl.int_range(first_line, first_line + pl.len(), dtype=pl.Int64).alias(LINE),
        pl.lit(False).alias("_invalid"),
        pl.lit(None, dtype=pl.String).alias(READ_ERROR),
    )
    flagged = rows.select(_needs_field_path(dataset).alias("_slow"))["_slow"]
    if _surrogate_escapes(block):
        text = _block_lines(block, first_line, source)[RAW]
        flagged = flagged | text.str.contains(r"\\u[dD][89a-fA-F]").fill_null(False)
    string_values = _string_json_values(block, dataset)
    if string_values is not None:
        text = _block_lines(block, first_line, source)[RAW]
        flagged = flagged | text.str.contains(string_values.pattern.decode()).fill_null(False)
    if not flagged.any():
        return [rows.select(_row_layout(dataset))]
    exact = _field_path_rows(_block_lines(block, first_line, source).filter(flagged), dataset)
    kept = rows.filter(~flagged).select(_row_layout(dataset))
    return [pl.concat([kept, exact]).sort(LINE)]


def _decode_file(
    data: bytes, source: str, dataset: LandingDataset, schema: dict, pool: ThreadPoolExecutor
) -> list[pl.DataFrame]:
    """A JSON Lines file's rows in file order, its blocks decoded on ``pool``'s threads."""

    def decode(block: tuple[int, int, int, int]) -> list[pl.DataFrame]:
        start, end, first_line, lines = block
        return _decode_block(data[start:end], first_line, lines, source, dataset, schema)

    return [rows for decoded in pool.map(decode, _blocks(data)) for rows in decoded]


def read_landed_files(
    paths: Sequence[Path], dataset: LandingDataset
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Read landed JSON Lines files of ``dataset`` at once; returns rows and unknown columns.

    Integer fields decoded in one pass arrive typed in ``__<name>`` with a null text column;
    ``validate`` takes them as they are.
    """
    schema = _fast_schema(dataset)
    if schema is None or not paths:
        frame = extract_json_fields(read_lines(paths), dataset)
        return frame, unknown_json_keys(frame, dataset)
    parts: list[pl.DataFrame] = []
    unknown: set[str] = set()
    # Polars' NDJSON decoder keeps one core busy per call and releases the GIL: blocks are
    # decoded on as many threads as Polars has.
    with ThreadPoolExecutor(max_workers=pl.thread_pool_size()) as pool:
        for path in paths:
            if path.suffix == ".parquet":
                part, extra = read_parquet_rows(path, dataset)
                parts.append(part)
                unknown.update(extra)
                continue
            parts.extend(_decode_file(path.read_bytes(), str(path), dataset, schema, pool))
    # One chunk per column, made while the blocks' frames are dropped anyway: the loader gathers
    # rows in key order, several times faster from one chunk than from one per block (and a
    # rechunk there would hold two copies of the rows).
    frame = pl.concat(parts, rechunk=True) if parts else _field_path_rows(read_lines([]), dataset)
    lines_files = [p for p in paths if p.suffix != ".parquet"]
    if lines_files:
        unknown.update(unknown_json_keys(_sample_rows(lines_files, dataset), dataset))
    return frame, tuple(sorted(unknown))


def read_parquet_rows(path: Path, dataset: LandingDataset) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """A landed Parquet file in the layout of the JSON Lines reader; its line is the row number.

    Integer columns stay typed; every other column becomes text as a JSON line would carry it
    (strings as they are, timezone-aware timestamps in ISO-8601 with offset, structs as JSON
    objects, anything else as the JSON path of its JSON form gives it), so that the same rules,
    reasons and echoes apply whichever format a row landed in. A row's ``_record``, its JSON
    form, is produced only if the row is rejected.
    """
    table = pl.read_parquet(path)
    unknown = tuple(c for c in table.columns if c not in dataset.names)
    columns: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    for column in dataset.columns:
        dtype = table.schema.get(column.name)
        value = pl.col(column.name)
        pretyped = column.type == "int" and dtype is not None and dtype.is_integer()
        if column.type == "int":
            typed = value.cast(pl.Int64) if pretyped else pl.lit(None, pl.Int64)
            columns.append(typed.alias(f"__{column.name}"))
        if dtype is None or pretyped:
            text = pl.lit(None, dtype=pl.String)
        elif dtype == pl.String:
            text = value
        elif column.type == "datetime" and isinstance(dtype, pl.Datetime) and dtype.time_zone:
            # Timezone-aware instants in the form the contract's parser reads back exactly.
            text = value.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        elif isinstance(dtype, pl.Struct):
            text = value.struct.json_encode()
        else:
            wrapped = pl.struct(value).struct.json_encode()
            text = wrapped.str.json_path_match(f"$.{column.name}")
        columns.append(text.alias(column.name))
        if dtype is not None and not pretyped:
            error = _parquet_type_error(column.name, column.type, dtype)
            if error is not None:
                errors.append(error)
    frame = table.select(columns).with_columns(
        pl.lit(None, dtype=pl.String).alias(RAW),
        pl.lit(str(path)).alias(SOURCE_FILE),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
        pl.lit(False).alias("_invalid"),
        (pl.coalesce(errors) if errors else pl.lit(None, dtype=pl.String)).alias(READ_ERROR),
    )
    return frame.select(_row_layout(dataset)), unknown


def _parquet_type_error(name: str, column_type: str, dtype: pl.DataType) -> pl.Expr | None:
    """The reason a Parquet column's value breaks the contract type, as ``check_line`` words it
    for the same value in a JSON line; None when the column's type cannot break it."""
    text = pl.col(name)
    if column_type == "int" and dtype == pl.String:
        return pl.when(text.is_not_null()).then(
            pl.format(f"{name} is not an integer: '{{}}'", text)
        )
    if column_type == "str" and dtype != pl.String:
        return pl.when(text.is_not_null()).then(pl.format(f"{name} is not a string: '{{}}'", text))
    if column_type == "json":
        # Text columns are how most writers store JSON: they must hold an object.
        is_object = (
            text.str.strip_chars().str.starts_with("{")
            & text.str.json_path_match("$").is_not_null()
        )
        has_nul = text.str.contains(r"\u0000", literal=True) | text.str.contains(
            "\x00", literal=True
        )
        return (
            pl.when(text.is_null())
            .then(pl.lit(None, dtype=pl.String))
            .when(~is_object)
            .then(pl.format(f"{name} is not a JSON object: '{{}}'", text))
            .when(has_nul)
            .then(pl.lit(f"{name} contains a NUL character"))
        )
    return None


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


# An integer is written as one: ``12.5``, ``12.0`` or ``1e3`` are not integers (never truncated).
_INTEGER_TEXT = r"^[+-]?[0-9]+$"
# PostgreSQL's timestamps and ISO-8601's four-digit years: years 1 to 9999.
_FIRST_INSTANT = datetime(1, 1, 1, tzinfo=UTC)
_LAST_INSTANT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _typed(column_type: str, name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    if column_type == "int":
        return pl.when(text.str.contains(_INTEGER_TEXT)).then(text.cast(pl.Int64, strict=False))
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


def _typed_column(frame: pl.DataFrame, column_type: str, name: str, pretyped: bool) -> pl.Expr:
    """The typed value of a column; rows decoded already typed keep their value as it is."""
    if not pretyped:
        return _typed(column_type, name).alias(f"__{name}")
    if frame[name].null_count() == frame.height:
        return pl.col(f"__{name}")
    return pl.coalesce(pl.col(f"__{name}"), _typed(column_type, name)).alias(f"__{name}")


def _type_errors(dataset: LandingDataset) -> list[tuple[pl.Expr, pl.Expr]]:
    """(is-bad, reason) pairs for values present but not of the contract's type, or of it but
    outside what the column can hold (64-bit integers, finite numbers, years 1 to 9999)."""
    rules = []
    for column in dataset.columns:
        if column.type not in ("int", "float", "datetime"):
            continue
        name, value = column.name, pl.col(f"__{column.name}")
        present = pl.col(name).is_not_null() & (pl.col(name).str.strip_chars() != "")
        expected = {
            "int": "an integer",
            "float": "a number",
            "datetime": "an ISO-8601 timestamp with offset",
        }[column.type]
        not_typed = pl.format(f"{name} is not {expected}: '{{}}'", pl.col(name))
        out_of_range = pl.format(f"{name} is out of range: '{{}}'", pl.col(name))
        if column.type == "int":
            # Integer text that does not fit in 64 bits is out of range rather than no integer.
            reason = (
                pl.when(pl.col(name).str.strip_chars().str.contains(_INTEGER_TEXT))
                .then(out_of_range)
                .otherwise(not_typed)
            )
            rules.append((present & value.is_null(), reason))
        elif column.type == "float":
            rules.append((present & value.is_null(), not_typed))
            rules.append(
                (value.is_infinite() | value.is_nan(), pl.lit(f"{name} is not a finite number"))
            )
        else:
            rules.append((present & value.is_null(), not_typed))
            rules.append((~value.is_between(_FIRST_INSTANT, _LAST_INSTANT), out_of_range))
    return rules


def _text_errors(dataset: LandingDataset) -> list[tuple[pl.Expr, pl.Expr]]:
    """(is-bad, reason) pairs for text that PostgreSQL refuses whatever the column: a NUL."""
    return [
        (
            pl.col(c.name).str.contains("\x00", literal=True),
            pl.lit(f"{c.name} contains a NUL character"),
        )
        for c in dataset.columns
        if c.type in ("str", "datetime", "str_list", "json")
    ]


# Text that an index or a downstream column limits: B-tree keys must stay far below PostgreSQL's
# 2704-byte entry limit (``interaction_id`` is the primary key; ``app.events`` indexes ``city``,
# ``category`` and ``external_id``, and checks the last is at most 200 characters; ``app.users``
# indexes the e-mail), and search documents hold at most 1 MB.
_MAX_CHARS = {
    "interactions": {"interaction_id": 200, "model_version": 200},
    "recommendation_feedback": {"model_version": 200},
    "events": {
        "title": 200,
        "description": 100_000,
        "category": 200,
        "venue_name": 500,
        "city": 200,
        "external_id": 200,
        "timezone": 64,
        "online_url": 2000,
        "image_url": 2000,
    },
    "users": {"email": 320, "name": 500, "home_city": 200},
}
# ``capacity`` and ``position`` are PostgreSQL integers; ``price`` a numeric(10, 2), rounded to
# cents.
_MAX_INTEGER = 2**31 - 1
_UUID = r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"
_MAX_PRICE = 99_999_999.994


def _length_rules(dataset: LandingDataset) -> list[tuple[pl.Expr, str]]:
    return [
        (pl.col(f"__{name}").str.len_chars() > limit, f"{name} is longer than {limit} characters")
        for name, limit in _MAX_CHARS.get(dataset.name, {}).items()
    ]


def _domain_rules(dataset: LandingDataset, now: datetime) -> list[tuple[pl.Expr, str]]:
    """Business rules of each dataset, on typed columns (prefixed ``__``)."""

    def typed(name: str) -> pl.Expr:
        return pl.col(f"__{name}")

    def outside(name: str, low: float, high: float) -> pl.Expr:
        return typed(name).is_not_null() & ~typed(name).is_between(low, high)

    def not_a_url(name: str) -> pl.Expr:
        return typed(name).is_not_null() & ~typed(name).str.contains(r"^https?://\S+$")

    if dataset.name == "interactions":
        return [
            (~typed("type").is_in(INTERACTION_TYPES), "type is not an accepted interaction type"),
            (~typed("source").is_in(INTERACTION_SOURCES), "source is not an accepted source"),
            (typed("timestamp") > pl.lit(now), "timestamp is in the future"),
            (typed("user_id") <= 0, "user_id must be positive"),
            (typed("event_id") <= 0, "event_id must be positive"),
        ]
    if dataset.name == "recommendation_feedback":
        return [
            (~typed("feedback_id").str.contains(_UUID), "feedback_id is not a UUID"),
            (~typed("action").is_in(FEEDBACK_ACTIONS), "action is not an accepted feedback action"),
            (typed("position") < 0, "position is negative"),
            (typed("position") > _MAX_INTEGER, f"position is larger than {_MAX_INTEGER}"),
            (typed("occurred_at") > pl.lit(now), "occurred_at is in the future"),
            (typed("user_id") <= 0, "user_id must be positive"),
            (typed("event_id") <= 0, "event_id must be positive"),
        ]
    if dataset.name == "organizer_follows":
        return [
            (typed("user_id") <= 0, "user_id must be positive"),
            (typed("organizer_id") <= 0, "organizer_id must be positive"),
            (typed("user_id") == typed("organizer_id"), "a user cannot follow themselves"),
            (typed("followed_at") > pl.lit(now), "followed_at is in the future"),
        ]
    if dataset.name == "events":
        return [
            (~typed("status").is_in(EVENT_STATUSES), "status is not an accepted event status"),
            (typed("ends_at") <= typed("starts_at"), "ends_at is not after starts_at"),
            (typed("capacity") < 0, "capacity is negative"),
            (typed("price") < 0, "price is negative"),
            (typed("price") > _MAX_PRICE, "price is too large (at most 99999999.99)"),
            (typed("capacity") > _MAX_INTEGER, f"capacity is larger than {_MAX_INTEGER}"),
            (typed("currency").str.len_chars() != 3, "currency is not a 3-letter code"),
            (outside("lat", -90, 90), "lat is out of range"),
            (outside("lng", -180, 180), "lng is out of range"),
            (typed("event_id") <= 0, "event_id must be positive"),
            (
                typed("timezone").is_not_null()
                & ~typed("timezone").is_in(sorted(time_zone_names())),
                "timezone is not an IANA time zone of a place",
            ),
            (
                typed("attendance_mode").is_not_null()
                & ~typed("attendance_mode").is_in(ATTENDANCE_MODES),
                "attendance_mode is not in_person, online or hybrid",
            ),
            (not_a_url("online_url"), "online_url is not an http(s) URL"),
            (not_a_url("image_url"), "image_url is not an http(s) URL"),
            (
                typed("online_url").is_not_null() & (typed("attendance_mode") == "in_person"),
                "online_url is for online and hybrid events only",
            ),
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
    pretyped = {c.name for c in dataset.columns if f"__{c.name}" in frame.columns}
    typed = frame.with_columns(
        *[_typed_column(frame, c.type, c.name, c.name in pretyped) for c in dataset.columns]
    )
    rules: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col(RAW).str.contains(_INVALID_UTF8, literal=True), pl.lit("invalid UTF-8")),
        (pl.col("_invalid"), pl.lit("not a valid JSON object (malformed or truncated line)")),
        (pl.col(READ_ERROR).is_not_null(), pl.col(READ_ERROR)),
    ]
    for column in dataset.columns:
        if column.required:
            missing = pl.col(column.name).is_null() | (pl.col(column.name).str.strip_chars() == "")
            if column.name in pretyped:
                missing = missing & pl.col(f"__{column.name}").is_null()
            rules.append((missing, pl.lit(f"missing required field {column.name}")))
    rules.extend(_type_errors(dataset))
    rules.extend(_text_errors(dataset))
    rules.extend((bad, pl.lit(reason)) for bad, reason in _length_rules(dataset))
    rules.extend((bad, pl.lit(reason)) for bad, reason in _domain_rules(dataset, now))
    rules.extend((bad, pl.lit(reason)) for bad, reason in extra_rules)
    for column, ids in (known_ids or {}).items():
        unknown = ~pl.col(f"__{column}").is_in(ids.implode())
        rules.append((unknown, pl.format(f"unknown {column} {{}}", pl.col(f"__{column}"))))

    # Most rows pass: flag the failing ones first, and name a reason only for those.
    failing = pl.any_horizontal([bad.fill_null(False) for bad, _ in rules])
    checked = typed.with_columns(failing.alias("_failing"))
    reason = pl.lit(None, dtype=pl.String)
    for bad, text in reversed(rules):
        reason = pl.when(bad.fill_null(False)).then(text).otherwise(reason)
    failures = checked.filter(pl.col("_failing"))
    rejected = failures.with_columns(reason.alias(REASON)).select(SOURCE_FILE, LINE, REASON, RAW)
    good = checked.filter(~pl.col("_failing")) if failures.height else checked
    key = [f"__{name}" for name in dataset.key_columns]
    if order_by is not None:
        good = good.sort(f"__{order_by}", descending=True, nulls_last=True, maintain_order=True)
    # Counting distinct keys is cheaper than de-duplicating; most batches have no duplicate.
    if order_by is None and len(key) == 1 and good[key[0]].n_unique() == good.height:
        deduplicated = good
    else:
        deduplicated = good.unique(subset=key, keep="first", maintain_order=True)
    duplicates = good.height - deduplicated.height
    result = deduplicated.select(
        SOURCE_FILE, LINE, *[pl.col(f"__{c.name}").alias(c.name) for c in dataset.columns]
    )
    return ParsedBatch(result, _with_records(rejected), duplicates, rows_read, unknown_columns)


def _with_records(rejected: pl.DataFrame) -> pl.DataFrame:
    """Fill the text of rejected lines that were decoded without it, from their files."""
    missing = rejected.filter(pl.col(RAW).is_null() & pl.col(SOURCE_FILE).is_not_null())
    if missing.is_empty():
        return rejected
    files = [Path(f) for f in missing[SOURCE_FILE].unique(maintain_order=True).to_list()]
    texts = [read_lines([f for f in files if f.suffix != ".parquet"])]
    for path in (f for f in files if f.suffix == ".parquet"):
        texts.append(
            pl.read_parquet(path).select(
                pl.struct(pl.all()).struct.json_encode().alias(RAW),
                pl.lit(str(path)).alias(SOURCE_FILE),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
            )
        )
    lines = pl.concat([t.select(RAW, SOURCE_FILE, LINE) for t in texts]).rename({RAW: "_text"})
    return (
        rejected.join(lines, on=[SOURCE_FILE, LINE], how="left", maintain_order="left")
        .with_columns(pl.coalesce(RAW, "_text").alias(RAW))
        .select(rejected.columns)
    )
