"""Hashes, sets and lists the way applications use them through redis-py: the helpers,
the reply types each protocol gives, WRONGTYPE, emptied keys, and the tag-set pattern."""

import socket

import pytest
import redis

from conftest import HOST, PORT_TEXT

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rp(request, clients):
    """A client speaking the given protocol."""
    return clients(protocol=request.param)


# ---- hashes --------------------------------------------------------------------------------

def test_hash_helpers(r, key):
    h = key("user:1")
    assert r.hset(h, mapping={"name": "Ada", "visits": "1", "lang": "en"}) == 3
    assert r.hset(h, "lang", "fr") == 0
    assert r.hget(h, "name") == b"Ada"
    assert r.hget(h, "missing") is None
    assert r.hmget(h, ["name", "missing", "lang"]) == [b"Ada", None, b"fr"]
    # Small hashes keep insertion order, as Redis's listpack does.
    assert r.hgetall(h) == {b"name": b"Ada", b"visits": b"1", b"lang": b"fr"}
    assert list(r.hgetall(h)) == [b"name", b"visits", b"lang"]
    assert r.hkeys(h) == [b"name", b"visits", b"lang"]
    assert r.hvals(h) == [b"Ada", b"1", b"fr"]
    assert r.hlen(h) == 3
    assert r.hexists(h, "name")
    assert not r.hexists(h, "nope")
    assert r.hstrlen(h, "name") == 3
    assert not r.hsetnx(h, "name", "Bob")
    assert r.hsetnx(h, "email", "ada@example.com")
    assert r.hincrby(h, "visits", 5) == 6
    assert r.hincrbyfloat(h, "score", 1.5) == 1.5
    assert r.hincrbyfloat(h, "score", 0.25) == 1.75
    assert r.hdel(h, "email", "score", "missing") == 2
    assert r.hlen(h) == 3


def test_hash_errors(r, key):
    h, s = key("h"), key("s")
    r.hset(h, "text", "hello")
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        r.hincrby(h, "text", 1)
    with pytest.raises(redis.ResponseError, match="hash value is not a float"):
        r.hincrbyfloat(h, "text", 1)
    r.set(s, "string")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.hget(s, "f")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.hset(s, "f", "v")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'hset' command"):
        r.execute_command("HSET", h, "f")


def test_hash_emptied_is_deleted_and_ttl_survives(r, key):
    h = key("session")
    r.hset(h, mapping={"a": "1", "b": "2"})
    assert r.expire(h, 100)
    r.hset(h, "c", "3")
    r.hincrby(h, "a", 1)
    r.hdel(h, "b")
    assert 0 < r.ttl(h) <= 100
    assert r.type(h) == b"hash"
    assert r.hdel(h, "a", "c") == 2
    assert r.exists(h) == 0
    assert r.hgetall(h) == {}


def test_hash_binary_and_empty(r, key):
    h = key("bin")
    r.hset(h, mapping={b"\x00\xff": b"\r\n", b"": b""})
    assert r.hget(h, b"\x00\xff") == b"\r\n"
    assert r.hget(h, b"") == b""
    assert r.hstrlen(h, b"") == 0


def test_hash_large_converts_and_scans(r, key):
    h = key("big")
    fields = {f"field:{i:04d}": f"value:{i}" for i in range(1000)}
    r.hset(h, mapping=fields)
    assert r.object("encoding", h) == b"hashtable"
    assert r.hlen(h) == 1000
    seen = {k.decode(): v.decode() for k, v in r.hscan_iter(h, count=50)}
    assert seen == fields
    matched = dict(r.hscan_iter(h, match="field:00*"))
    assert len(matched) == 100
    small = key("small")
    r.hset(small, "f", "v")
    assert r.object("encoding", small) == b"listpack"
    assert r.hscan(small, 0) == (0, {b"f": b"v"})


def test_hrandfield(r, key):
    h = key("r")
    r.hset(h, mapping={"a": "1", "b": "2", "c": "3"})
    assert r.hrandfield(h) in (b"a", b"b", b"c")
    assert sorted(r.hrandfield(h, 10)) == [b"a", b"b", b"c"]
    assert len(r.hrandfield(h, -7)) == 7
    assert len(set(r.hrandfield(h, 2))) == 2
    assert r.hrandfield(key("missing")) is None


def test_hrandfield_withvalues_shape(rp, key, raw):
    h = key("r")
    rp.hset(h, mapping={"a": "1", "b": "2"})
    reply = raw(rp, "HRANDFIELD", h, 5, "WITHVALUES")
    if rp.connection_pool.connection_kwargs.get("protocol") == 3:
        # Redis 7 nests each field/value pair in RESP3.
        assert reply == [[b"a", b"1"], [b"b", b"2"]]
    else:
        assert reply == [b"a", b"1", b"b", b"2"]


