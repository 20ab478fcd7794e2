#!/usr/bin/env python3
"""Tag figures: memory of 1,000,000 tagged keys and after invalidating them, and TAG.INVALIDATE
of one tag on 1,000,000 keys next to DEL of the same keys on redis-server 7, with the worst
latency a concurrent GET client sees meanwhile.

    python3 Tests/bench/tags_bench.py                 # builds release first
    python3 Tests/bench/tags_bench.py --keys 200000 --no-build

Starts its own tagcache-server (release) and redis-server on free ports and stops them by PID.
Needs redis-server and redis-cli (apt-get install redis-server redis-tools).
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, ".build", "release", "tagcache-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn:
    """A blocking RESP connection."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n" % len(a))
            out.append(a)
            out.append(b"\r\n")
        return b"".join(out)

    def read(self):
        line = self.file.readline()
        t = line[:1]
        if t in b"+:":
            return line[1:-2]
        if t == b"-":
            raise RuntimeError(line[1:-2].decode())
        if t == b"$":
            n = int(line[1:-2])
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if t == b"*":
            return [self.read() for _ in range(int(line[1:-2]))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read()

    def close(self):
        self.sock.close()


class Server:
    def __init__(self, kind):
        self.kind = kind
        self.port = free_port()
        if kind == "tagcache":
            cmd = [BINARY, "--port", str(self.port), "--loglevel", "warning"]
        else:
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--loglevel", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                Conn(self.port).call("PING")
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{kind} did not start")
                time.sleep(0.01)

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def info(self, section):
        text = Conn(self.port).call("INFO", section).decode()
        out = {}
        for line in text.split("\r\n"):
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def used_memory(self):
        return int(self.info("memory")["used_memory"])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


def pipe_load(port, commands):
    """Sends commands with redis-cli --pipe (mass insertion)."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        for c in commands:
            f.write(Conn.encode(c))
        path = f.name
    try:
        with open(path, "rb") as data:
            out = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=data, capture_output=True, text=True)
        if "errors: 0" not in out.stdout:
            raise RuntimeError(out.stdout + out.stderr)
    finally:
        os.unlink(path)


def mb(n):
    return f"{n / 1048576:.1f} MB"


class GetProbe:
    """A client sending GET in a loop on its own connection, recording each round trip."""

    def __init__(self, port, key):
        self.conn = Conn(port)
        self.key = key
        self.samples = []
        self.slow = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            t = time.perf_counter()
            self.conn.call("GET", self.key)
            d = time.perf_counter() - t
            self.samples.append(d)
            if d > 0.005:
                self.slow.append((t, d))

    def __enter__(self):
        self.thread.start()
        time.sleep(0.2)
        self.samples.clear()
        self.slow.clear()
        return self

    def __exit__(self, *exc):
        time.sleep(0.05)
        self.stop.set()
        self.thread.join()
        self.conn.close()

    def summary(self, start=None):
        s = sorted(self.samples)
        if not s:
            return "no GET completed"
        p99 = s[int(len(s) * 0.99) - 1] if len(s) >= 100 else s[-1]
        out = (f"{len(s)} GETs, median {statistics.median(s) * 1e6:.0f} us, p99 {p99 * 1e3:.2f} ms, "
               f"p99.9 {s[int(len(s) * 0.999) - 1] * 1e3 if len(s) >= 1000 else s[-1] * 1e3:.2f} ms, "
               f"worst {s[-1] * 1e3:.1f} ms, {len(self.slow)} over 5 ms")
        if start is not None and self.slow:
            worst = max(self.slow, key=lambda x: x[1])
            out += f" (worst sent {(worst[0] - start) * 1000:.0f} ms after the command)"
        return out


def memory_figures(n, tags_per_group):
    print(f"\n== memory: {n:,} keys, each with 2 tags ({tags_per_group} group tags + 10 shard-wide tags)")
    tc = Server("tagcache")
    try:
        time.sleep(0.5)
        base_used, base_rss = tc.used_memory(), tc.rss()
        print(f"  empty:                    used_memory {mb(base_used)}, RSS {mb(base_rss)}")
        pipe_load(tc.port, (["SET", f"key:{i:08d}", "v" * 16] for i in range(n)))
        plain_used, plain_rss = tc.used_memory(), tc.rss()
        print(f"  {n:,} untagged keys:   used_memory {mb(plain_used)}, RSS {mb(plain_rss)}")
        Conn(tc.port).call("FLUSHALL")
        pipe_load(tc.port, (["SET", f"key:{i:08d}", "v" * 16, "TAGS", f"group:{i % tags_per_group}", f"all:{i % 10}"]
                            for i in range(n)))
        tagged_used, tagged_rss = tc.used_memory(), tc.rss()
        tags = tc.info("tags")
        print(f"  {n:,} tagged keys:     used_memory {mb(tagged_used)}, RSS {mb(tagged_rss)}; "
              f"tags {tags['tags']}, tag_links {tags['tag_links']}, tag_index_bytes {mb(int(tags['tag_index_bytes']))}")
        print(f"  tags cost per key:        {(tagged_used - plain_used) / n:.1f} bytes of used_memory "
              f"({int(tags['tag_index_bytes']) / n:.1f} bytes by the index's own count)")
        c = Conn(tc.port)
        t = time.perf_counter()
        deleted = int(c.call("TAG.INVALIDATE", *[f"all:{i}" for i in range(10)]))
        dt = time.perf_counter() - t
        time.sleep(1.0)
        after_used, after_rss = tc.used_memory(), tc.rss()
        print(f"  TAG.INVALIDATE all:0..9:  {deleted:,} keys in {dt * 1000:.0f} ms")
        print(f"  after invalidating:       used_memory {mb(after_used)} ({mb(after_used - base_used)} above empty), "
              f"RSS {mb(after_rss)} ({mb(after_rss - base_rss)} above empty)")
        print(f"  INFO tags after:          {tc.info('tags')}")
    finally:
        tc.stop()


def timed(conn, *args):
    t = time.perf_counter()
    r = int(conn.call(*args))
    return r, time.perf_counter() - t


def invalidate_vs_del(n):
    print(f"\n== one tag on {n:,} keys: TAG.INVALIDATE on TagCache vs DEL of the same keys on redis-server")
    keys = [f"key:{i:08d}" for i in range(n)]
    tc = Server("tagcache")
    rd = Server("redis")
    try:
        loops = tc.info("server").get("event_loops")
        version = rd.info("server").get("redis_version")
        pipe_load(tc.port, [["SET", "probe", "x"]])
        pipe_load(rd.port, [["SET", "probe", "x"]])

        pipe_load(tc.port, (["SET", k, "v" * 16, "TAGS", "big"] for k in keys))
        deleted, dt = timed(Conn(tc.port), "TAG.INVALIDATE", "big")
        print(f"  TagCache TAG.INVALIDATE big, alone:        {deleted:,} keys in {dt * 1000:.0f} ms")
        pipe_load(tc.port, (["SET", k, "v" * 16, "TAGS", "big"] for k in keys))
        # The invalidating client connects first, the GET client next: round-robin puts them on
        # different event loops (the GET client would otherwise wait for the whole command).
        c = Conn(tc.port)
        with GetProbe(tc.port, "probe") as probe:
            t = time.perf_counter()
            deleted = int(c.call("TAG.INVALIDATE", "big"))
            dt = time.perf_counter() - t
        print(f"  TagCache TAG.INVALIDATE big, GET client on: {deleted:,} keys in {dt * 1000:.0f} ms ({loops} event loops)")
        print(f"    concurrent GET client: {probe.summary(t)}")

        pipe_load(tc.port, (["SET", k, "v" * 16] for k in keys))
        c = Conn(tc.port)
        with GetProbe(tc.port, "probe") as probe:
            t = time.perf_counter()
            deleted = int(c.call("DEL", *keys))
            dt = time.perf_counter() - t
        print(f"  TagCache DEL of the {deleted:,} keys (one command), GET client on: {dt * 1000:.0f} ms")
        print(f"    concurrent GET client: {probe.summary(t)}")

        pipe_load(rd.port, (["SET", k, "v" * 16] for k in keys))
        deleted, dt = timed(Conn(rd.port), "DEL", *keys)
        print(f"  redis-server {version} DEL of the {deleted:,} keys (one command), alone: {dt * 1000:.0f} ms")
        pipe_load(rd.port, (["SET", k, "v" * 16] for k in keys))
        c = Conn(rd.port)
        with GetProbe(rd.port, "probe") as probe:
            t = time.perf_counter()
            deleted = int(c.call("DEL", *keys))
            dt = time.perf_counter() - t
        print(f"  redis-server {version} DEL of the {deleted:,} keys, GET client on: {dt * 1000:.0f} ms")
        print(f"    concurrent GET client: {probe.summary(t)}")
    finally:
        tc.stop()
        rd.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--group-tags", type=int, default=1000)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--binary", help="a tagcache-server binary to measure (implies --no-build)")
    a = ap.parse_args()
    global BINARY
    if a.binary:
        BINARY = os.path.abspath(a.binary)
        a.no_build = True
    if not a.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    print(f"cpus {os.cpu_count()}, python {sys.version.split()[0]}")
    memory_figures(a.keys, a.group_tags)
    invalidate_vs_del(a.keys)


if __name__ == "__main__":
    main()
