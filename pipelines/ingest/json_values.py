"""The JSON type of each field of a line, checked exactly: what text extraction cannot tell.

Extracting a field as text loses its JSON type (``"12"`` and ``12`` read alike) and re-serialises
objects in ways PostgreSQL may refuse. Lines read field by field are therefore also parsed here
with Python's ``json``, and every field is held to its contract type:

- integer fields take JSON integers in the 64-bit range: not ``12.5``, ``12.0``, ``"12"`` or
  ``true`` (CSV cells are text, so there ``12`` is the integer);
- number fields take finite JSON numbers, text and timestamp fields JSON strings, list fields
  an array of strings (or one string in the CSV cell form);
- JSON fields (``context``) take an object, whose strings hold no NUL character and no unpaired
  surrogate and whose numbers are finite: ``jsonb`` refuses those. Its value is then written out
  again exactly (escaped, numbers as given).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from core.contracts import Column

MALFORMED = "not a valid JSON object (malformed or truncated line)"
_INT64 = (-(2**63), 2**63 - 1)
_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "datetime": "an ISO-8601 timestamp with offset",
    "str_list": "a list of strings",
    "json": "a JSON object",
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _shown(value: Any) -> str:
    """A value as the reasons echo it: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_problem(column: Column, value: Any) -> str | None:
    """Why ``value`` is not of the column's contract type, or None when it is."""
    kind = column.type
    if kind == "int":
        if not _is_int(value):
            return f"{column.name} is not {_EXPECTED[kind]}: '{_shown(value)}'"
        if not _INT64[0] <= value <= _INT64[1]:
            return f"{column.name} is out of range: '{_shown(value)}'"
        return None
    if kind == "float":
        if not (_is_int(value) or isinstance(value, float)):
            return f"{column.name} is not {_EXPECTED[kind]}: '{_shown(value)}'"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{column.name} is not a finite number"
        return None
    if kind == "str_list":
        if isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            return None
        return f"{column.name} is not {_EXPECTED[kind]}: '{_shown(value)}'"
    if kind == "json":
        if not isinstance(value, dict):
            return f"{column.name} is not {_EXPECTED[kind]}: '{_shown(value)}'"
        problem = _jsonb_problem(value)
        return f"{column.name} {problem}" if problem else None
    if not isinstance(value, str):
        return f"{column.name} is not {_EXPECTED.get(kind, 'a string')}: '{_shown(value)}'"
    return None


def _jsonb_problem(value: Any) -> str | None:
    """What in a JSON value ``jsonb`` would refuse, or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "contains a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "contains an unpaired surrogate"
        elif isinstance(item, float) and not math.isfinite(item):
            return "holds a number out of range"
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def check_line(text: str, columns: Sequence[Column]) -> tuple[str | None, dict[str, str]]:
    """The first contract-type problem of a JSON line, and its JSON fields written out exactly.

    A line that is not an object gives no problem here (the missing fields speak for it).
    """
    try:
        record = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return MALFORMED, {}
    if not isinstance(record, dict):
        return None, {}
    exact: dict[str, str] = {}
    for column in columns:
        value = record.get(column.name)
        if value is None:
            continue
        problem = _type_problem(column, value)
        if problem is not None:
            return problem, {}
        if column.type == "json":
            exact[column.name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return None, exact
