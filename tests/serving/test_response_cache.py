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
