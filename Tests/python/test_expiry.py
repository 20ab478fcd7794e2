"""Deadlines through redis-py: SETEX, EXPIRE and friends, and keys really expiring."""

import time

import pytest


def test_setex_ttl(r, key):
    k = key("k")
    assert r.setex(k, 100, "v") is True
    assert r.get(k) == b"v"
    assert 98 <= r.ttl(k) <= 100
    assert r.psetex(k, 100000, "w") is True
    assert r.get(k) == b"w"
    assert 98000 <= r.pttl(k) <= 100000


def test_ttl_of_missing_and_persistent_keys(r, key):
    k = key("k")
    assert r.ttl(key("missing")) == -2
    assert r.pttl(key("missing")) == -2
    r.set(k, "v")
    assert r.ttl(k) == -1
    assert r.pttl(k) == -1


def test_expire_pexpire_persist(r, key):
    k = key("k")
    assert r.expire(k, 100) is False
    r.set(k, "v")
    assert r.expire(k, 100) is True
    assert 98 <= r.ttl(k) <= 100
    assert r.pexpire(k, 50000) is True
    assert 49000 <= r.pttl(k) <= 50000
    assert r.persist(k) is True
    assert r.ttl(k) == -1
    assert r.persist(k) is False
    assert r.persist(key("missing")) is False


def test_expireat_and_expiretime(r, key):
    k = key("k")
    r.set(k, "v")
    at = int(time.time()) + 1000
    assert r.expireat(k, at) is True
    assert r.expiretime(k) == at
    assert r.pexpiretime(k) == at * 1000
    assert r.pexpireat(k, at * 1000 + 500) is True
    assert r.pexpiretime(k) == at * 1000 + 500
    assert r.expiretime(key("missing")) == -2
    r.persist(k)
    assert r.expiretime(k) == -1


def test_expire_options(r, key):
    k = key("k")
    r.set(k, "v")
    # NX: only when no deadline; XX: only when one exists; GT/LT compare with it.
    assert r.expire(k, 100, xx=True) is False
    assert r.expire(k, 100, nx=True) is True
    assert r.expire(k, 200, nx=True) is False
    assert r.expire(k, 50, gt=True) is False
    assert r.expire(k, 200, gt=True) is True
    assert r.expire(k, 300, lt=True) is False
    assert r.expire(k, 10, lt=True) is True
    assert 8 <= r.ttl(k) <= 10


def test_expire_in_the_past_deletes(r, key):
    k = key("k")
    r.set(k, "v")
    assert r.expire(k, -1) is True
    assert r.exists(k) == 0
    assert r.get(k) is None
    r.set(k, "v")
    assert r.pexpireat(k, 1) is True
    assert r.exists(k) == 0


def test_keys_really_expire(r, key):
    short, longer, plain = key("short"), key("longer"), key("plain")
    r.set(short, "v", px=150)
    r.set(longer, "v", px=60000)
    r.set(plain, "v")
    assert r.get(short) == b"v"
    time.sleep(0.4)
    # A read never returns an expired key, whatever the background expiry has done.
    assert r.get(short) is None
    assert r.exists(short) == 0
    assert r.ttl(short) == -2
    assert r.get(longer) == b"v"
    assert r.get(plain) == b"v"


def test_expired_keys_leave_the_keyspace(clients, key):
    c = clients(db=13)
    c.flushdb()
    for i in range(50):
        c.set(key(str(i)), i, px=300)
    c.set(key("stays"), "v")
    assert c.dbsize() == 51
    # Active expiry (no reads of these keys) brings DBSIZE down: usually within a second; the
    # wait is long so that a loaded machine cannot fail it.
    deadline = time.time() + 30
    while c.dbsize() != 1 and time.time() < deadline:
        time.sleep(0.1)
    assert c.dbsize() == 1
    assert c.keys("*") == [key("stays").encode()]
    c.flushdb()


def test_set_overwrite_clears_ttl(r, key):
    k = key("k")
    r.set(k, "v", ex=100)
    r.set(k, "w")
    assert r.ttl(k) == -1
    r.setex(k, 100, "x")
    r.getset(k, "y")
    assert r.ttl(k) == -1


@pytest.mark.parametrize("command", ["INCR", "APPEND", "SETRANGE"])
def test_modifying_keeps_ttl(r, key, command):
    k = key("k")
    r.set(k, "1", ex=100)
    if command == "INCR":
        r.incr(k)
    elif command == "APPEND":
        r.append(k, "0")
    else:
        r.setrange(k, 0, "2")
    assert 98 <= r.ttl(k) <= 100
