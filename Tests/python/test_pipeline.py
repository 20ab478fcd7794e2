"""Pipelines without MULTI/EXEC: many commands in one write, replies in order."""

import pytest
import redis


def test_pipeline_1000_commands(r, key):
    p = r.pipeline(transaction=False)
    for i in range(250):
        p.set(key(f"k{i}"), f"v{i}")
        p.get(key(f"k{i}"))
        p.incr(key("counter"))
        p.get(key(f"missing{i}"))
    results = p.execute()
    assert len(results) == 1000
    for i in range(250):
        set_ok, value, counter, missing = results[4 * i:4 * i + 4]
        assert set_ok is True
        assert value == f"v{i}".encode()
        assert counter == i + 1
        assert missing is None
    assert r.get(key("counter")) == b"250"


def test_pipeline_mixed_types_and_errors(r, key):
    k = key("k")
    p = r.pipeline(transaction=False)
    p.set(k, "text")
    p.incr(k)            # fails: not an integer
    p.strlen(k)
    p.mget([k, key("missing")])
    p.exists(k)
    results = p.execute(raise_on_error=False)
    assert results[0] is True
    assert isinstance(results[1], redis.ResponseError)
    assert "not an integer" in str(results[1])
    assert results[2:] == [4, [b"text", None], 1]


def test_pipeline_error_raises_by_default(r, key):
    k = key("k")
    r.set(k, "text")
    p = r.pipeline(transaction=False)
    p.incr(k)
    p.get(k)
    with pytest.raises(redis.ResponseError):
        p.execute()
    # The connection stays usable after the failed pipeline.
    assert r.get(k) == b"text"


def test_large_pipeline_of_big_values(r, key):
    value = b"x" * 100_000
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set(key(f"b{i}"), value)
    for i in range(100):
        p.get(key(f"b{i}"))
    results = p.execute()
    assert results[:100] == [True] * 100
    assert results[100:] == [value] * 100
