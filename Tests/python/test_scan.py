"""SCAN, HSCAN, SSCAN and TAG.SCAN through redis-py while another client writes.

SCAN's guarantee: a full iteration returns every element that exists for the whole iteration
at least once (possibly more than once), however the keyspace or the value grows and shrinks
meanwhile. In each test a writer thread on its own connection adds and removes elements in
rounds until the scanner is done; the scanner starts once the writer has finished a round, and
checks what scan_iter / hscan_iter / sscan_iter (and TAG.SCAN through execute_command) return:
every stable element, and nothing that nobody wrote.

TAG.SCAN is TagCache's own command, so its test skips on a real redis-server (the reference
run); everything else here must pass on both.
"""

import threading

import pytest
import redis

MAX_ROUNDS = 5000


@pytest.fixture
def tagcache(r):
    """Skips unless the server under test is TagCache (INFO server names its version)."""
    if "tagcache_version" not in r.info("server"):
        pytest.skip("TAG.SCAN is TagCache's own command; redis-server has none")


class Writer:
    """Runs write(pipeline, round) on its own client and thread, one pipeline per round, from
    `with` until the block ends (or write returns False); re-raises what went wrong in the
    thread."""

    def __init__(self, client, write):
        self.client = client
        self.write = write
        self.rounds = 0
        self.error = None
        self.stop = threading.Event()
        self.first_round = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            while not self.stop.is_set() and self.rounds < MAX_ROUNDS:
                pipe = self.client.pipeline(transaction=False)
                if self.write(pipe, self.rounds) is False:
                    break
                for reply in pipe.execute(raise_on_error=False):
                    if isinstance(reply, Exception):
                        raise reply
                self.rounds += 1
                self.first_round.set()
        except Exception as e:  # reported by __exit__
            self.error = e
        finally:
            self.first_round.set()

    def __enter__(self):
        self.thread.start()
        assert self.first_round.wait(10), "the writer never finished a round"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the writer did not stop"
        if self.error is not None:
            raise self.error
        return False


def cycle(round_, batches):
    """(batch, adding): rounds add batches 0..n-1, then remove them in the same order."""
    step = round_ % (2 * batches)
    return step % batches, step < batches


def put(r, commands):
    pipe = r.pipeline(transaction=False)
    for args in commands:
        pipe.execute_command(*args)
    pipe.execute()


# ---- SCAN ---------------------------------------------------------------------------------


def test_scan_iter_match_while_keys_come_and_go(r, key, clients):
    p = key.prefix
    users = {f"{p}user:{i}".encode() for i in range(1000)}
    put(r, [("SET", k, "v") for k in users] + [("SET", f"{p}session:{i}", "v") for i in range(300)])

    def write(pipe, round_):
        batch, adding = cycle(round_, 20)
        for j in range(100):
            for kind in ("user:churn", "session:churn"):
                k = f"{p}{kind}:{batch}:{j}"
                if adding:
                    pipe.set(k, "x")
                else:
                    pipe.delete(k)

    with Writer(clients(), write) as w:
        for count in (25, 1000):
            got = list(r.scan_iter(match=p + "user:*", count=count))
            assert users <= set(got), f"COUNT {count}: {len(users - set(got))} stable keys missed"
            assert all(k.startswith(f"{p}user:".encode()) for k in got)
    assert w.rounds > 0


def test_scan_iter_type_while_keys_come_and_go(r, key, clients):
    p = key.prefix
    strings = {f"{p}s:{i}".encode() for i in range(200)}
    hashes = {f"{p}h:{i}".encode() for i in range(200)}
    sets = {f"{p}set:{i}".encode() for i in range(100)}
    put(r, [("SET", k, "v") for k in strings] + [("HSET", k, "f", "v") for k in hashes]
        + [("SADD", k, "m") for k in sets])

    def write(pipe, round_):
        batch, adding = cycle(round_, 10)
        for j in range(50):
            h, s = f"{p}churn:h:{batch}:{j}", f"{p}churn:s:{batch}:{j}"
            if adding:
                pipe.hset(h, "f", "x")
                pipe.set(s, "x")
            else:
                pipe.delete(h, s)

    with Writer(clients(), write):
        for kind, stable, churn_prefix in (("hash", hashes, "churn:h:"), ("string", strings, "churn:s:"),
                                           ("set", sets, None)):
            got = set(r.scan_iter(match=p + "*", count=100, _type=kind))
            assert stable <= got, f"TYPE {kind}: {len(stable - got)} stable keys missed"
            allowed = stable | ({k for k in got if k.startswith((p + churn_prefix).encode())} if churn_prefix else set())
            assert got == allowed, f"TYPE {kind}: keys of another type: {sorted(got - allowed)[:3]}"


