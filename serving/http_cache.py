"""Conditional GETs and cache lifetimes of public reads.

A public read carries an ``ETag`` computed from the exact bytes it sends, so a client (or a
proxy) that sends it back in ``If-None-Match`` gets a body-less 304 while nothing changed, and
``Cache-Control`` says how long it may reuse the answer without asking. A representation with a
version of its own (an event) puts that version first in its tag, so the same tag also serves
``If-Match`` for optimistic concurrency.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

# Lists and search are micro-cached for 2 s by the workers anyway; a client may keep them a
# little longer, then revalidate for free with the tag.
PUBLIC_LIST_CACHING = "public, max-age=5"
PUBLIC_ITEM_CACHING = "public, max-age=5"
# Drafts and per-user answers: never stored by shared caches, always revalidated.
PRIVATE_CACHING = "private, no-cache"


def body_etag(body: bytes, version: int | None = None) -> str:
    """A strong tag of ``body``: ``"<version>-<digest>"`` when the resource has a version."""
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return f'"{version}-{digest}"' if version is not None else f'"{digest}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def matches_if_none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return _opaque(etag) in {_opaque(part) for part in header.split(",")}


def conditional(
    request: Request,
    body: bytes,
    *,
    cache_control: str,
    version: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` as JSON with its tag and lifetime, or a 304 when the client has it already."""
    etag = body_etag(body, version)
    sent = {**(headers or {}), "ETag": etag, "Cache-Control": cache_control}
    if matches_if_none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=sent)
    return Response(body, media_type="application/json", headers=sent)
