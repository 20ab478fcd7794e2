"""Invalidating related cache entries by tag, the way applications do it with redis-py.

Two ways to the same result:
- the classic pattern, which works on any Redis: one set per tag (SADD tag:<t> key) kept next
  to the cached keys, SMEMBERS + DEL to invalidate;
- TagCache's native tags through execute_command: SET ... TAGS, TAG.INVALIDATE and friends.
  They are TagCache's own commands, so those tests skip on a real redis-server (the reference
  run); everything else here must pass on both.

Tag names carry the test's key prefix, so tests never see each other's tags.
"""

import time

import pytest
import redis

PROTOCOLS = [2, 3]


@pytest.fixture(params=PROTOCOLS, ids=["resp2", "resp3"])
def rp(clients, request):
    return clients(protocol=request.param)


@pytest.fixture
def tagcache(r):
    """Skips unless the server under test is TagCache (INFO server names its version)."""
    if "tagcache_version" not in r.info("server"):
        pytest.skip("TAG.* and SET ... TAGS are TagCache's own commands; redis-server has none")


def as_set(reply):
    """TAG.GET's reply: a RESP3 set (Python set) or a RESP2 array (list)."""
    assert isinstance(reply, (set, list))
    return set(reply)


def scan_all(client, tag, **options):
    args = []
    for name, value in options.items():
        args += [name.upper(), value]
    cursor, seen, calls = b"0", [], 0
    while True:
        cursor, keys = client.execute_command("TAG.SCAN", tag, cursor, *args)
        seen += keys
        calls += 1
        if cursor == b"0":
            return seen, calls


# ---- the classic pattern: a set per tag --------------------------------------------------


def cache_put(r, k, value, tags, ttl=None):
    pipe = r.pipeline(transaction=True)
    pipe.set(k, value, ex=ttl)
    for t in tags:
        pipe.sadd(t, k)
    pipe.execute()


def cache_invalidate(r, tag):
    members = r.smembers(tag)
    pipe = r.pipeline(transaction=True)
    if members:
        pipe.delete(*members)
    pipe.delete(tag)
    return pipe.execute()[0] if members else 0


def test_classic_tag_sets(r, key):
    users, orders = key("tag:users"), key("tag:orders")
    cache_put(r, key("user:1"), "alice", [users])
    cache_put(r, key("user:2"), "bob", [users])
    cache_put(r, key("order:1"), "o1", [users, orders])
    cache_put(r, key("other"), "x", [])
    assert r.scard(users) == 3
    assert cache_invalidate(r, users) == 3
    assert r.get(key("user:1")) is None and r.get(key("order:1")) is None
    assert r.get(key("other")) == b"x"
    # The classic pattern's weakness: the other tag set still names the deleted key.
    assert r.smembers(orders) == {key("order:1").encode()}
    assert cache_invalidate(r, orders) == 0


def test_classic_tag_sets_keep_expired_members(r, key):
    tag = key("tag:short")
    cache_put(r, key("k"), "v", [tag])
    r.pexpire(key("k"), 20)
    time.sleep(0.1)
    assert r.get(key("k")) is None
    # The set knows nothing of the expiry: the application must clean it itself.
    assert r.smembers(tag) == {key("k").encode()}


# ---- native tags ------------------------------------------------------------------------


def test_set_with_tags_and_invalidate(rp, key, tagcache):
    users, orders = key("users"), key("orders")
    assert rp.execute_command("SET", key("user:1"), "alice", "EX", 100, "TAGS", users) in (True, b"OK")
    assert rp.execute_command("SET", key("user:2"), "bob", "TAGS", users) in (True, b"OK")
    assert rp.execute_command("SET", key("order:1"), "o1", "TAGS", users, orders) in (True, b"OK")
    rp.set(key("other"), "x")
    assert 98 <= rp.ttl(key("user:1")) <= 100
    assert as_set(rp.execute_command("TAG.GET", key("order:1"))) == {users.encode(), orders.encode()}
    assert sorted(rp.execute_command("TAG.KEYS", users)) == sorted(
        k.encode() for k in [key("user:1"), key("user:2"), key("order:1")])
    assert rp.execute_command("TAG.COUNT", users) == 3
    assert rp.execute_command("TAG.INVALIDATE", users) == 3
    for k in ("user:1", "user:2", "order:1"):
        assert rp.get(key(k)) is None
    assert rp.get(key("other")) == b"x"
    # The index holds no dead key: the other tag lost its member with the key.
    assert rp.execute_command("TAG.COUNT", orders) == 0
    assert rp.execute_command("TAG.KEYS", orders) == []
    assert rp.execute_command("TAG.INVALIDATE", users, orders) == 0


