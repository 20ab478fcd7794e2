#!/usr/bin/env python3
"""Hit ratio under maxmemory: TagCache's eviction policies against redis-server's, in one run.

Replays one cache workload against every server and policy: N distinct keys (default 200,000)
with fixed-size values, requests drawn from Zipf(0.99) over the keys (fixed seed; a random
permutation decouples popularity from key name), each request a GET followed, on a miss, by a SET
of the key. Requests go out pipelined in batches (200 GETs, then one pipelined batch of SETs for
that batch's misses, one SET per missed key). The first third of the requests warms the cache and
is left out of the hit ratio.

maxmemory is measured, not guessed: on a fresh server, the N/10 keys of the workload are loaded
without a limit, used_memory before and after gives that server's bytes per key, then FLUSHALL
and maxmemory = used_memory before the load + N/10 x bytes per key. So each server gets the memory
that holds N/10 of its own keys (10x more keys than fit), and the first table compares policies,
not per-key overhead. The second table gives TagCache the same absolute maxmemory as Redis (what
users compare): TagCache's smaller keys then buy it extra capacity.

Hits and misses are counted by the client and cross-checked against INFO stats keyspace_hits /
keyspace_misses; evicted_keys comes from INFO, -OOM replies to SET are counted (noeviction, or a
server that cannot evict). A policy the server rejects (CONFIG SET maxmemory-policy fails, as
allkeys-s3fifo does before it lands) shows as n/a. A run whose used_memory ends more than 10%
above maxmemory without evicting a key or refusing a SET did not enforce the limit: it is marked
and left out of the goal. A run that ends holding far more or fewer keys than N/10 gets a note:
that server checks maxmemory against something other than INFO used_memory, so the calibration
(and the policy comparison) is off by that factor.

Goal (issue 7): the best modern TagCache policy (one Redis does not have, e.g. allkeys-s3fifo) has
a miss ratio at most 0.90x Redis allkeys-lru's, in the first table.

    python3 Tests/bench/hitratio.py                       # builds release; 3 rounds, defaults
    python3 Tests/bench/hitratio.py --keys 20000 --requests 200000 --rounds 1 --no-build
    python3 Tests/bench/hitratio.py --policies allkeys-lru,allkeys-s3fifo --servers tagcache
    TAGCACHE_BINARY=/path/to/tagcache-server python3 Tests/bench/hitratio.py

The client is Python on the same machine, so cmds/s mostly measures the client; read the hit
ratios. Uses numpy for the Zipf draws when present (else a pure-Python sampler, bisect over the
cumulative table; the two draw different sequences for the same seed). Needs redis-server for the
Redis rows (apt-get install redis-server).
"""
import argparse
import atexit
import bisect
import itertools
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchmark  # noqa: E402  (ROOT, BINARY, free_port, ping)

