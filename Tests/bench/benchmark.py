#!/usr/bin/env python3
"""TagCache vs redis-server on this machine, in one run.

Builds TagCache in release, starts it and redis-server 7 with comparable settings on ephemeral
ports, and runs redis-benchmark against each in alternation for several rounds, one test at a
time. Prints medians, min-max spreads and TagCache/Redis ratios taken per adjacent pair of runs
(so background noise hits both sides alike), the server CPU each request cost (the process's
utime+stime over the run: the efficiency figure, fairest on a shared machine), memory per key
for 1,000,000 keys (with and without a TTL), and the time from process start to the first PONG.

    python3 Tests/bench/benchmark.py              # everything, 3 rounds
    python3 Tests/bench/benchmark.py --rounds 5 --quick
    python3 Tests/bench/benchmark.py --only throughput --config P16 --tests set,get --rounds 4
    python3 Tests/bench/benchmark.py --only throughput --pinned --tests set,get,mget,exec   # 1 core each
    TAGCACHE_BINARY=/path/to/tagcache-server python3 Tests/bench/benchmark.py --no-build  # another build

Needs redis-server, redis-benchmark and redis-cli (apt-get install redis-server redis-tools).
"""
import argparse
import hashlib
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("TAGCACHE_BINARY") or os.path.join(ROOT, ".build", "release", "tagcache-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ping(port, timeout=0.05):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Server:
    """A server process: tagcache or redis."""

    def __init__(self, kind, extra=(), args=None):
        self.kind = kind
        self.port = free_port()
        pin = ["taskset", "-c", args.server_cpus] if args is not None and args.pinned else []
        if kind == "tagcache":
            cmd = [BINARY, "--port", str(self.port), "--loglevel", "warning"] + list(extra)
        else:
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--loglevel", "warning"] + list(extra)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(pin + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not ping(self.port):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{kind} did not start")
            time.sleep(0.0005)
        self.first_pong_ms = (time.perf_counter() - self.started) * 1000

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# Workloads redis-benchmark has no test for, run as its custom commands (every __rand_int__ is
# drawn on its own, so the 10 keys differ).
TEN_KEYS = " ".join("key:__rand_int__" for _ in range(10))
# Scripts run by EVALSHA (loaded with SCRIPT LOAD on both servers before each run): a one-key
# GET, and a SET and EXPIRE of one key (redis-py Lock's and rate limiters' shape).
SCRIPTS = {
    "evalsha_get": "return redis.call('GET', KEYS[1])",
    "evalsha_set": "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], 100)",
}
CUSTOM = {
    "mget": ["MGET"] + TEN_KEYS.split(),
    "del": ["DEL"] + TEN_KEYS.split(),
    "evalsha_get": ["EVALSHA", hashlib.sha1(SCRIPTS["evalsha_get"].encode()).hexdigest(), "1", "key:__rand_int__"],
    "evalsha_set": ["EVALSHA", hashlib.sha1(SCRIPTS["evalsha_set"].encode()).hexdigest(), "1", "key:__rand_int__",
                    "v" * 32],
}
# EXEC of 5 commands: redis-benchmark sends one command at a time, so exec_load below drives it.
EXEC_COMMANDS = [["SET", "tx:{i}:a", "v" * 32], ["SET", "tx:{i}:b", "v" * 32], ["GET", "tx:{i}:a"],
                 ["GET", "tx:{i}:b"], ["EXPIRE", "tx:{i}:a", "100"]]


def client_prefix(args):
    return ["taskset", "-c", args.client_cpus] if args.pinned else []


def load_script(port, test):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(resp("SCRIPT", "LOAD", SCRIPTS[test]))
        reply = c.recv(4096)
    if not reply.startswith(b"$40"):
        raise RuntimeError(f"SCRIPT LOAD on port {port} answered {reply[:200]!r}")


