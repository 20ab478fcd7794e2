"""Libraries built on Redis scripts, used unchanged: `limits` (its rate-limit strategies are Lua
scripts), fastapi-cache2's clear() (an EVAL over KEYS), aiocache's RedLock and OptimisticLock
(release and compare-and-set scripts). Tests/run.sh installs them in both venvs."""

import asyncio
import uuid

from limits import parse, storage, strategies

from conftest import HOST, PORT_TEXT

URL = f"redis://{HOST}:{PORT_TEXT}"


def unique(prefix):
    return f"{prefix}:{uuid.uuid4().hex[:10]}"


def test_limits_fixed_window():
    limiter = strategies.FixedWindowRateLimiter(storage.storage_from_string(URL))
    limit = parse("3/minute")
    who = unique("fw")
    assert [limiter.hit(limit, who) for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(limit, who)
    stats = limiter.get_window_stats(limit, who)
    assert stats.remaining == 0
    limiter.clear(limit, who)
    assert limiter.hit(limit, who)


def test_limits_sliding_window_counter():
    limiter = strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(URL))
    limit = parse("2/second")
    who = unique("swc")
    assert [limiter.hit(limit, who) for _ in range(3)] == [True, True, False]
    assert limiter.get_window_stats(limit, who).remaining == 0
    limiter.clear(limit, who)
    assert limiter.hit(limit, who)


def test_fastapi_cache_clear():
    from fastapi_cache import FastAPICache
    from fastapi_cache.backends.redis import RedisBackend
    from redis import asyncio as aioredis

    async def main():
        r = aioredis.from_url(URL)
        try:
            ns = unique("ns")
            prefix = unique("app")
            backend = RedisBackend(r)
            FastAPICache.init(backend, prefix=prefix)
            for i in range(5):
                await backend.set(f"{prefix}:{ns}:k{i}", b"v", expire=60)
            other = f"{prefix}:{unique('other')}:k"
            await backend.set(other, b"keep", expire=60)
            assert await backend.get(f"{prefix}:{ns}:k1") == b"v"
            # clear() runs one EVAL that deletes every key of the namespace (KEYS, then DEL).
            await FastAPICache.clear(namespace=ns)
            assert [await backend.get(f"{prefix}:{ns}:k{i}") for i in range(5)] == [None] * 5
            assert await backend.get(other) == b"keep"
        finally:
            await r.aclose() if hasattr(r, "aclose") else await r.close()

    asyncio.run(main())


def test_aiocache_redlock_and_optimistic_lock():
    from aiocache import Cache
    from aiocache.lock import OptimisticLock, OptimisticLockError, RedLock

    async def main():
        cache = Cache(Cache.REDIS, endpoint=HOST, port=int(PORT_TEXT), namespace=unique("aio"))
        try:
            key = "resource"
            async with RedLock(cache, key, lease=5):
                assert await cache.exists(key + "-lock")
            # Released by its script, not left to the lease.
            assert not await cache.exists(key + "-lock")

            await cache.set("counter", 1)
            async with OptimisticLock(cache, "counter") as lock:
                await lock.cas(2)
            assert await cache.get("counter") == 2
            try:
                async with OptimisticLock(cache, "counter") as lock:
                    await cache.set("counter", 10)
                    await lock.cas(3)
                raise AssertionError("cas succeeded on a changed value")
            except OptimisticLockError:
                pass
            assert await cache.get("counter") == 10
        finally:
            await cache.close()

    asyncio.run(main())
