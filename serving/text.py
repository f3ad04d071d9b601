"""Text types for request bodies and query strings.

PostgreSQL text holds neither NUL characters nor lone UTF-16 surrogates (JSON allows
``"\\ud800"``, which decodes to a string that has no UTF-8 form): refusing both at the edge turns
what would be a database or encoding error into a plain 422.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def storable(value: str) -> str:
    """``value`` unchanged if PostgreSQL can store it as text; a ``ValueError`` otherwise."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain unpaired UTF-16 surrogates") from None
    return value


StorableStr = Annotated[str, AfterValidator(storable)]
"""Text PostgreSQL can store. Constraints with a ``pattern`` go before :data:`STORABLE` instead
(``Annotated[str, Field(pattern=...), STORABLE]``): after a validator, pydantic keeps enforcing
a pattern but leaves it out of the JSON schema."""

STORABLE = AfterValidator(storable)