ROOT = benchmark.ROOT
TAGCACHE_POLICIES = ["allkeys-lru", "allkeys-lfu", "allkeys-random", "allkeys-s3fifo"]
REDIS_POLICIES = ["allkeys-lru", "allkeys-lfu"]
REFERENCE = ("redis", "allkeys-lru")
# Policies Redis also has; any other TagCache policy counts as "modern" for the goal.
CLASSIC = {"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
           "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}
GOAL = 0.90
OVER_LIMIT = 1.10  # used_memory / maxmemory at the end above this: the limit was not enforced
FILL_OK = (0.85, 1.15)  # keys held at the end / intended capacity: outside this, a note

_procs = []  # every server process started, so that Ctrl-C, SIGTERM and errors stop them all


def _stop_all():
    while _procs:
        p = _procs.pop()
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


atexit.register(_stop_all)


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, then atexit


class Server:
    """A fresh tagcache-server or redis-server on a free port."""

    def __init__(self, kind, binary, redis_binary):
        self.kind = kind
        self.port = benchmark.free_port()
        if kind == "tagcache":
            cmd = [binary, "--port", str(self.port), "--loglevel", "warning"]
        else:
            cmd = [redis_binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--loglevel", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        deadline = time.time() + 10
        while not benchmark.ping(self.port):
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{kind} did not start: {' '.join(cmd)}")
            time.sleep(0.001)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc in _procs:
            _procs.remove(self.proc)


class RespError(Exception):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One RESP2 connection: raw socket, pipelining, and just enough of a reply parser."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def reply(self):
        """One reply: bytes, None (nil), str (status), int, list, or a RespError instance."""
        while True:
            buf, pos = self.buf, self.pos
            e = buf.find(b"\r\n", pos)
            if e < 0:
                self._fill()
                continue
            t = buf[pos]
            if t == 36:  # $
                n = int(buf[pos + 1:e])
                if n < 0:
                    self.pos = e + 2
                    return None
                if e + 4 + n > len(buf):
                    self._fill()
                    continue
                self.pos = e + 4 + n
                return buf[e + 2:e + 2 + n]
            self.pos = e + 2
            line = buf[pos + 1:e]
            if t == 43:  # +
                return line.decode()
            if t == 45:  # -
                return RespError(line.decode())
            if t == 58:  # :
                return int(line)
            if t == 42:  # *
                n = int(line)
                return None if n < 0 else [self.reply() for _ in range(n)]
            raise ConnectionError(f"unexpected reply {buf[pos:e][:80]!r}")

    def command(self, *args, check=True):
        self.sock.sendall(encode(*args))
        r = self.reply()
        if check and isinstance(r, RespError):
            raise r
        return r

    def info(self, section):
        out = {}
        for line in self.command("INFO", section).decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def read_gets(self, count):
        """Replies to `count` pipelined GETs: how many were hits, and a list of hit flags."""
        flags = []
        buf, pos = self.buf, self.pos
        while len(flags) < count:
            e = buf.find(b"\r\n", pos)
            if e < 0:
                self.buf, self.pos = buf, pos
                self._fill()
                buf, pos = self.buf, self.pos
                continue
            if buf[pos] != 36:
                raise ConnectionError(f"GET: unexpected reply {buf[pos:e][:80]!r}")
            if buf[pos + 1] == 45:  # $-1
                flags.append(False)
                pos = e + 2
                continue
            end = e + 4 + int(buf[pos + 1:e])
            if end > len(buf):
                self.buf, self.pos = buf, pos
                self._fill()
                buf, pos = self.buf, self.pos
                continue
            flags.append(True)
            pos = end
        self.buf, self.pos = buf, pos
        return flags

    def read_statuses(self, count):
        """Replies to `count` pipelined SETs: (number of +OK, number of -OOM, other errors)."""
        ok = oom = other = 0
        buf, pos = self.buf, self.pos
        seen = 0
        while seen < count:
            e = buf.find(b"\r\n", pos)
            if e < 0:
                self.buf, self.pos = buf, pos
                self._fill()
                buf, pos = self.buf, self.pos
                continue
            t = buf[pos]
            if t == 43:
                ok += 1
            elif buf.startswith(b"-OOM", pos):
                oom += 1
            elif t == 45:
                other += 1
                if other == 1:
                    self.first_error = buf[pos:e].decode(errors="replace")
            else:
                raise ConnectionError(f"SET: unexpected reply {buf[pos:e][:80]!r}")
            seen += 1
            pos = e + 2
        self.buf, self.pos = buf, pos
        return ok, oom, other


class Workload:
    """Keys, values, and one Zipf request sequence (a list of key indices)."""

    def __init__(self, args, seed, use_numpy):
        n = args.keys
        width = max(8, len(str(n - 1)))
        self.key_args = [b"$%d\r\nkey:%0*d\r\n" % (4 + width, width, i) for i in range(n)]
        self.get_cmds = [b"*2\r\n$3\r\nGET\r\n" + k for k in self.key_args]
        self.set_prefix = b"*3\r\n$3\r\nSET\r\n"
        value = b"v" * args.value_size
        self.value_arg = b"$%d\r\n%s\r\n" % (len(value), value)
        self.capacity = max(1, int(n * args.fit))
        self.seq, self.oracle, self.generator = zipf_sequence(n, args.requests, args.alpha, seed, self.capacity,
                                                              use_numpy)

    def set_cmd(self, k):
        return self.set_prefix + self.key_args[k] + self.value_arg


def zipf_sequence(n, requests, alpha, seed, capacity, use_numpy):
    """Requests drawn from Zipf(alpha) over n keys; the key of rank r is perm[r]. Also returns the
    share of requests the `capacity` most popular keys get (a static cache holding exactly them)."""
    if use_numpy:
        import numpy as np
        rng = np.random.default_rng(seed)
        perm = rng.permutation(n)
        cum = np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.float64) ** alpha)
        ranks = np.minimum(np.searchsorted(cum, rng.random(requests) * cum[-1], side="right"), n - 1)
        return perm[ranks].tolist(), float(cum[capacity - 1] / cum[-1]), f"numpy {np.__version__}"
    rnd = random.Random(seed)
    perm = list(range(n))
    rnd.shuffle(perm)
    cum = list(itertools.accumulate(1.0 / (i ** alpha) for i in range(1, n + 1)))
    total, last, rand, bis = cum[-1], n - 1, rnd.random, bisect.bisect_right
    seq = [perm[min(bis(cum, rand() * total), last)] for _ in range(requests)]
    return seq, cum[capacity - 1] / total, "pure Python (bisect)"


