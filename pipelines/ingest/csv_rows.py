"""Reading a landed CSV file record by record, so that a malformed record costs itself only.

A quoted field may span lines, so one unbalanced quote would otherwise swallow the rest of the
file (or make a strict reader give up on all of it). Each record is parsed from the line it
starts on; when it is malformed (an unbalanced or stray quote, a NUL byte, a field count other
than the header's) only that first line is reported, with its number, and reading resumes on the
next line. Invalid UTF-8 is replaced (and later rejected by its replacement character); blank
lines are not records.

Most files need none of that: when every line is a complete record of plain or fully quoted
fields, the lines are checked in one vectorised pass (field counts) and parsed by Polars' CSV
reader, which gives the same fields. Any other file is read record by record by Python's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

# A line that is one complete record: each field plain (no quote, comma or carriage return) or
# quoted whole (with doubled quotes inside), separated by commas.
_FIELD = r'(?:"(?:[^"]|"")*"|[^",\r]*)'
_SIMPLE_RECORD = rf"^{_FIELD}(?:,{_FIELD})*$"
_QUOTED_FIELD = r'"(?:[^"]|"")*"'


@dataclass(frozen=True)
class CsvColumns:
    """The names of the columns ``read_csv_frame`` adds beside the header's."""

    line: str
    text: str
    error: str


class _Lines:
    """The lines of a text, from a position that can be moved back (csv reads from it)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _physical_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only (``str.splitlines`` also splits on characters CSV keeps)."""
    lines = text.split("\n")
    ended = [line + "\n" for line in lines[:-1]]
    return ended + ([lines[-1]] if lines[-1] else [])


def _field_count_error(fields: int, header: int) -> str:
    return f"malformed CSV record: {fields} fields where the header has {header}"


def _records(text: str) -> tuple[list[str], list[tuple[int, str, list[str] | None, str | None]]]:
    """The header and every record (line, text, fields or None, reason or None), read by
    Python's CSV reader record by record, resuming after a malformed one on its next line."""
    source = _Lines(_physical_lines(text))
    reader = csv.reader(source, strict=True)
    header: list[str] | None = None
    header_error: str | None = None
    records: list[tuple[int, str, list[str] | None, str | None]] = []
    while source.position < len(source.lines):
        start = source.position
        line_text = source.lines[start]
        if not line_text.strip("\r\n"):
            source.position += 1
            continue
        try:
            fields: list[str] | None = next(reader)
            error = None
        except csv.Error as exc:
            fields, error = None, f"malformed CSV record ({exc})"
        except StopIteration:
            break
        if header is None:
            header = [name.strip() for name in fields or []]
            header_error = f"the CSV header is malformed: {error}" if error else None
            if error is not None:
                source.position = start + 1
            continue
        if header_error is not None:
            error = header_error
        elif fields is not None and len(fields) != len(header):
            error = _field_count_error(len(fields), len(header))
        if error is not None:
            # Resume on the next line: what followed an unbalanced quote is read again.
            source.position = start + 1
            records.append((start + 1, line_text.rstrip("\r\n"), None, error))
            continue
        record_text = "".join(source.lines[start : source.position]).rstrip("\r\n")
        records.append((start + 1, record_text, fields, None))
    return header or [], records


def _frame_of_records(text: str, columns: CsvColumns) -> tuple[list[str], pl.DataFrame]:
    header, records = _records(text)
    names = list(dict.fromkeys(header))
    position = {name: header.index(name) for name in names}
    values: dict[str, list[str | None]] = {name: [] for name in names}
    for _, _, fields, _ in records:
        for name in names:
            values[name].append(fields[position[name]] or None if fields is not None else None)
    frame = pl.DataFrame(
        {
            **{name: pl.Series(name, v, dtype=pl.String) for name, v in values.items()},
            columns.line: pl.Series([r[0] for r in records], dtype=pl.Int64),
            columns.text: pl.Series([r[1] for r in records], dtype=pl.String),
            columns.error: pl.Series([r[3] for r in records], dtype=pl.String),
        }
    )
    return names, frame


def _frame_of_simple_lines(text: str, columns: CsvColumns) -> tuple[list[str], pl.DataFrame] | None:
    """The vectorised reading, or None when some line is not a simple complete record (or the
    header repeats a name): then only the record-by-record reading is exact."""
    lines = pl.DataFrame({columns.text: text.split("\n")}).with_row_index(columns.line, offset=1)
    lines = lines.with_columns(
        pl.col(columns.line).cast(pl.Int64), pl.col(columns.text).str.strip_suffix("\r")
    ).filter(pl.col(columns.text) != "")
    if lines.is_empty() or not lines[columns.text].str.contains(_SIMPLE_RECORD).all():
        return None
    header = next(csv.reader([lines[columns.text][0]]))
    names = [name.strip() for name in header]
    if len(set(names)) != len(names):
        return None
    records = lines.slice(1)
    unquoted = pl.col(columns.text).str.replace_all(_QUOTED_FIELD, "")
    counted = records.with_columns((unquoted.str.count_matches(",") + 1).alias("_fields"))
    good = counted.filter(pl.col("_fields") == len(names))
    parsed = (
        pl.read_csv(
            io.StringIO("\n".join(good[columns.text].to_list())),
            has_header=False,
            new_columns=names,
            infer_schema=False,
            quote_char='"',
        )
        if good.height
        else pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    )
    fields = parsed.with_columns(
        pl.when(pl.col(name) != "").then(pl.col(name)).alias(name) for name in names
    )
    good = pl.concat([good.drop("_fields"), fields], how="horizontal").with_columns(
        pl.lit(None, dtype=pl.String).alias(columns.error)
    )
    bad = counted.filter(pl.col("_fields") != len(names)).select(
        *[pl.lit(None, dtype=pl.String).alias(name) for name in names],
        columns.line,
        columns.text,
        pl.format(
            f"malformed CSV record: {{}} fields where the header has {len(names)}", "_fields"
        ).alias(columns.error),
    )
    order = [*names, columns.line, columns.text, columns.error]
    frame = pl.concat([good.select(order), bad.select(order)]).sort(columns.line)
    return names, frame


def read_csv_frame(path: Path, columns: CsvColumns) -> tuple[list[str], pl.DataFrame]:
    """The header's names (first of each) and the file's records as text columns, with the line
    each starts on, its text, and the reason it could not be read (empty cells are nulls)."""
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    return _frame_of_simple_lines(text, columns) or _frame_of_records(text, columns)