def redis_benchmark(port, test, clients, pipeline, requests, args):
    if test in SCRIPTS:
        load_script(port, test)
    cmd = client_prefix(args) + ["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients),
                                 "-P", str(pipeline), "-r", "100000", "-d", "32", "--csv"]
    cmd += CUSTOM[test] if test in CUSTOM else ["-t", test]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) < 8 or parts[0] == "test":
            continue
        return {"rps": float(parts[1]), "p50": float(parts[4]), "p99": float(parts[6])}
    raise RuntimeError(f"redis-benchmark printed no result for {test}: {out[-300:]}")


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def exec_load(port, clients, pipeline, transactions, args):
    """MULTI, the 5 commands of EXEC_COMMANDS, EXEC: `pipeline` transactions per write on each of
    `clients` connections, the next write once every reply of the previous one arrived (as
    redis-benchmark does). Runs in a child process (pinned like redis-benchmark) and checks the
    replies byte for byte before counting them."""
    code = r'''
import selectors, socket, sys, time
port, clients, pipeline, total = map(int, sys.argv[1:5])
batches, expect = [], None
for c in range(clients):
    tx = []
    for p in range(pipeline):
        i = c * pipeline + p
        cmds = [[a.replace("{i}", str(i)) for a in cmd] for cmd in CMDS]
        tx.append(RESP("MULTI") + b"".join(RESP(*cmd) for cmd in cmds) + RESP("EXEC"))
    batches.append(b"".join(tx))
one = b"+OK\r\n" + b"+QUEUED\r\n" * 5 + b"*5\r\n+OK\r\n+OK\r\n$32\r\n" + b"v" * 32 + b"\r\n$32\r\n" + b"v" * 32 + b"\r\n:1\r\n"
expect = one * pipeline
sel = selectors.DefaultSelector()
socks = []
for c in range(clients):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    socks.append(s)
    sel.register(s, selectors.EVENT_READ, [c, bytearray()])
sent = 0
t0 = time.perf_counter()
for c, s in enumerate(socks):
    s.sendall(batches[c]); sent += pipeline
done, checked = 0, False
while done < total:
    for key, _ in sel.select():
        c, buf = key.data
        buf += key.fileobj.recv(1 << 16)
        while len(buf) >= len(expect):
            if not checked:
                if bytes(buf[:len(expect)]) != expect:
                    sys.exit("unexpected reply: %r" % bytes(buf[:200]))
                checked = True
            del buf[:len(expect)]
            done += pipeline
            if sent < total:
                key.fileobj.sendall(batches[c]); sent += pipeline
elapsed = time.perf_counter() - t0
print(done / elapsed)
'''
    import inspect
    code = inspect.getsource(resp).replace("def resp(", "def RESP(") + f"CMDS = {EXEC_COMMANDS!r}\n" + code
    cmd = client_prefix(args) + [sys.executable, "-c", code, str(port), str(clients), str(pipeline), str(transactions)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"exec load failed: {r.stderr[-300:]}")
    return {"rps": float(r.stdout.strip()), "p50": 0.0, "p99": 0.0}


def fmt_spread(values, digits=0):
    f = f"{{:,.{digits}f}}"
    return f"{f.format(statistics.median(values))} ({f.format(min(values))}-{f.format(max(values))})"


CONFIGS = {"P1": "-c 50 -P 1", "P16": "-c 50 -P 16", "c1": "-c 1"}