def load(conn, wl, count, batch=1000):
    for lo in range(0, count, batch):
        hi = min(lo + batch, count)
        conn.sock.sendall(b"".join([wl.set_cmd(k) for k in range(lo, hi)]))
        ok, oom, other = conn.read_statuses(hi - lo)
        if oom or other:
            raise RuntimeError("SET failed while measuring bytes per key")


def replay(conn, wl, warm, batch):
    """GET each request's key, SET it on a miss. Counts are over the requests after `warm`."""
    seq = wl.seq
    get_cmds, set_cmd = wl.get_cmds, wl.set_cmd
    r = {"hits": 0, "misses": 0, "sets": 0, "oom": 0, "set_errors": 0}
    t0 = time.perf_counter()
    cmds = 0
    for phase, (lo, hi) in enumerate(((0, warm), (warm, len(seq)))):
        if phase == 1:
            r["info0"] = conn.info("stats")
        hits = misses = sets = oom = other = 0
        for i in range(lo, hi, batch):
            keys = seq[i:min(i + batch, hi)]
            conn.sock.sendall(b"".join([get_cmds[k] for k in keys]))
            flags = conn.read_gets(len(keys))
            missed = [k for k, hit in zip(keys, flags) if not hit]
            hits += len(keys) - len(missed)
            misses += len(missed)
            cmds += len(keys)
            if missed:
                missed = list(dict.fromkeys(missed))  # one SET per key and batch
                conn.sock.sendall(b"".join([set_cmd(k) for k in missed]))
                _, o, e = conn.read_statuses(len(missed))
                sets += len(missed)
                oom += o
                other += e
                cmds += len(missed)
        if phase == 1:
            r.update(hits=hits, misses=misses, sets=sets, oom=oom, set_errors=other)
        else:
            r["warm_oom"] = oom
            r["warm_set_errors"] = other
    r["seconds"] = time.perf_counter() - t0
    r["cmds_per_s"] = cmds / r["seconds"]
    r["info1"] = conn.info("stats")
    return r