def test_hgetall_reply_type(rp, key, raw):
    h = key("h")
    rp.hset(h, "f", "v")
    reply = raw(rp, "HGETALL", h)
    if rp.connection_pool.connection_kwargs.get("protocol") == 3:
        assert reply == {b"f": b"v"}
    else:
        assert reply == [b"f", b"v"]


# ---- sets ----------------------------------------------------------------------------------

def test_set_helpers(r, key):
    s = key("s")
    assert r.sadd(s, "a", "b", "c") == 3
    assert r.sadd(s, "a", "d") == 1
    assert r.smembers(s) == {b"a", b"b", b"c", b"d"}
    assert r.scard(s) == 4
    assert r.sismember(s, "a")
    assert not r.sismember(s, "z")
    assert [bool(x) for x in r.smismember(s, ["a", "z", "d"])] == [True, False, True]
    assert r.srem(s, "a", "z") == 1
    assert r.srandmember(s) in {b"b", b"c", b"d"}
    assert set(r.srandmember(s, 10)) == {b"b", b"c", b"d"}
    assert len(r.srandmember(s, -5)) == 5
    popped = r.spop(s)
    assert popped in {b"b", b"c", b"d"}
    assert r.scard(s) == 2
    assert len(r.spop(s, 5)) == 2
    assert r.exists(s) == 0
    assert r.spop(s) is None


def test_set_algebra(r, key):
    a, b, c, d = key("a"), key("b"), key("c"), key("d")
    r.sadd(a, "x", "y", "z")
    r.sadd(b, "y", "z", "w")
    r.sadd(c, "z")
    assert r.sinter(a, b) == {b"y", b"z"}
    assert r.sinter(a, b, c) == {b"z"}
    assert r.sunion(a, b) == {b"w", b"x", b"y", b"z"}
    assert r.sdiff(a, b) == {b"x"}
    assert r.sintercard(2, [a, b]) == 2
    assert r.sintercard(2, [a, b], limit=1) == 1
    assert r.sinterstore(d, [a, b]) == 2
    assert r.smembers(d) == {b"y", b"z"}
    assert r.sunionstore(d, [a, b]) == 4
    assert r.sdiffstore(d, [a, a]) == 0
    assert r.exists(d) == 0
    assert r.smove(a, b, "x")
    assert not r.smove(a, b, "nope")
    assert r.sismember(b, "x")


def test_integer_sets_are_intsets_in_order(r, key):
    s = key("ints")
    r.sadd(s, 5, 3, -1, 10)
    assert r.object("encoding", s) == b"intset"
    # An intset answers in ascending order, as Redis does.
    assert r.execute_command("SMEMBERS", s) in ([b"-1", b"3", b"5", b"10"], {b"-1", b"3", b"5", b"10"})
    r.sadd(s, "x")
    assert r.object("encoding", s) == b"hashtable"


def test_set_scan_and_wrongtype(r, key):
    s, t = key("big"), key("str")
    members = {f"m{i}" for i in range(700)}
    r.sadd(s, *members)
    assert {m.decode() for m in r.sscan_iter(s, count=25)} == members
    r.set(t, "v")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.sadd(t, "x")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.sunion(s, t)


def reply_bytes(protocol, *args, expect):
    """Sends args (after HELLO 3 for RESP3) on a fresh socket and returns the bytes read once
    they end with `expect` (or the read times out): the reply's RESP type, unparsed."""
    def encode(words):
        out = b"*%d\r\n" % len(words)
        for w in words:
            w = w if isinstance(w, bytes) else str(w).encode()
            out += b"$%d\r\n%s\r\n" % (len(w), w)
        return out
    with socket.create_connection((HOST, int(PORT_TEXT)), timeout=5) as s:
        s.sendall((encode(["HELLO", "3"]) if protocol == 3 else b"") + encode(args))
        data = b""
        try:
            while not data.endswith(expect):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data


@pytest.mark.parametrize("protocol", [2, 3])
def test_set_replies_are_resp3_sets(r, key, protocol):
    s = key("s")
    r.sadd(s, "only")
    head = b"~" if protocol == 3 else b"*"
    for cmd in (["SMEMBERS", s], ["SUNION", s], ["SINTER", s], ["SDIFF", s]):
        assert reply_bytes(protocol, *cmd, expect=head + b"1\r\n$4\r\nonly\r\n").endswith(head + b"1\r\n$4\r\nonly\r\n")
    # SRANDMEMBER with a count stays an array, as in Redis 7.
    assert reply_bytes(protocol, "SRANDMEMBER", s, 5, expect=b"*1\r\n$4\r\nonly\r\n").endswith(b"*1\r\n$4\r\nonly\r\n")