def throughput(args):
    configs = [("-c 50 -P 1", 50, 1, args.requests), ("-c 50 -P 16", 50, 16, args.requests * 8),
               ("-c 1", 1, 1, max(args.requests // 4, 10000))]
    if args.config:
        configs = [c for c in configs if c[0] in {CONFIGS[k] for k in args.config}]
    tests = args.tests.split(",")
    results = []
    tc = Server("tagcache", args.tagcache_arg, args)
    rd = Server("redis", (), args)
    try:
        for label, clients, pipeline, n in configs:
            per = {}
            for r in range(args.rounds):
                order = [tc, rd] if r % 2 == 0 else [rd, tc]
                for test in tests:
                    # Transactions are 7 commands each: a seventh as many keeps the run as long.
                    count = max(n // 7, 1000) if test == "exec" else n
                    got = {}
                    for s in order:
                        c0 = s.cpu_seconds()
                        if test == "exec":
                            got[s.kind] = exec_load(s.port, clients, pipeline, count, args)
                        else:
                            got[s.kind] = redis_benchmark(s.port, test, clients, pipeline, count, args)
                        got[s.kind]["us"] = (s.cpu_seconds() - c0) / count * 1e6
                    e = per.setdefault(test.upper(), {})
                    a, b = got["tagcache"], got["redis"]
                    for key, value in (("tc", a["rps"]), ("rd", b["rps"]), ("ratio", a["rps"] / b["rps"]),
                                       ("tc99", a["p99"]), ("rd99", b["p99"]), ("tc50", a["p50"]),
                                       ("rd50", b["p50"]), ("tcus", a["us"]), ("rdus", b["us"]),
                                       ("usratio", a["us"] / b["us"] if b["us"] else 0.0)):
                        e.setdefault(key, []).append(value)
            results.append((label, per))
    finally:
        tc.stop()
        rd.stop()
    return results


def write_mass_insert(path, n, ttl):
    with open(path, "wb") as f:
        for i in range(n):
            k = b"key:%012d" % i  # 16 bytes
            v = b"v" * 22 + b"%010d" % i  # 32 bytes
            if ttl:
                f.write(b"*5\r\n$3\r\nSET\r\n$16\r\n%s\r\n$32\r\n%s\r\n$2\r\nEX\r\n$6\r\n100000\r\n" % (k, v))
            else:
                f.write(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$32\r\n%s\r\n" % (k, v))


def memory(args):
    n = args.keys
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for ttl in (False, True):
            path = os.path.join(d, f"load-{ttl}.resp")
            write_mass_insert(path, n, ttl)
            for kind in ("tagcache", "redis"):
                s = Server(kind)
                try:
                    time.sleep(0.2)
                    base = s.rss()
                    with open(path, "rb") as f:
                        subprocess.run(["redis-cli", "-p", str(s.port), "--pipe"], stdin=f, capture_output=True, check=True)
                    size = int(subprocess.run(["redis-cli", "-p", str(s.port), "DBSIZE"], capture_output=True,
                                              text=True).stdout.strip())
                    time.sleep(0.2)
                    out[(kind, ttl)] = ((s.rss() - base) / n, size)
                finally:
                    s.stop()
    return out


def start_times(args):
    times = {"tagcache": [], "redis": []}
    for _ in range(args.rounds + 2):
        for kind in ("tagcache", "redis"):
            s = Server(kind)
            times[kind].append(s.first_pong_ms)
            s.stop()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000, help="requests per run at -c 50 -P 1")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--quick", action="store_true", help="fewer requests and keys (a smoke run)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", choices=["throughput", "memory", "start"], action="append")
    ap.add_argument("--config", choices=sorted(CONFIGS), action="append",
                    help="throughput only at these client settings (P1: -c 50, P16: -c 50 -P 16, c1: -c 1)")
    ap.add_argument("--tests", default="set,get,incr,mset",
                    help="redis-benchmark -t names, and mget / del (10 keys each), exec (MULTI, 5 commands, EXEC), "
                         "evalsha_get (a one-key GET script) and evalsha_set (SET + EXPIRE of one key)")
    ap.add_argument("--pinned", action="store_true",
                    help="servers on --server-cpus, the client on --client-cpus (taskset)")
    ap.add_argument("--server-cpus", default="0")
    ap.add_argument("--client-cpus", default="1")
    ap.add_argument("--tagcache-arg", action="append", default=[],
                    help="an extra TagCache argument, repeatable (e.g. --tagcache-arg=--event-loops --tagcache-arg=1)")
    args = ap.parse_args()
    if args.quick:
        args.requests, args.keys = 50000, 100000
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=ROOT, check=True)
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    cpu = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        cpu = m.group(1) if m else platform.processor()
    print(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"Redis: {redis_version}")
    print(f"TagCache: {BINARY}")
    print(f"Rounds: {args.rounds}; values 32 bytes; random keys over 100k; client on the same machine\n")
    only = args.only or ["throughput", "memory", "start"]

    if "throughput" in only:
        for label, per in throughput(args):
            print(f"### redis-benchmark {label}" + (f", server on cpu {args.server_cpus}, client on cpu {args.client_cpus}"
                                                    if args.pinned else ""))
            print("server CPU per request in µs (utime+stime of the server process over the run)\n")
            if label == "-c 1":
                print("| test | TagCache p50 ms | Redis p50 ms | TagCache p99 ms | Redis p99 ms | TagCache rps | ratio |")
                print("|---|---|---|---|---|---|---|")
                for name, e in per.items():
                    print(f"| {name} | {statistics.median(e['tc50']):.3f} | {statistics.median(e['rd50']):.3f} | "
                          f"{statistics.median(e['tc99']):.3f} | {statistics.median(e['rd99']):.3f} | "
                          f"{fmt_spread(e['tc'])} | {fmt_spread(e['ratio'], 2)} |")
            else:
                print("| test | TagCache req/s | Redis req/s | TagCache/Redis | TagCache µs/req | Redis µs/req | CPU ratio |")
                print("|---|---|---|---|---|---|---|")
                for name, e in per.items():
                    print(f"| {name} | {fmt_spread(e['tc'])} | {fmt_spread(e['rd'])} | {fmt_spread(e['ratio'], 2)} | "
                          f"{statistics.median(e['tcus']):.2f} | {statistics.median(e['rdus']):.2f} | "
                          f"{statistics.median(e['usratio']):.2f} |")
            print()
            sys.stdout.flush()

    if "memory" in only:
        mem = memory(args)
        print(f"### Memory: RSS growth per key, {args.keys:,} keys (16-byte keys, 32-byte values)\n")
        print("| | TagCache bytes/key | Redis bytes/key | ratio |")
        print("|---|---|---|---|")
        for ttl in (False, True):
            a, b = mem[("tagcache", ttl)][0], mem[("redis", ttl)][0]
            print(f"| {'with TTL' if ttl else 'no TTL'} | {a:.1f} | {b:.1f} | {a / b:.2f} |")
        print()

    if "start" in only:
        t = start_times(args)
        print("### Start to first PONG (ms, median of runs)\n")
        print(f"| TagCache | {fmt_spread(t['tagcache'], 1)} |\n| Redis | {fmt_spread(t['redis'], 1)} |")


if __name__ == "__main__":
    main()