def run_one(kind, policy, wl, args, maxmemory=None):
    """A fresh server: set the policy, measure bytes per key, set maxmemory, replay."""
    srv = Server(kind, args.binary, args.redis_server)
    conn = None
    try:
        conn = Conn(srv.port)
        res = conn.command("CONFIG", "SET", "maxmemory-policy", policy, check=False)
        if isinstance(res, RespError):
            return {"na": str(res)}
        # Bytes per key of this server, for the workload's own keys and values.
        conn.command("FLUSHALL")
        base = int(conn.info("memory")["used_memory"])
        sample = min(args.sample or wl.capacity, args.keys)
        load(conn, wl, sample)
        loaded = int(conn.info("memory")["used_memory"])
        conn.command("FLUSHALL")
        bpk = (loaded - base) / sample
        own = int(base + wl.capacity * bpk)
        if maxmemory is None:
            maxmemory = own
        conn.command("CONFIG", "SET", "maxmemory", str(maxmemory))
        got = conn.command("CONFIG", "GET", "maxmemory")
        if int(got[1]) != maxmemory:
            raise RuntimeError(f"{kind}: CONFIG GET maxmemory says {got[1]!r}, set {maxmemory}")
        conn.command("CONFIG", "RESETSTAT")
        ev0 = int(conn.info("stats").get("evicted_keys", 0))
        r = replay(conn, wl, len(wl.seq) // 3, args.batch)
        mem = conn.info("memory")
        r.update(maxmemory=maxmemory, own_maxmemory=own, base=base, bpk=bpk,
                 used_end=int(mem["used_memory"]), dbsize=conn.command("DBSIZE"),
                 evicted=int(r["info1"].get("evicted_keys", 0)) - ev0,
                 first_error=getattr(conn, "first_error", None))
        i0, i1 = r.pop("info0"), r.pop("info1")
        r["info_hits"] = int(i1["keyspace_hits"]) - int(i0["keyspace_hits"])
        r["info_misses"] = int(i1["keyspace_misses"]) - int(i0["keyspace_misses"])
        total = r["hits"] + r["misses"]
        r["hit"] = r["hits"] / total
        r["miss"] = r["misses"] / total
        # Not enforced: well over the limit without evicting or refusing anything (a server that
        # accepts maxmemory but cannot evict yet).
        r["enforced"] = r["used_end"] <= maxmemory * OVER_LIMIT or r["evicted"] + r["oom"] + r["warm_oom"] > 0
        r["fill"] = r["dbsize"] / wl.capacity
        return r
    finally:
        if conn:
            conn.close()
        srv.stop()


def human(b):
    for unit in ("B", "K", "M", "G"):
        if abs(b) < 1024 or unit == "G":
            return f"{b:.0f}{unit}" if unit == "B" else f"{b:.2f}{unit}"
        b /= 1024


def median(values):
    return statistics.median(values) if values else None


def summarize(rounds_results, rows, ref_key):
    """Per row, medians over rounds; None where a round had n/a."""
    out = {}
    for key in rows:
        runs = [rr.get(key) for rr in rounds_results]
        if not runs or any(r is None for r in runs):
            out[key] = None
            continue
        na = [r["na"] for r in runs if "na" in r]
        if na:
            out[key] = {"na": na[0]}
            continue
        rel = []
        for rr, r in zip(rounds_results, runs):
            ref = rr.get(ref_key)
            if ref and "na" not in ref and ref["miss"] > 0:
                rel.append(r["miss"] / ref["miss"])
        m = {f: median([r[f] for r in runs]) for f in
             ("hit", "miss", "maxmemory", "base", "bpk", "evicted", "oom", "dbsize", "used_end", "cmds_per_s", "seconds")}
        m["oom"] += median([r["warm_oom"] for r in runs])
        m["rel"] = median(rel)
        m["enforced"] = all(r["enforced"] for r in runs)
        m["fill"] = median([r["fill"] for r in runs])
        m["spread"] = (min(r["miss"] for r in runs), max(r["miss"] for r in runs))
        m["info_ok"] = all(r["info_hits"] == r["hits"] and r["info_misses"] == r["misses"] for r in runs)
        m["set_errors"] = max(r["set_errors"] + r["warm_set_errors"] for r in runs)
        m["first_error"] = next((r["first_error"] for r in runs if r["first_error"]), None)
        out[key] = m
    return out


def print_table(title, summary, order, nrounds):
    print(f"### {title}\n")
    print("| server | policy | maxmemory | used_memory empty | bytes/key | hit ratio | miss ratio | miss vs Redis LRU | "
          "evicted keys | OOM replies | keys at end | used/max at end | cmds/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for key in order:
        m = summary.get(key)
        server, policy = key[0], key[1]
        if m is None:
            continue
        if "na" in m:
            print(f"| {server} | {policy} | n/a | | | n/a | n/a | n/a | | | | | |")
            notes.append(f"{server} {policy}: n/a ({m['na']})")
            continue
        miss = f"{m['miss']:.4f}"
        if nrounds > 1:
            miss += f" ({m['spread'][0]:.4f}-{m['spread'][1]:.4f})"
        rel = f"{m['rel']:.2f}x" if m["rel"] is not None else "-"
        flag = "" if m["enforced"] else " (limit not enforced)"
        print(f"| {server} | {policy} | {human(m['maxmemory'])} | {human(m['base'])} | {m['bpk']:.1f} | {m['hit']:.4f} | {miss} | {rel} | "
              f"{m['evicted']:,.0f} | {m['oom']:,.0f} | {m['dbsize']:,.0f} | "
              f"{m['used_end'] / m['maxmemory']:.2f}{flag} | {m['cmds_per_s']:,.0f} |")
        if m["enforced"] and key[2] == "own" and not FILL_OK[0] <= m["fill"] <= FILL_OK[1]:
            notes.append(f"{server} {policy}: holds {m['dbsize']:,.0f} keys at the end, {m['fill']:.2f}x the "
                         f"intended capacity: what it checks maxmemory against is not INFO used_memory")
        if not m["info_ok"]:
            notes.append(f"{server} {policy}: INFO keyspace_hits/misses differ from the client's counts")
        if m["set_errors"]:
            notes.append(f"{server} {policy}: {m['set_errors']} SET errors other than OOM, e.g. {m['first_error']}")
    print()
    for n in notes:
        print(f"- {n}")
    if notes:
        print()
    sys.stdout.flush()


def best_modern(summary):
    best = None
    for (server, policy, _), m in summary.items():
        if server != "tagcache" or policy in CLASSIC or not m or "na" in m or not m["enforced"] or m["rel"] is None:
            continue
        if best is None or m["rel"] < best[1]:
            best = (policy, m["rel"], m["miss"], m["fill"])
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=200_000, help="distinct keys (default 200,000)")
    ap.add_argument("--requests", type=int, default=1_500_000, help="GETs per replay (default 1,500,000)")
    ap.add_argument("--value-size", type=int, default=100, help="bytes per value (default 100)")
    ap.add_argument("--alpha", type=float, default=0.99, help="Zipf exponent (default 0.99)")
    ap.add_argument("--fit", type=float, default=0.1, help="share of the keys that fit in maxmemory (default 0.1)")
    ap.add_argument("--sample", type=int, default=0, help="keys loaded to measure bytes/key (default: keys x fit)")
    ap.add_argument("--batch", type=int, default=200, help="GETs per pipelined batch (default 200)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds with seeds seed..seed+rounds-1; medians (default 3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policies", default=",".join(TAGCACHE_POLICIES), help="TagCache policies, comma-separated")
    ap.add_argument("--redis-policies", default=",".join(REDIS_POLICIES),
                    help="Redis policies (allkeys-lru, the reference, is always run)")
    ap.add_argument("--servers", default="redis,tagcache", help="redis, tagcache or both")
    ap.add_argument("--no-absolute", action="store_true", help="skip the table with Redis's absolute maxmemory")
    ap.add_argument("--binary", default=benchmark.BINARY, help="tagcache-server (default: release build, or $TAGCACHE_BINARY)")
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--pure-python", action="store_true", help="Zipf sampler without numpy even if numpy is there")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.time()

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not set(servers) <= {"redis", "tagcache"} or not servers:
        ap.error("--servers takes redis, tagcache or both")
    tc_policies = [p.strip() for p in args.policies.split(",") if p.strip()] if "tagcache" in servers else []
    rd_policies = []
    if "redis" in servers:
        rd_policies = [p.strip() for p in args.redis_policies.split(",") if p.strip()]
        if "allkeys-lru" not in rd_policies:
            rd_policies.insert(0, "allkeys-lru")
    absolute = "redis" in servers and tc_policies and not args.no_absolute
    if tc_policies and not args.no_build and not os.environ.get("TAGCACHE_BINARY") and args.binary == benchmark.BINARY:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=ROOT, check=True)
    if tc_policies and not os.access(args.binary, os.X_OK):
        sys.exit(f"no tagcache-server at {args.binary} (build it, or set TAGCACHE_BINARY / --binary)")

    use_numpy = False
    if not args.pure_python:
        try:
            import numpy  # noqa: F401
            use_numpy = True
        except ImportError:
            pass

    versions = []
    if rd_policies:
        versions.append(subprocess.run([args.redis_server, "--version"], capture_output=True, text=True).stdout.strip())
    if tc_policies:
        versions.append(f"TagCache {args.binary}")
    print(f"Machine: {os.cpu_count()} cores; " + "; ".join(versions))
    capacity = max(1, int(args.keys * args.fit))
    warm = args.requests // 3
    print(f"Workload: {args.keys:,} keys, {args.value_size}-byte values, {args.requests:,} GETs (SET on miss), "
          f"Zipf({args.alpha}), batches of {args.batch}; first {warm:,} requests are warm-up; "
          f"maxmemory holds ~{capacity:,} keys ({args.fit:.0%}); {args.rounds} round(s), seeds "
          f"{args.seed}..{args.seed + args.rounds - 1}; medians over rounds, miss ratio min-max in brackets\n")
    sys.stdout.flush()

    rounds, order, oracle = [], [], []
    for key in [("redis", p, "own") for p in rd_policies] + [("tagcache", p, "own") for p in tc_policies] + \
               ([("tagcache", p, "abs") for p in tc_policies] if absolute else []):
        order.append(key)
    try:
        for r in range(args.rounds):
            t = time.time()
            wl = Workload(args, args.seed + r, use_numpy)
            oracle.append(wl.oracle)
            gen_s = time.time() - t
            res = {}
            for kind, policy, mode in order:
                maxmemory = None
                if mode == "abs":
                    ref = res.get(("redis", "allkeys-lru", "own"))
                    if not ref or "na" in ref:
                        continue
                    maxmemory = ref["maxmemory"]
                res[(kind, policy, mode)] = run_one(kind, policy, wl, args, maxmemory)
                m = res[(kind, policy, mode)]
                state = "n/a" if "na" in m else f"miss {m['miss']:.4f}, {m['seconds']:.1f} s"
                print(f"  round {r + 1}: {kind} {policy}{' (Redis maxmemory)' if mode == 'abs' else ''}: {state}",
                      file=sys.stderr, flush=True)
            print(f"  round {r + 1}: workload ({wl.generator}) {gen_s:.1f} s, round {time.time() - t:.0f} s",
                  file=sys.stderr, flush=True)
            rounds.append(res)
    finally:
        _stop_all()

    ref_key = ("redis", "allkeys-lru", "own")
    own = summarize(rounds, [k for k in order if k[2] == "own"], ref_key)
    print(f"Workload generator: {wl.generator}. The {capacity:,} most popular keys, held permanently, would serve "
          f"{median(oracle):.4f} of the requests (static oracle).\n")
    print_table("Each server's maxmemory holds ~10% of its own keys (compares the policies)"
                if args.fit == 0.1 else f"Each server's maxmemory holds ~{args.fit:.0%} of its own keys",
                own, [k for k in order if k[2] == "own"], args.rounds)
    ab = {}
    if absolute:
        ab = summarize(rounds, [k for k in order if k[2] == "abs" or k[0] == "redis"], ref_key)
        print_table("Same absolute maxmemory as Redis (what users compare)", ab,
                    [k for k in order if k[0] == "redis"] + [k for k in order if k[2] == "abs"], args.rounds)

    if ref_key in own and own[ref_key] and "na" not in own[ref_key]:
        best = best_modern(own)
        modern = [p for p in tc_policies if p not in CLASSIC]
        if not tc_policies:
            print("Goal: not judged (no TagCache policy run)")
        elif best is None:
            states = []
            for p in modern:
                m = own.get(("tagcache", p, "own"))
                states.append(f"{p}: " + ("n/a" if not m or "na" in m else "limit not enforced"))
            why = "no modern policy requested" if not modern else "no modern policy result (" + ", ".join(states) + ")"
            print(f"Goal (best modern TagCache policy miss ratio <= {GOAL:.2f}x Redis allkeys-lru): "
                  f"NOT MET: {why}")
        else:
            extra = ""
            b2 = best_modern(ab) if ab else None
            if b2:
                extra = f"; with Redis's absolute maxmemory: {b2[0]} {b2[1]:.2f}x"
            verdict = "MET" if best[1] <= GOAL else "NOT MET"
            if not FILL_OK[0] <= best[3] <= FILL_OK[1]:
                extra += (f" (caution: {best[0]} held {best[3]:.2f}x the intended number of keys, "
                          f"Redis allkeys-lru {own[ref_key]['fill']:.2f}x)")
            print(f"Goal (best modern TagCache policy miss ratio <= {GOAL:.2f}x Redis allkeys-lru): {verdict}: "
                  f"{best[0]} miss ratio {best[2]:.4f} = {best[1]:.2f}x Redis allkeys-lru "
                  f"({own[ref_key]['miss']:.4f}){extra}")
    else:
        print("Goal: not judged (needs the redis-server allkeys-lru row)")
    print(f"\nTotal time: {time.time() - started:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        _stop_all()
        sys.exit("interrupted; servers stopped")
