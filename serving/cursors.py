"""Opaque cursors for keyset paging: the sort key of the last item of a page, encoded.

A cursor names a position in an order, not a count of rows to skip, so pages stay stable while
rows are inserted before the position (an offset would repeat or skip items then). It carries
the name of the order it belongs to; a cursor of another order, or one that does not decode,
is a 422 rather than a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from serving.errors import ApiError

# One key value: what the orders of the API sort by.
KeyValue = int | float | str | datetime | None


def encode_cursor(order: str, key: Sequence[KeyValue]) -> str:
    """The cursor that resumes ``order`` after the item whose sort key is ``key``."""
    values = [{"t": value.isoformat()} if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(orjson.dumps([order, *values])).decode().rstrip("=")


def _invalid() -> ApiError:
    return ApiError(422, "invalid_cursor", "cursor is not one this list handed out")


def decode_cursor(token: str, order: str, types: Sequence[type]) -> list[Any]:
    """The sort key in ``token``, checked against ``order`` and the key's ``types``.

    A key value may be null (prices are); datetimes come back time-zone aware.
    """
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if not isinstance(raw, list) or len(raw) != len(types) + 1 or raw[0] != order:
        raise _invalid()
    key: list[Any] = []
    for value, expected in zip(raw[1:], types, strict=True):
        key.append(_key_value(value, expected))
    return key


def _key_value(value: object, expected: type) -> Any:
    if value is None:
        return None
    if expected is datetime:
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            raise _invalid()
        try:
            moment = datetime.fromisoformat(value["t"])
        except ValueError:
            raise _invalid() from None
        if moment.tzinfo is None:
            raise _invalid()
        return moment
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not expected or (expected is int and not -(2**63) <= value < 2**63):
        raise _invalid()
    return value
