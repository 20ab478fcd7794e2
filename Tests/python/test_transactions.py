"""MULTI/EXEC as redis-py drives it: transactional pipelines, WATCH with optimistic-locking
retries, EXECABORT after a queuing error, DISCARD, and the Redis.transaction() helper."""

import pytest
import redis

from conftest import raw_connection


def test_transactional_pipeline(r, key):
    k, n = key("k"), key("n")
    r.set(n, 41)
    p = r.pipeline(transaction=True)
    p.set(k, "v")
    p.incr(n)
    p.expire(k, 100)
    p.get(k)
    p.incrby(n, 10)
    p.ttl(k)
    p.get(key("missing"))
    results = p.execute()
    assert results[:5] == [True, 42, True, b"v", 52]
    assert results[5] in (99, 100)
    assert results[6] is None
    assert r.get(n) == b"52"
    assert 0 < r.ttl(k) <= 100


def test_transactional_pipeline_as_context_manager(r, key):
    with r.pipeline() as p:  # transaction=True is redis-py's default
        for i in range(100):
            p.incr(key("counter"))
        p.set(key("done"), "yes", ex=60)
        results = p.execute()
    assert results == list(range(1, 101)) + [True]
    assert r.get(key("counter")) == b"100"


def test_empty_transaction(r):
    with r.pipeline(transaction=True) as p:
        assert p.execute() == []


def test_runtime_error_does_not_abort(r, key):
    # An error while EXEC runs a command is that command's reply; the others still run.
    k, n = key("text"), key("n")
    r.set(k, "text")
    p = r.pipeline(transaction=True)
    p.incr(n)
    p.incr(k)  # not an integer: fails inside EXEC
    p.incr(n)
    results = p.execute(raise_on_error=False)
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], redis.ResponseError)
    assert "not an integer" in str(results[1])
    assert r.get(n) == b"2"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.pipeline(transaction=True).incr(k).execute()


def test_queuing_error_aborts_exec(r, key):
    k = key("k")
    r.set(k, "before")
    p = r.pipeline(transaction=True)
    p.set(k, "after")
    p.execute_command("SET", k)  # wrong arity: rejected while queuing
    p.incr(key("n"))
    # redis-py raises the queuing error (EXEC itself answered EXECABORT).
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'set' command"):
        p.execute()
    assert r.get(k) == b"before"
    assert r.get(key("n")) is None

    p = r.pipeline(transaction=True)
    p.set(k, "after")
    p.execute_command("NOSUCHCOMMAND", k)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        p.execute()
    assert r.get(k) == b"before"
    # The pipeline and the connection stay usable.
    assert p.set(k, "again").get(k).execute() == [True, b"again"]


def test_execabort_on_one_connection(r, key):
    # The same abort seen without the pipeline's bookkeeping: EXEC answers EXECABORT, which
    # the parser turns into ExecAbortError.
    k = key("k")
    conn = raw_connection(r)
    try:
        conn.send_command("MULTI")
        assert conn.read_response() in (b"OK", "OK")
        conn.send_command("SET", k, "v")
        assert conn.read_response() in (b"QUEUED", "QUEUED")
        conn.send_command("GET")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
            conn.read_response()
        conn.send_command("EXEC")
        with pytest.raises(redis.exceptions.ExecAbortError, match="Transaction discarded because of previous errors"):
            conn.read_response()
    finally:
        r.connection_pool.release(conn)
    assert r.get(k) is None


def test_discard(r, key):
    k = key("k")
    with r.pipeline() as p:
        p.set(k, "queued")
        p.discard()  # sent inside MULTI: the queue is dropped, so EXEC has no MULTI
        with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
            p.execute()
        assert r.get(k) is None
        p.set(key("after"), "ok")
        assert p.execute() == [True]
    assert r.get(key("after")) == b"ok"