def iterate_while_writing(w, rounds, check):
    """Calls check(pass_number) back to back, at least twice and until the writer has done
    `rounds` rounds, so every resize the writer causes happens during some iteration."""
    passes = 0
    while passes < 2 or (w.rounds < rounds and w.thread.is_alive()):
        check(passes)
        passes += 1
    return passes


# ---- HSCAN --------------------------------------------------------------------------------


def test_hscan_iter_while_fields_come_and_go(r, key, clients):
    # 300 stable fields and up to 8,000 more: the table grows to 16,384 slots and shrinks back to
    # 4,096 in every cycle (it shrinks only below a sixteenth full).
    h = key("h")
    stable = {f"f:{i}".encode(): f"v:{i}".encode() for i in range(300)}
    r.hset(h, mapping=stable)

    def write(pipe, round_):
        batch, adding = cycle(round_, 20)
        fields = [f"c:{batch}:{j}" for j in range(400)]
        if adding:
            pipe.hset(h, mapping={f: "x" for f in fields})
        else:
            pipe.hdel(h, *fields)

    def check(n):
        count = (20, 200)[n % 2]
        seen = dict(r.hscan_iter(h, count=count))
        assert all(seen.get(f) == v for f, v in stable.items()), \
            f"pass {n}, COUNT {count}: {sum(f not in seen for f in stable)} stable fields missed"
        assert all(f in stable or f.startswith(b"c:") for f in seen)

    with Writer(clients(), write) as w:
        iterate_while_writing(w, 80, check)
        matched = dict(r.hscan_iter(h, match="f:1*", count=20))
        assert {f for f in stable if f.startswith(b"f:1")} <= set(matched)
        assert all(f.startswith(b"f:1") for f in matched)
    assert r.object("encoding", h) == b"hashtable"


def test_hscan_iter_while_the_hash_converts_to_a_table(r, key, clients):
    h = key("h")
    stable = {f"f:{i}".encode(): b"v" for i in range(100)}
    r.hset(h, mapping=stable)
    assert r.object("encoding", h) == b"listpack"

    def write(pipe, round_):
        if round_ == 40:  # 40 x 50 fields: past 512 (a hash table from then on) to 2,100
            return False
        pipe.hset(h, mapping={f"c:{round_}:{j}": "x" for j in range(50)})

    def check(n):
        seen = dict(r.hscan_iter(h, count=10))
        assert set(stable) <= set(seen), f"pass {n}: {len(set(stable) - set(seen))} stable fields missed"

    with Writer(clients(), write) as w:
        iterate_while_writing(w, 40, check)
    assert r.object("encoding", h) == b"hashtable"


# ---- SSCAN --------------------------------------------------------------------------------


def test_sscan_iter_while_members_come_and_go(r, key, clients):
    s = key("s")
    stable = {f"m:{i}".encode() for i in range(300)}
    r.sadd(s, *stable)

    def write(pipe, round_):
        batch, adding = cycle(round_, 20)
        members = [f"c:{batch}:{j}" for j in range(400)]
        (pipe.sadd if adding else pipe.srem)(s, *members)

    def check(n):
        count = (20, 200)[n % 2]
        got = set(r.sscan_iter(s, count=count))
        assert stable <= got, f"pass {n}, COUNT {count}: {len(stable - got)} stable members missed"
        assert all(m in stable or m.startswith(b"c:") for m in got)

    with Writer(clients(), write) as w:
        iterate_while_writing(w, 80, check)
        matched = set(r.sscan_iter(s, match="m:2*", count=20))
        assert {m for m in stable if m.startswith(b"m:2")} <= matched
        assert all(m.startswith(b"m:2") for m in matched)


