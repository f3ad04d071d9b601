"""Reading a landed CSV file record by record, so that a malformed record costs itself only.

A quoted field may span lines, so one unbalanced quote would otherwise swallow the rest of the
file (or make a strict reader give up on all of it). Each record is parsed from the line it
starts on; when it is malformed (an unbalanced or stray quote, a NUL byte, a field count other
than the header's) only that first line is reported, with its number, and reading resumes on the
next line. Invalid UTF-8 is replaced (and later rejected by its replacement character); blank
lines are not records.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CsvRecord:
    """One record of a CSV file: the line it starts on, its text, and its fields or the reason it
    could not be read."""

    line: int
    text: str
    fields: list[str] | None
    error: str | None


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


def read_csv_records(path: Path) -> tuple[list[str], list[CsvRecord]]:
    """The header and every record of a CSV file, numbered by the line each starts on."""
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    source = _Lines(_physical_lines(text))
    reader = csv.reader(source, strict=True)
    header: list[str] | None = None
    header_error: str | None = None
    records: list[CsvRecord] = []
    while source.position < len(source.lines):
        start = source.position
        line_text = source.lines[start]
        if not line_text.strip("\r\n"):
            source.position += 1
            continue
        try:
            fields = next(reader)
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
        elif error is None and fields is not None and len(fields) != len(header):
            error = f"malformed CSV record: {len(fields)} fields where the header has {len(header)}"
        if error is not None:
            # Resume on the next line: what followed an unbalanced quote is read again.
            source.position = start + 1
            records.append(CsvRecord(start + 1, line_text.rstrip("\r\n"), None, error))
            continue
        record_text = "".join(source.lines[start : source.position]).rstrip("\r\n")
        records.append(CsvRecord(start + 1, record_text, fields, None))
    return header or [], records
