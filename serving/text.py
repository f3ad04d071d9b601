"""Text types for request bodies and query strings.

PostgreSQL text cannot hold NUL characters; refusing them at the edge turns what would be a
database error into a plain 422.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNulStr = Annotated[str, AfterValidator(_no_nul)]
