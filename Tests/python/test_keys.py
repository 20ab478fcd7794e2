"""Keyspace commands the way applications call them through redis-py."""

import pytest
import redis


def test_ping(r):
    assert r.ping() is True


def test_set_get_delete(r, key):
    k = key("k")
    assert r.set(k, "value") is True
    assert r.get(k) == b"value"
    assert r.delete(k) == 1
    assert r.get(k) is None
    assert r.delete(k) == 0


def test_get_missing_key(r, key):
    assert r.get(key("never-set")) is None


def test_mset_mget(r, key):
    a, b, c = key("a"), key("b"), key("c")
    assert r.mset({a: "1", b: "2"}) is True
    assert r.mget([a, b, c]) == [b"1", b"2", None]
    assert r.mget(c) == [None]


def test_exists_and_type(r, key):
    a, b, missing = key("a"), key("b"), key("missing")
    r.set(a, "x")
    r.set(b, "y")
    assert r.exists(a) == 1
    assert r.exists(missing) == 0
    # EXISTS counts every argument, repeats included.
    assert r.exists(a, b, missing, a) == 3
    assert r.type(a) == b"string"
    assert r.type(missing) == b"none"


def test_keys_pattern(r, key):
    names = ["user:1", "user:2", "user:10", "order:1", "usr:3"]
    for n in names:
        r.set(key(n), n)
    p = key.prefix
    assert sorted(r.keys(p + "user:*")) == sorted(k.encode() for k in [p + "user:1", p + "user:2", p + "user:10"])
    assert sorted(r.keys(p + "user:?")) == sorted(k.encode() for k in [p + "user:1", p + "user:2"])
    assert sorted(r.keys(p + "us[e]r:*")) == sorted(k.encode() for k in [p + "user:1", p + "user:2", p + "user:10"])
    assert sorted(r.keys(p + "*:1")) == sorted(k.encode() for k in [p + "user:1", p + "order:1"])
    assert r.keys(p + "nothing*") == []
    assert len(r.keys(p + "*")) == len(names)


def test_delete_many(r, key):
    ks = [key(f"k{i}") for i in range(10)]
    for k in ks:
        r.set(k, "v")
    assert r.delete(*ks, key("missing")) == 10
    assert r.exists(*ks) == 0
    assert r.unlink(key("missing")) == 0


def test_rename(r, key):
    src, dst = key("src"), key("dst")
    r.set(src, "v", ex=100)
    r.set(dst, "old")
    assert r.rename(src, dst) is True
    assert r.get(src) is None
    assert r.get(dst) == b"v"
    # The deadline moves with the value.
    assert 0 < r.ttl(dst) <= 100
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename(key("missing"), dst)
    assert r.renamenx(dst, src) is True
    r.set(dst, "taken")
    assert r.renamenx(src, dst) is False


def test_copy(r, key):
    src, dst = key("src"), key("dst")
    r.set(src, "payload", ex=100)
    assert r.copy(src, dst) is True
    assert r.get(dst) == b"payload"
    assert 0 < r.ttl(dst) <= 100
    r.set(src, "changed")
    assert r.get(dst) == b"payload"
    # Without REPLACE an existing destination is left alone.
    assert r.copy(src, dst) is False
    assert r.get(dst) == b"payload"
    assert r.copy(src, dst, replace=True) is True
    assert r.get(dst) == b"changed"
    assert r.copy(key("missing"), dst) is False


def test_copy_to_other_db(r, clients, key):
    src = key("src")
    other = clients(db=12)
    other.delete(src)
    r.set(src, "x")
    assert r.copy(src, src, destination_db=12) is True
    assert other.get(src) == b"x"
    other.delete(src)


def test_select_via_db(r, clients, key):
    k = key("k")
    db1 = clients(db=1)
    assert db1.set(k, "in db1") is True
    assert db1.get(k) == b"in db1"
    assert r.get(k) is None
    assert r.exists(k) == 0
    db1.delete(k)


def test_select_out_of_range(r):
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 16)


def test_dbsize(clients, key):
    c = clients(db=10)
    assert c.flushdb() is True
    assert c.dbsize() == 0
    for i in range(25):
        c.set(key(str(i)), i)
    assert c.dbsize() == 25
    c.delete(key("0"))
    assert c.dbsize() == 24
    c.flushdb()


def test_flushdb_empties_only_its_db(clients, key):
    c9 = clients(db=9)
    c8 = clients(db=8)
    c9.set(key("a"), "1")
    c9.set(key("b"), "2", ex=100)
    c8.set(key("kept"), "yes")
    assert c9.flushdb() is True
    assert c9.dbsize() == 0
    assert c9.get(key("a")) is None
    assert c8.get(key("kept")) == b"yes"
    c8.delete(key("kept"))


def test_scan_iter_match(r, key):
    p = key.prefix
    want = set()
    for i in range(300):
        k = f"{p}item:{i}"
        r.set(k, i)
        want.add(k.encode())
    for i in range(50):
        r.set(f"{p}other:{i}", i)
    got = list(r.scan_iter(match=p + "item:*", count=20))
    # SCAN may return a key more than once, but never misses one present throughout.
    assert set(got) == want
    assert set(r.scan_iter(match=p + "other:4*")) == {f"{p}other:4".encode()} | {f"{p}other:4{d}".encode() for d in range(10)}


def test_scan_cursor_and_count(r, key):
    p = key.prefix
    for i in range(40):
        r.set(f"{p}{i}", i)
    cursor, seen = 0, set()
    rounds = 0
    while True:
        cursor, batch = r.scan(cursor=cursor, match=p + "*", count=10)
        seen.update(batch)
        rounds += 1
        assert rounds < 10000
        if cursor == 0:
            break
    assert len(seen) == 40


def test_binary_keys_and_values(r, key):
    k = key("bin\x00\r\nkey").encode() + b"\xff\x00"
    value = b"a\x00b\r\nc\r\n\x00\xff\xfe" + bytes(range(256))
    assert r.set(k, value) is True
    assert r.get(k) == value
    assert r.strlen(k) == len(value)
    assert r.exists(k) == 1
    assert r.delete(k) == 1


def test_one_mebibyte_value(r, key):
    k = key("big")
    value = bytes((i * 7 + i // 256) % 256 for i in range(1 << 20))
    assert r.set(k, value) is True
    assert r.get(k) == value
    assert r.strlen(k) == 1 << 20


def test_unknown_command_error(r):
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND", "x")


def test_wrong_arity_error(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        r.execute_command("GET")
