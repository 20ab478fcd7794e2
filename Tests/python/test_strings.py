"""String commands through redis-py: counters, SET's options, ranges."""

import pytest
import redis


def test_incr_decr(r, key):
    k = key("counter")
    assert r.incr(k) == 1
    assert r.incr(k) == 2
    assert r.incrby(k, 10) == 12
    assert r.decr(k) == 11
    assert r.decrby(k, 20) == -9
    assert r.get(k) == b"-9"
    r.set(k, "not a number")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr(k)
    r.set(k, str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr(k)


def test_incrbyfloat(r, key):
    k = key("f")
    assert r.incrbyfloat(k, 1.5) == 1.5
    r.set(k, "10.5")
    assert r.incrbyfloat(k, 0.1) == pytest.approx(10.6)
    assert r.get(k) == b"10.6"
    assert r.incrbyfloat(k, -5) == pytest.approx(5.6)
    r.set(k, "3.0e3")
    assert r.incrbyfloat(k, 1) == 3001
    assert r.get(k) == b"3001"
    r.set(k, "abc")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.incrbyfloat(k, 1)


def test_set_nx_xx(r, key):
    k = key("k")
    assert r.set(k, "first", xx=True) is None
    assert r.get(k) is None
    assert r.set(k, "first", nx=True) is True
    assert r.set(k, "second", nx=True) is None
    assert r.get(k) == b"first"
    assert r.set(k, "third", xx=True) is True
    assert r.get(k) == b"third"
    assert r.setnx(k, "x") is False
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", k, "v", "NX", "XX")


def test_set_ex_px(r, key):
    k = key("k")
    assert r.set(k, "v", ex=100) is True
    assert 98 <= r.ttl(k) <= 100
    assert r.set(k, "v", px=50000) is True
    assert 49000 <= r.pttl(k) <= 50000
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'set' command"):
        r.execute_command("SET", k, "v", "EX", 0)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SET", k, "v", "EX", "soon")


def test_set_keepttl(r, key):
    k = key("k")
    r.set(k, "v1", ex=100)
    assert r.set(k, "v2", keepttl=True) is True
    assert r.get(k) == b"v2"
    assert 98 <= r.ttl(k) <= 100
    # A plain SET drops the deadline.
    r.set(k, "v3")
    assert r.ttl(k) == -1


def test_set_get_option(r, key):
    k = key("k")
    assert r.set(k, "one", get=True) is None
    assert r.set(k, "two", get=True) == b"one"
    assert r.get(k) == b"two"
    assert r.set(k, "three", nx=True, get=True) == b"two"
    assert r.get(k) == b"two"


def test_getex(r, key):
    k = key("k")
    assert r.getex(key("missing"), ex=10) is None
    r.set(k, "v")
    assert r.getex(k, ex=100) == b"v"
    assert 98 <= r.ttl(k) <= 100
    assert r.getex(k, px=200000) == b"v"
    assert 198000 <= r.pttl(k) <= 200000
    assert r.getex(k, persist=True) == b"v"
    assert r.ttl(k) == -1
    assert r.getex(k) == b"v"
    assert r.ttl(k) == -1


def test_getdel(r, key):
    k = key("k")
    r.set(k, "v")
    assert r.getdel(k) == b"v"
    assert r.get(k) is None
    assert r.getdel(k) is None


def test_getset(r, key):
    k = key("k")
    assert r.getset(k, "a") is None
    assert r.getset(k, "b") == b"a"


def test_append_strlen(r, key):
    k = key("k")
    assert r.append(k, "Hello") == 5
    assert r.append(k, " World") == 11
    assert r.get(k) == b"Hello World"
    assert r.strlen(k) == 11
    assert r.strlen(key("missing")) == 0


def test_getrange(r, key):
    k = key("k")
    r.set(k, "This is a string")
    assert r.getrange(k, 0, 3) == b"This"
    assert r.getrange(k, -3, -1) == b"ing"
    assert r.getrange(k, 0, -1) == b"This is a string"
    assert r.getrange(k, 10, 100) == b"string"
    assert r.getrange(k, 5, 3) == b""
    assert r.getrange(key("missing"), 0, 10) == b""


def test_setrange(r, key):
    k = key("k")
    r.set(k, "Hello World")
    assert r.setrange(k, 6, "Redis") == 11
    assert r.get(k) == b"Hello Redis"
    k2 = key("padded")
    assert r.setrange(k2, 5, "x") == 6
    assert r.get(k2) == b"\x00\x00\x00\x00\x00x"
    with pytest.raises(redis.ResponseError, match="offset is out of range"):
        r.setrange(k2, -1, "x")


def test_decoded_responses(clients, key):
    c = clients(decode_responses=True)
    k = key("k")
    c.set(k, "héllo wörld")
    assert c.get(k) == "héllo wörld"
    assert c.strlen(k) == len("héllo wörld".encode())
    assert c.mget([k, key("missing")]) == ["héllo wörld", None]