def test_tag_set_pattern(r, key):
    """The classic cache-invalidation pattern: each cached key is recorded in a set per tag;
    invalidating a tag deletes its members and the tag set itself."""
    tag = key("cache:tag:product:42")
    pages = [key(f"cache:page:{i}") for i in range(5)]
    for p in pages:
        r.set(p, f"<html>{p}</html>", ex=300)
        r.sadd(tag, p)
    r.sadd(tag, pages[0])  # recording a key twice is harmless
    assert r.scard(tag) == 5
    other = key("cache:page:other")
    r.set(other, "kept")
    members = r.smembers(tag)
    assert members == {p.encode() for p in pages}
    assert r.delete(*members, tag) == 6
    assert r.exists(*pages) == 0
    assert r.exists(tag) == 0
    assert r.get(other) == b"kept"
    # The same through a transaction, as invalidation code often does.
    for p in pages[:2]:
        r.set(p, "v")
        r.sadd(tag, p)
    with r.pipeline(transaction=True) as pipe:
        pipe.smembers(tag)
        pipe.delete(tag)
        found, deleted = pipe.execute()
    assert deleted == 1
    assert r.delete(*found) == 2


# ---- lists ---------------------------------------------------------------------------------

def test_list_push_pop_range(r, key):
    q = key("queue")
    assert r.rpush(q, "a", "b", "c") == 3
    assert r.lpush(q, "z") == 4
    assert r.lrange(q, 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.llen(q) == 4
    assert r.lindex(q, -1) == b"c"
    assert r.lindex(q, 10) is None
    assert r.lpop(q) == b"z"
    assert r.rpop(q) == b"c"
    assert r.rpush(q, "d", "e") == 4
    assert r.lpop(q, 2) == [b"a", b"b"]
    assert r.rpop(q, 5) == [b"e", b"d"]
    assert r.exists(q) == 0
    assert r.lpop(q) is None
    assert r.lpop(q, 3) is None
    assert r.lpushx(q, "x") == 0
    assert r.exists(q) == 0


def test_list_editing(r, key):
    q = key("l")
    r.rpush(q, "a", "b", "a", "c", "a")
    assert r.lset(q, 1, "B")
    assert r.linsert(q, "BEFORE", "c", "x") == 6
    assert r.linsert(q, "after", "nope", "x") == -1
    assert r.lrem(q, -1, "a") == 1
    assert r.lrange(q, 0, -1) == [b"a", b"B", b"a", b"x", b"c"]
    assert r.lpos(q, "a") == 0
    assert r.lpos(q, "a", rank=-1) == 2
    assert r.lpos(q, "a", count=0) == [0, 2]
    assert r.lpos(q, "zz") is None
    assert r.ltrim(q, 1, -2)
    assert r.lrange(q, 0, -1) == [b"B", b"a", b"x"]
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset(q, 10, "v")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.lset(key("missing"), 0, "v")


def test_lmove_rpoplpush(r, key):
    src, dst = key("src"), key("dst")
    r.rpush(src, "1", "2", "3")
    assert r.lmove(src, dst, "LEFT", "RIGHT") == b"1"
    assert r.rpoplpush(src, dst) == b"3"
    assert r.lrange(dst, 0, -1) == [b"3", b"1"]
    assert r.lmove(src, src, "LEFT", "RIGHT") == b"2"
    assert r.lmove(src, dst, "RIGHT", "LEFT") == b"2"
    assert r.exists(src) == 0
    assert r.lmove(src, dst, "LEFT", "LEFT") is None


def test_list_large_and_binary(r, key):
    q = key("big")
    values = [f"item-{i}".encode() * (i % 7 + 1) for i in range(5000)]
    for i in range(0, len(values), 500):
        r.rpush(q, *values[i:i + 500])
    assert r.llen(q) == 5000
    assert r.lrange(q, 0, -1) == values
    assert r.lrange(q, 2500, 2502) == values[2500:2503]
    assert r.lindex(q, -2) == values[-2]
    assert r.object("encoding", q) == b"quicklist"
    b = key("bin")
    r.rpush(b, b"\x00\xff", b"", b"\r\n")
    assert r.lrange(b, 0, -1) == [b"\x00\xff", b"", b"\r\n"]


def test_list_wrongtype_and_type(r, key):
    q, s = key("q"), key("s")
    r.rpush(q, "x")
    r.set(s, "v")
    assert r.type(q) == b"list"
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.lpush(s, "x")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.get(q)
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.lmove(q, s, "LEFT", "LEFT")
    assert r.lrange(q, 0, -1) == [b"x"]