def test_sscan_iter_while_an_intset_converts_to_a_table(r, key, clients):
    s = key("ints")
    stable = {str(i).encode() for i in range(300)}
    r.sadd(s, *stable)
    assert r.object("encoding", s) == b"intset"

    def write(pipe, round_):
        batch, adding = cycle(round_, 20)
        members = [str(100_000 + batch * 200 + j) for j in range(200)]
        (pipe.sadd if adding else pipe.srem)(s, *members)

    def check(n):
        got = set(r.sscan_iter(s, count=20))
        assert stable <= got, f"pass {n}: {len(stable - got)} stable members missed"
        assert all(m in stable or int(m) >= 100_000 for m in got)

    with Writer(clients(), write) as w:
        iterate_while_writing(w, 80, check)
    assert r.object("encoding", s) == b"hashtable"


# ---- TAG.SCAN -----------------------------------------------------------------------------


def tag_scan_all(client, tag, count):
    cursor, seen, calls = b"0", [], 0
    while True:
        cursor, keys = client.execute_command("TAG.SCAN", tag, cursor, "COUNT", count)
        assert cursor.isdigit()
        seen += keys
        calls += 1
        if cursor == b"0" or calls > 100_000:
            return seen


def test_tag_scan_while_tagged_keys_come_and_go(r, key, clients, tagcache):
    t, g = key("tag"), key("group")
    stable = {key(f"st:{i}").encode() for i in range(800)}
    put(r, [("SET", k, "v", "TAGS", t) for k in stable])

    def write(pipe, round_):
        batch, adding = cycle(round_, 10)
        names = [key(f"ch:{batch}:{j}") for j in range(400)]
        extra = [key(f"st:{batch * 80 + j}") for j in range(80)]
        if adding:
            for n in names:
                pipe.execute_command("SET", n, "x", "TAGS", t, f"{g}:{batch}")
            for j in range(5):
                pipe.execute_command("SET", key(f"ex:{round_}:{j}"), "x", "PX", 1, "TAGS", t)
            for k in extra:
                pipe.execute_command("TAG.ADD", k, "red", "green")
        else:
            if batch % 2:
                pipe.execute_command("TAG.INVALIDATE", f"{g}:{batch}")
            else:
                pipe.delete(*names)
            for k in extra:
                pipe.execute_command("TAG.REM", k, "red", "green")

    churn = (key("ch:").encode(), key("ex:").encode())

    def check(n):
        count = (10, 100)[n % 2]
        got = set(tag_scan_all(r, t, count))
        assert stable <= got, f"pass {n}, COUNT {count}: {len(stable - got)} stable keys missed"
        assert all(k in stable or k.startswith(churn) for k in got)

    with Writer(clients(), write) as w:
        iterate_while_writing(w, 40, check)


# ---- cursors and options --------------------------------------------------------------------


def test_cursor_and_option_errors(r, key):
    h, s = key("h"), key("s")
    r.hset(h, mapping={f"f{i}": i for i in range(600)})
    r.sadd(s, *range(600), "x")
    calls = [
        lambda **kw: r.scan(match=key("nothing"), **kw),
        lambda **kw: r.hscan(h, match="nothing", **kw),
        lambda **kw: r.sscan(s, match="nothing", **kw),
    ]
    for call in calls:
        assert call(cursor=18446744073709551615) == (0, {} if call is calls[1] else [])
        assert call(cursor=-1) == (0, {} if call is calls[1] else [])
        with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
            call(cursor=18446744073709551616)
        with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
            call(cursor="1x")
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            call(cursor=0, count=0)
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            call(cursor=0, count=-5)
        with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
            call(cursor=0, count="ten")


def test_tag_scan_cursor_and_option_errors(r, key, tagcache):
    t = key("t")
    r.execute_command("SET", key("k"), "v", "TAGS", t)
    assert r.execute_command("TAG.SCAN", t, "18446744073709551615", "MATCH", "nothing") == [b"0", []]
    assert r.execute_command("TAG.SCAN", t, "-1", "MATCH", "nothing") == [b"0", []]
    assert r.execute_command("TAG.SCAN", t, "0", "COUNT", 1000) == [b"0", [key("k").encode()]]
    for cursor in ("18446744073709551616", "1x", " 0"):
        with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
            r.execute_command("TAG.SCAN", t, cursor)
    for option in (("COUNT", 0), ("COUNT", -5), ("TYPE", "string")):
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            r.execute_command("TAG.SCAN", t, 0, *option)
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("TAG.SCAN", t, 0, "COUNT", "ten")
