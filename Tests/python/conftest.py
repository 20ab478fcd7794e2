"""Shared fixtures for the redis-py client tests.

The server under test is named by TAGCACHE_TEST_HOST (default 127.0.0.1) and
TAGCACHE_TEST_PORT (required): Tests/run.sh starts a fresh tagcache-server and
sets them; pointing them at a real redis-server checks the tests themselves.

Every test that takes the `r` fixture runs once per parser: "hiredis" (the C
parser, which must be installed: a missing hiredis fails, it never skips) and
"python" (redis-py's own RESP2/RESP3 parser). The protocol is the client
library's default (RESP2 for redis-py 5, RESP3 for redis-py 8) unless a test
asks for one.

Keys carry a per-run, per-test prefix, so tests never depend on DEL or FLUSHDB
to start clean and can run against a server that already holds data.
"""

import os
import re
import uuid

import pytest
import redis
from redis import _parsers
from redis.utils import HIREDIS_AVAILABLE

HOST = os.environ.get("TAGCACHE_TEST_HOST", "127.0.0.1")
PORT_TEXT = os.environ.get("TAGCACHE_TEST_PORT", "")
RUN_ID = uuid.uuid4().hex[:8]
PARSERS = ["hiredis", "python"]
REDIS_MAJOR = int(redis.__version__.split(".")[0])
# The protocol redis-py uses when none is given (redis-py 8 speaks RESP3 by default).
DEFAULT_PROTOCOL = 3 if REDIS_MAJOR >= 8 else 2


def pytest_configure(config):
    if not PORT_TEXT.isdigit():
        raise pytest.UsageError(
            "TAGCACHE_TEST_PORT must name the port of the server under test "
            "(Tests/run.sh sets it)")


def pytest_report_header(config):
    return (f"server {HOST}:{PORT_TEXT}; redis-py {redis.__version__} "
            f"(default protocol {DEFAULT_PROTOCOL}); hiredis available: {HIREDIS_AVAILABLE}")


def parser_class(parser, protocol):
    if parser == "hiredis":
        # The tests must exercise hiredis when they say so: fail, never fall back.
        assert HIREDIS_AVAILABLE, "hiredis is not installed in this environment"
        return _parsers._HiredisParser
    return _parsers._RESP3Parser if protocol == 3 else _parsers._RESP2Parser


def make_client(parser, protocol=None, db=0, **kwargs):
    """A redis.Redis on the server under test with the given parser and protocol."""
    proto = protocol or DEFAULT_PROTOCOL
    pool = redis.ConnectionPool(
        host=HOST, port=int(PORT_TEXT), db=db, protocol=proto,
        parser_class=parser_class(parser, proto),
        socket_timeout=10, socket_connect_timeout=5, **kwargs)
    return redis.Redis(connection_pool=pool)


def raw_connection(client):
    """A connection of client's pool, for commands whose reply is read without
    redis-py's response callbacks (so the RESP type shows)."""
    pool = client.connection_pool
    try:
        return pool.get_connection()
    except TypeError:  # redis-py before 5.3 wants a command name
        return pool.get_connection("_")


def raw_reply(client, *args):
    """Sends one command and returns the parser's reply, no callback applied."""
    conn = raw_connection(client)
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        client.connection_pool.release(conn)


@pytest.fixture(params=PARSERS)
def parser(request):
    return request.param


@pytest.fixture
def clients(parser):
    made = []

    def factory(protocol=None, db=0, **kwargs):
        c = make_client(parser, protocol=protocol, db=db, **kwargs)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()
        c.connection_pool.disconnect()


@pytest.fixture
def r(clients, parser):
    c = clients()
    conn = raw_connection(c)
    try:
        # Prove which parser is really in use before the test relies on it.
        want = "_HiredisParser" if parser == "hiredis" else ("_RESP3Parser" if DEFAULT_PROTOCOL == 3 else "_RESP2Parser")
        assert type(conn._parser).__name__ == want
    finally:
        c.connection_pool.release(conn)
    return c


@pytest.fixture
def key(request):
    """key("name") -> a key no other test or run uses."""
    test = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)
    prefix = f"t:{RUN_ID}:{test}:"

    def make(name=""):
        return prefix + name

    make.prefix = prefix
    return make


@pytest.fixture
def raw():
    """raw(client, *args) -> the reply as the parser returns it (no callback)."""
    return raw_reply
