"""Lua scripting through redis-py: its Lock (which releases and extends with EVALSHA scripts),
register_script (EVALSHA, falling back to SCRIPT LOAD on NOSCRIPT), and functions."""

import asyncio
import threading
import time

import pytest
import redis
import redis.asyncio
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError, ResponseError

from conftest import DEFAULT_PROTOCOL, HOST, PORT_TEXT


def test_lock_acquire_release_extend_reacquire(r, key):
    lock = r.lock(key("lock"), timeout=5)
    assert lock.acquire(blocking=False)
    assert r.exists(key("lock")) == 1
    # A second owner cannot take it while it is held.
    other = r.lock(key("lock"), timeout=5)
    assert not other.acquire(blocking=False)
    assert lock.extend(10)
    assert 9000 < r.pttl(key("lock")) <= 15000
    assert lock.extend(2, replace_ttl=True)
    assert r.pttl(key("lock")) <= 2000
    assert lock.owned()
    assert lock.locked()
    lock.release()
    # release() ran the release script: the key is gone, not left to its TTL.
    assert r.exists(key("lock")) == 0
    assert not lock.owned()
    assert other.acquire(blocking=False)
    stranger = r.lock(key("lock"), timeout=5)
    stranger.local.token = b"not-the-token"
    with pytest.raises(LockNotOwnedError):
        stranger.release()
    other.release()


def test_lock_release_of_another_owner_fails(r, key):
    lock = r.lock(key("lock"), timeout=5)
    assert lock.acquire(blocking=False)
    r.set(key("lock"), "someone-else")
    with pytest.raises(LockNotOwnedError):
        lock.extend(5)
    with pytest.raises(LockNotOwnedError):
        lock.reacquire()
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert r.get(key("lock")) == b"someone-else"


def test_lock_blocking_timeout_and_handover(r, key):
    lock = r.lock(key("lock"), timeout=5)
    assert lock.acquire()
    waiter = r.lock(key("lock"), timeout=5, blocking_timeout=0.3, sleep=0.02)
    t0 = time.monotonic()
    assert not waiter.acquire()
    assert time.monotonic() - t0 >= 0.25
    got = []

    def take():
        got.append(r.lock(key("lock"), timeout=5, sleep=0.02).acquire(blocking_timeout=5))

    t = threading.Thread(target=take)
    t.start()
    time.sleep(0.1)
    lock.release()
    t.join(10)
    assert got == [True]


def test_lock_context_manager(r, key):
    with r.lock(key("lock"), timeout=5):
        assert r.exists(key("lock")) == 1
    assert r.exists(key("lock")) == 0
    with pytest.raises(LockError):
        r.lock(key("lock")).release()


def test_lock_asyncio(key):
    async def main():
        c = redis.asyncio.Redis(host=HOST, port=int(PORT_TEXT), protocol=DEFAULT_PROTOCOL)
        try:
            lock = c.lock(key("alock"), timeout=5)
            assert await lock.acquire(blocking=False)
            assert not await c.lock(key("alock"), timeout=5).acquire(blocking=False)
            assert await lock.extend(5)
            await lock.release()
            assert await c.exists(key("alock")) == 0
            async with c.lock(key("alock"), timeout=5, blocking_timeout=1):
                assert await c.exists(key("alock")) == 1
            assert await c.exists(key("alock")) == 0
        finally:
            await c.aclose() if hasattr(c, "aclose") else await c.close()

    asyncio.run(main())


def test_register_script_loads_on_noscript(r, key):
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    r.script_flush()
    assert incr_by(keys=[key("n")], args=[5]) == 5
    assert incr_by(keys=[key("n")], args=[2]) == 7
    assert r.script_exists(incr_by.sha) == [True]
    with pytest.raises(NoScriptError):
        r.evalsha("0" * 40, 0)


def test_eval_conversions(r, key):
    assert r.eval("return {1, 'two', {3}}", 0) == [1, b"two", [3]]
    assert r.eval("return redis.status_reply('FINE')", 0) in (b"FINE", "FINE", True)
    with pytest.raises(ResponseError, match="MYERR boom"):
        r.eval("return redis.error_reply('MYERR boom')", 0)
    assert r.eval("return cjson.encode({a=1})", 0) == b'{"a":1}'
    r.set(key("s"), "v")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, key("s")) == b"v"
    with pytest.raises(ResponseError, match="Write commands are not allowed from read-only scripts"):
        r.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, key("s"))


def test_functions(r, key):
    lib = key("lib").replace(":", "_")
    code = f"#!lua name={lib}\nredis.register_function('{lib}_get', function(keys) return redis.call('GET', keys[1]) end)"
    assert r.function_load(code, replace=True) in (lib.encode(), lib)
    r.set(key("f"), "value")
    assert r.fcall(f"{lib}_get", 1, key("f")) == b"value"
    listed = r.function_list(library=lib)
    assert len(listed) == 1
    r.function_delete(lib)
    with pytest.raises(ResponseError, match="Function not found"):
        r.fcall(f"{lib}_get", 1, key("f"))