def test_tag_add_rem_get(rp, key, tagcache):
    k, a, b = key("k"), key("a"), key("b")
    assert rp.execute_command("TAG.ADD", k, a) == 0  # no such key
    rp.set(k, "v")
    assert rp.execute_command("TAG.ADD", k, a, b, a) == 2
    assert rp.execute_command("TAG.ADD", k, a) == 0
    assert as_set(rp.execute_command("TAG.GET", k)) == {a.encode(), b.encode()}
    assert rp.execute_command("TAG.REM", k, a, key("nosuch")) == 1
    assert as_set(rp.execute_command("TAG.GET", k)) == {b.encode()}
    assert as_set(rp.execute_command("TAG.GET", key("missing"))) == set()
    assert rp.execute_command("TAG.TAGS", key("*")) == [b.encode()]


def test_tags_follow_the_ttl_rules(r, key, tagcache):
    k, t = key("k"), key("t")
    r.execute_command("SET", k, "1", "PX", 100000, "TAGS", t)
    r.incr(k)
    r.append(k, "0")
    r.execute_command("SET", k, "x", "KEEPTTL")
    assert r.execute_command("TAG.COUNT", t) == 1
    r.set(k, "new value")  # a new value drops the TTL and the tags
    assert r.ttl(k) == -1
    assert r.execute_command("TAG.COUNT", t) == 0
    r.execute_command("SET", k, "v", "TAGS", t)
    r.rename(k, key("renamed"))
    assert r.execute_command("TAG.KEYS", t) == [key("renamed").encode()]
    r.copy(key("renamed"), key("copy"))
    assert r.execute_command("TAG.COUNT", t) == 2
    r.pexpire(key("copy"), 20)
    time.sleep(0.1)
    assert r.execute_command("TAG.KEYS", t) == [key("renamed").encode()]
    r.delete(key("renamed"))
    assert r.execute_command("TAG.COUNT", t) == 0
    assert r.execute_command("TAG.TAGS", t) == []


def test_tags_on_aggregates(r, key, tagcache):
    t = key("t")
    r.hset(key("h"), mapping={"f": "v"})
    r.sadd(key("s"), "m")
    assert r.execute_command("TAG.ADD", key("h"), t) == 1
    assert r.execute_command("TAG.ADD", key("s"), t) == 1
    r.hset(key("h"), "g", "w")
    assert r.execute_command("TAG.COUNT", t) == 2
    r.srem(key("s"), "m")  # the emptied set is gone, and its tags with it
    assert r.execute_command("TAG.KEYS", t) == [key("h").encode()]
    assert r.execute_command("TAG.INVALIDATE", t) == 1
    assert r.exists(key("h")) == 0


def test_tag_scan_returns_every_key(r, key, tagcache):
    t = key("t")
    names = [key(f"k{i}") for i in range(500)]
    pipe = r.pipeline(transaction=False)
    for n in names:
        pipe.execute_command("SET", n, "v", "TAGS", t)
    pipe.set(key("untagged"), "v")
    pipe.execute()
    seen, calls = scan_all(r, t, count=50)
    assert set(seen) == {n.encode() for n in names}
    assert calls > 1
    seen, _ = scan_all(r, t, match=key("k1*"), count=1000)
    assert set(seen) == {n.encode() for n in names if n.startswith(key("k1"))}
    assert r.execute_command("TAG.INVALIDATE", t) == 500


def test_invalidate_in_a_transaction(r, key, tagcache):
    t = key("t")
    r.execute_command("SET", key("a"), "1", "TAGS", t)
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("TAG.INVALIDATE", t)
    pipe.get(key("a"))
    assert pipe.execute() == [1, None]


def test_errors(r, key, tagcache):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'tag.add' command"):
        r.execute_command("TAG.ADD", key("k"))
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", key("k"), "v", "TAGS")
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        r.execute_command("TAG.SCAN", key("t"), "nope")


def test_info_tags_section(r, key, tagcache):
    t = key("t")
    r.execute_command("SET", key("a"), "1", "TAGS", t, key("u"))
    info = r.info("tags")
    for field in ("tags", "tag_links", "tag_invalidations", "keys_invalidated"):
        assert field in info
    assert info["tags"] >= 2 and info["tag_links"] >= 2
    before = info["keys_invalidated"]
    assert r.execute_command("TAG.INVALIDATE", t) == 1
    assert r.info("tags")["keys_invalidated"] == before + 1
    assert "tag_links" in r.info("everything")
