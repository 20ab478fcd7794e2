"""Connection and server commands as client libraries and dashboards use them."""

import pytest
import redis


def text(value):
    """redis-py decodes some replies in one version and not in another."""
    return value.decode() if isinstance(value, bytes) else value


def test_info_hit_ratio(r, key):
    k = key("k")
    r.set(k, "v")
    before = r.info("stats")
    for _ in range(3):
        assert r.get(k) == b"v"
    assert r.get(key("missing")) is None
    after = r.info("stats")
    hits = after["keyspace_hits"] - before["keyspace_hits"]
    misses = after["keyspace_misses"] - before["keyspace_misses"]
    assert (hits, misses) == (3, 1)
    total_hits, total_misses = after["keyspace_hits"], after["keyspace_misses"]
    ratio = total_hits / (total_hits + total_misses)
    assert 0 < ratio < 1


def test_info_sections(r):
    info = r.info()
    for field in ("redis_version", "tcp_port", "uptime_in_seconds", "connected_clients",
                  "used_memory", "total_commands_processed", "keyspace_hits", "keyspace_misses"):
        assert field in info, field
    assert isinstance(info["connected_clients"], int) and info["connected_clients"] >= 1
    assert int(str(info["redis_version"]).split(".")[0]) >= 7
    server = r.info("server")
    assert "redis_version" in server and "keyspace_hits" not in server


def test_info_keyspace(clients, key):
    c = clients(db=14)
    c.flushdb()
    c.set(key("a"), "1")
    c.set(key("b"), "2", ex=100)
    db14 = c.info("keyspace")["db14"]
    assert db14["keys"] == 2
    assert db14["expires"] == 1
    c.flushdb()
    assert "db14" not in c.info("keyspace")


def test_client_setname_getname(r, clients):
    assert r.client_getname() is None
    assert r.client_setname("worker-1") is True
    assert text(r.client_getname()) == "worker-1"
    with pytest.raises(redis.ResponseError, match="cannot contain spaces"):
        r.client_setname("bad name")
    # The name belongs to the connection, not to the server.
    other = clients()
    assert other.client_getname() is None


def test_client_name_from_constructor(clients):
    c = clients(client_name="named-by-pool")
    assert text(c.client_getname()) == "named-by-pool"
    names = [text(entry["name"]) for entry in c.client_list()]
    assert "named-by-pool" in names


def test_client_id_and_info(r):
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    info = r.client_info()
    assert int(info["id"]) == cid
    assert str(info["db"]) == "0"


def test_echo_and_time(r):
    assert r.echo("hello\x00world") == b"hello\x00world"
    seconds, micros = r.time()
    assert seconds > 1_600_000_000 and 0 <= micros < 1_000_000


def test_config_get(r):
    got = r.config_get("maxmemory")
    assert got == {"maxmemory": "0"}
    got = r.config_get("maxmemory*")
    assert "maxmemory" in got and "maxmemory-policy" in got
    assert r.config_get("no-such-directive") == {}
    assert r.config_get("port")["port"].isdigit()


def test_config_set(r):
    old = r.config_get("maxmemory-policy")["maxmemory-policy"]
    try:
        assert r.config_set("maxmemory-policy", "allkeys-lru") is True
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    finally:
        r.config_set("maxmemory-policy", old)
    with pytest.raises(redis.ResponseError, match="Unknown option or number of arguments for CONFIG SET"):
        r.config_set("no-such-directive", "1")


def test_command_count(r):
    assert r.command_count() > 10