def test_discard_forgets_queue_and_watched_keys(r, clients, key):
    # On one connection, as redis-py's pipeline would only queue a DISCARD after MULTI.
    k = key("k")
    r.set(k, "1")
    conn = raw_connection(r)
    try:
        def call(*args):
            conn.send_command(*args)
            reply = conn.read_response()
            return reply.decode() if isinstance(reply, bytes) else reply

        assert call("WATCH", k) == "OK"
        assert call("MULTI") == "OK"
        assert call("SET", k, "queued") == "QUEUED"
        assert call("DISCARD") == "OK"
        assert call("GET", k) == "1"  # the queued SET never ran
        clients().set(k, "2")  # no longer watched: DISCARD forgot it
        assert call("MULTI") == "OK"
        assert call("INCR", k) == "QUEUED"
        assert call("EXEC") == [3]
        with pytest.raises(redis.ResponseError, match="DISCARD without MULTI"):
            call("DISCARD")
    finally:
        r.connection_pool.release(conn)


def test_watch_optimistic_locking_retry(r, clients, key):
    k = key("counter")
    r.set(k, 10)
    writer = clients()
    attempts = 0
    with r.pipeline() as p:
        while True:
            try:
                p.watch(k)
                current = int(p.get(k))
                attempts += 1
                if attempts == 1:
                    # Another client writes between WATCH and EXEC: this EXEC must fail.
                    writer.incr(k)
                p.multi()
                p.set(k, current * 2)
                p.get(k)
                result = p.execute()
                break
            except redis.WatchError:
                continue
    assert attempts == 2
    assert result == [True, b"22"]
    assert r.get(k) == b"22"


def test_watch_aborts_on_delete_and_expire_change(r, clients, key):
    k = key("k")
    writer = clients()
    for change in (lambda: writer.delete(k), lambda: writer.expire(k, 100), lambda: writer.set(k, "same")):
        r.set(k, "same")
        with r.pipeline() as p:
            p.watch(k)
            change()
            p.multi()
            p.set(k, "mine")
            with pytest.raises(redis.WatchError):
                p.execute()
        assert r.get(k) != b"mine"


def test_watch_untouched_key_commits(r, clients, key):
    k, other = key("k"), key("other")
    r.set(k, "1")
    writer = clients()
    with r.pipeline() as p:
        p.watch(k)
        writer.set(other, "x")  # a different key: no conflict
        assert writer.get(k) == b"1"  # reading the watched key is no change either
        p.multi()
        p.incr(k)
        assert p.execute() == [2]


def test_unwatch(r, clients, key):
    k = key("k")
    r.set(k, "1")
    with r.pipeline() as p:
        p.watch(k)
        p.unwatch()
        clients().set(k, "2")
        p.multi()
        p.incr(k)
        assert p.execute() == [3]


def test_watch_on_missing_key(r, clients, key):
    k = key("k")
    with r.pipeline() as p:
        p.watch(k)
        assert p.get(k) is None
        clients().set(k, "created")
        p.multi()
        p.set(k, "mine")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get(k) == b"created"


def test_transaction_helper_retries(r, clients, key):
    k, log = key("balance"), key("log")
    r.set(k, 100)
    writer = clients()
    seen = []

    def withdraw(pipe):
        balance = int(pipe.get(k))
        seen.append(balance)
        if len(seen) == 1:
            writer.decrby(k, 30)  # makes the first EXEC fail; transaction() retries
        pipe.multi()
        pipe.decrby(k, 50)
        pipe.set(log, f"withdrew 50 from {balance}")
        pipe.expire(log, 60)

    assert r.transaction(withdraw, k) == [20, True, True]
    assert seen == [100, 70]
    assert r.get(k) == b"20"
    assert r.get(log) == b"withdrew 50 from 70"


def test_transaction_helper_value_from_callable(r, key):
    k = key("k")
    r.set(k, 5)

    def double(pipe):
        value = int(pipe.get(k))
        pipe.multi()
        pipe.set(k, value * 2)
        return value * 2

    assert r.transaction(double, k, value_from_callable=True) == 10
    assert r.get(k) == b"10"


def test_transactions_in_another_db(clients, key):
    c = clients(db=11)
    k = key("k")
    with c.pipeline() as p:
        p.set(k, "in-11")
        p.incr(key("n"))
        assert p.execute() == [True, 1]
    assert c.get(k) == b"in-11"
    assert clients(db=0).get(k) is None
    c.delete(k, key("n"))
