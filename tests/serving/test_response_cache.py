"""The micro-cache computes a busy key once for all concurrent callers (single flight)."""

from __future__ import annotations

import asyncio

import pytest

from serving.cache import ResponseCache

pytestmark = pytest.mark.anyio


async def test_concurrent_misses_share_one_computation():
    cache = ResponseCache(ttl=60)
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"page"

    bodies = await asyncio.gather(*(cache.fetch("k", compute) for _ in range(50)))
    assert bodies == [b"page"] * 50
    assert calls == 1
    assert await cache.fetch("k", compute) == b"page"
    assert calls == 1


async def test_a_failed_computation_is_not_shared():
    cache = ResponseCache(ttl=60)
    attempts = 0

    async def compute() -> bytes:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.02)
        if attempts == 1:
            raise RuntimeError("first caller fails")
        return b"page"

    results = await asyncio.gather(
        *(cache.fetch("k", compute) for _ in range(5)), return_exceptions=True
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [b"page"] * 4


async def test_disabled_cache_computes_every_time():
    cache = ResponseCache(ttl=0)
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        return b"x"

    await asyncio.gather(*(cache.fetch("k", compute) for _ in range(3)))
    assert calls == 3


async def test_an_expired_busy_key_is_served_while_it_refreshes():
    cache = ResponseCache(ttl=0.05)
    versions = iter([b"v1", b"v2", b"v3"])
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return next(versions)

    assert await cache.fetch("k", compute) == b"v1"
    await asyncio.sleep(0.06)
    # Expired: the old body comes back at once, one refresh runs behind it.
    assert await asyncio.gather(*(cache.fetch("k", compute) for _ in range(5))) == [b"v1"] * 5
    await asyncio.sleep(0.02)
    assert calls == 2
    assert await cache.fetch("k", compute) == b"v2"
    # Past one more ttl without a request, the old body is not served any more.
    await asyncio.sleep(0.11)
    assert await cache.fetch("k", compute) == b"v3"
    assert calls == 3


async def test_a_failed_refresh_keeps_nothing_and_is_retried():
    cache = ResponseCache(ttl=0.05)
    bodies = iter([b"v1"])

    async def compute() -> bytes:
        body = next(bodies, None)
        if body is None:
            raise RuntimeError("database unavailable")
        return body

    assert await cache.fetch("k", compute) == b"v1"
    await asyncio.sleep(0.06)
    assert await cache.fetch("k", compute) == b"v1"  # stale, refresh fails behind it
    await asyncio.sleep(0.06)
    with pytest.raises(RuntimeError):
        await cache.fetch("k", compute)  # stale window over: the caller computes and sees the error
