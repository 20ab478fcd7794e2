"""RESP2 and RESP3 on the same commands: the reply's RESP type, as the parser sees it
(no redis-py callback in between), must follow the protocol the connection chose."""

import pytest
import redis

from conftest import REDIS_MAJOR

PROTOCOLS = [2, 3]


@pytest.fixture(params=PROTOCOLS, ids=["resp2", "resp3"])
def proto(request):
    return request.param


@pytest.fixture
def rp(clients, proto):
    return clients(protocol=proto)


def pairs(reply):
    """A RESP3 map (dict) or a RESP2 flat list of pairs, as a dict."""
    if isinstance(reply, dict):
        return reply
    assert isinstance(reply, list) and len(reply) % 2 == 0
    return dict(zip(reply[0::2], reply[1::2]))


def test_library_default_protocol(r):
    # redis-py 8 says HELLO 3 on connect; redis-py 5 stays on RESP2.
    info = r.client_info()
    assert str(info["resp"]) == ("3" if REDIS_MAJOR >= 8 else "2")


def test_hello_reply_type(rp, proto, raw):
    reply = raw(rp, "HELLO")
    if proto == 3:
        assert isinstance(reply, dict)
    else:
        assert isinstance(reply, list)
    fields = pairs(reply)
    assert fields[b"proto"] == proto
    assert fields[b"server"] in (b"redis", b"tagcache")
    assert isinstance(fields[b"id"], int)
    assert fields[b"mode"] == b"standalone"
    assert fields[b"role"] == b"master"
    assert fields[b"modules"] == []
    assert int(fields[b"version"].split(b".")[0]) >= 7


def test_hello_setname(rp, proto, raw):
    reply = raw(rp, "HELLO", proto, "SETNAME", "hello-client")
    assert pairs(reply)[b"proto"] == proto
    assert raw(rp, "CLIENT", "GETNAME") == b"hello-client"


def test_hello_unsupported_version(rp):
    with pytest.raises(redis.ResponseError, match="NOPROTO"):
        rp.execute_command("HELLO", 4)
    # The connection keeps its protocol.
    assert str(rp.client_info()["resp"]) == str(rp.connection_pool.connection_kwargs["protocol"])


def test_config_get_reply_type(rp, proto, raw):
    reply = raw(rp, "CONFIG", "GET", "maxmemory")
    if proto == 3:
        assert reply == {b"maxmemory": b"0"}
    else:
        assert reply == [b"maxmemory", b"0"]
    # redis-py turns both into a dict for the application.
    assert rp.config_get("maxmemory") == {"maxmemory": "0"}


def test_config_get_many_reply_type(rp, proto, raw):
    reply = raw(rp, "CONFIG", "GET", "maxmemory", "maxmemory-policy")
    assert isinstance(reply, dict if proto == 3 else list)
    assert pairs(reply) == {b"maxmemory": b"0", b"maxmemory-policy": b"noeviction"}


def test_null_replies(rp, raw, key):
    k = key("k")
    assert raw(rp, "GET", key("missing")) is None
    assert raw(rp, "SET", k, "v") in (b"OK", True)
    assert raw(rp, "SET", k, "w", "NX") is None
    assert raw(rp, "MGET", k, key("missing")) == [b"v", None]
    assert raw(rp, "GETDEL", key("missing")) is None


def test_scalar_reply_types(rp, raw, key):
    k = key("n")
    assert raw(rp, "INCR", k) == 1
    assert raw(rp, "INCRBYFLOAT", k, "0.5") == b"1.5"
    assert raw(rp, "STRLEN", k) == 3
    assert raw(rp, "EXISTS", k, k) == 2
    assert raw(rp, "TYPE", k) == b"string"
    assert raw(rp, "TTL", k) == -1
    assert raw(rp, "ECHO", "") == b""


def test_scan_reply_shape(rp, raw, key):
    rp.set(key("only"), "1")
    cursor, keys = 0, []
    while True:
        reply = raw(rp, "SCAN", cursor, "MATCH", key("only"), "COUNT", 100)
        assert isinstance(reply, list) and len(reply) == 2
        assert isinstance(reply[0], bytes)
        keys.extend(reply[1])
        cursor = int(reply[0])
        if cursor == 0:
            break
    assert keys == [key("only").encode()]


def test_text_replies(rp, proto, raw):
    # INFO and CLIENT INFO are verbatim strings in RESP3, bulk strings in RESP2.
    info = raw(rp, "INFO", "server")
    assert isinstance(info, (bytes, str))
    text = info if isinstance(info, bytes) else info.encode()
    assert text.startswith(b"# Server")
    client = raw(rp, "CLIENT", "INFO")
    text = client if isinstance(client, bytes) else client.encode()
    assert f"resp={proto}".encode() in text


def test_errors_in_both_protocols(rp):
    with pytest.raises(redis.ResponseError, match="unknown command"):
        rp.execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        rp.execute_command("SET", "only-key")
    assert rp.ping() is True
