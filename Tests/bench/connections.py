#!/usr/bin/env python3
"""What connections cost in memory: TagCache vs redis-server in one run.

Idle: opens N connections and reports the RSS growth per connection once they are connected,
right after each sent one PING, and again after they sat idle. Redis frees an idle client's
query buffer and shrinks its reply buffer in clientsCron (after ~2 s); a TagCache connection
owns buffers only for a request or reply that outlives a batch (its event loop lends it
blocks otherwise), and the loop's sweep frees them once the connection is idle.

Churn: R rounds of opening M connections (each PINGs once) and closing them all; reports RSS
before the first round, after each round and once the closes settled, next to the server's own
count of live heap (INFO used_memory), so memory that is freed but not given back shows up as
the gap between the two.

    python3 Tests/bench/connections.py                    # N=5000 idle, 9 rounds of 9,000
    python3 Tests/bench/connections.py --idle 2000 --rounds 3 --churn 3000 --no-build
    python3 Tests/bench/connections.py --payload 40000   # ECHO 40 KB: buffers of their own

Needs redis-server and a file descriptor limit above N and M (ulimit -n).
"""
import argparse
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import ROOT, Server  # noqa: E402


def open_connections(port, n):
    """n connections, opened one at a time (the listener's backlog never overflows, so no SYN is
    retried)."""
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(n)]


def ping_all(socks, payload=0):
    """Every connection sends PING (or, with a payload, ECHO of that many bytes) and reads the
    reply, one after the other."""
    if payload:
        data = b"x" * payload
        request = b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (payload, data)
        expected = b"$%d\r\n%s\r\n" % (payload, data)
    else:
        request, expected = b"PING\r\n", b"+PONG\r\n"
    for i, s in enumerate(socks):
        s.sendall(request)
        got = b""
        while len(got) < len(expected):
            chunk = s.recv(len(expected) - len(got))
            if not chunk:
                raise RuntimeError(f"connection {i} closed: {got[:100]!r}")
            got += chunk
        if got != expected:
            raise RuntimeError(f"unexpected reply {got[:100]!r} on connection {i}")


def used_memory(port):
    """INFO memory's used_memory (the bulk reply read whole)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"INFO memory\r\n")
        data = b""
        while b"\r\n" not in data:
            data += s.recv(65536)
        header, rest = data.split(b"\r\n", 1)
        size = int(header[1:])
        while len(rest) < size + 2:
            rest += s.recv(65536)
    for line in rest.decode(errors="replace").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return 0


def mb(b):
    return b / 2**20


def idle(kind, n, settle, payload):
    s = Server(kind, ["--maxclients", str(n + 100)])
    try:
        time.sleep(0.5)
        base = s.rss()
        socks = open_connections(s.port, n)
        time.sleep(1)
        connected = s.rss()
        ping_all(socks, payload)
        time.sleep(0.2)
        busy = s.rss()
        time.sleep(settle)
        rested = s.rss()
        for c in socks:
            c.close()
        return {"base_mb": mb(base), "connected": (connected - base) / n, "after_ping": (busy - base) / n,
                "after_idle": (rested - base) / n}
    finally:
        s.stop()


def churn(kind, rounds, m, settle, payload):
    s = Server(kind, ["--maxclients", str(m + 100)])
    try:
        time.sleep(0.5)
        rows = [("start", s.rss(), used_memory(s.port))]
        for r in range(rounds):
            socks = open_connections(s.port, m)
            ping_all(socks, payload)
            for c in socks:
                c.close()
            time.sleep(0.1)
            rows.append((f"round {r + 1}", s.rss(), used_memory(s.port)))
        time.sleep(settle)
        rows.append((f"+{settle:g} s", s.rss(), used_memory(s.port)))
        return rows
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=int, default=5000, help="idle connections held at once")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--churn", type=int, default=9000, help="connections opened and closed per round")
    ap.add_argument("--settle", type=float, default=12.0, help="seconds to wait for idle buffers to be given back")
    ap.add_argument("--payload", type=int, default=0,
                    help="each connection sends ECHO of this many bytes instead of PING")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", choices=["tagcache", "redis"], action="append")
    args = ap.parse_args()
    need = max(args.idle, args.churn) + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=ROOT, check=True)
    kinds = args.only or ["tagcache", "redis"]
    names = {"tagcache": "TagCache", "redis": "Redis"}

    what = f"ECHO of {args.payload:,} bytes" if args.payload else "PING"
    print(f"### Idle connections: RSS growth per connection, {args.idle:,} connections\n")
    print(f"| server | base RSS MB | bytes/conn connected | bytes/conn right after one {what} each | "
          f"bytes/conn after {args.settle:g} s idle |")
    print("|---|---|---|---|---|")
    for k in kinds:
        r = idle(k, args.idle, args.settle, args.payload)
        print(f"| {names[k]} | {r['base_mb']:.1f} | {r['connected']:,.0f} | {r['after_ping']:,.0f} | "
              f"{r['after_idle']:,.0f} |")
        sys.stdout.flush()

    print(f"\n### Churn: {args.rounds} rounds of {args.churn:,} connections opened (one {what} each) and closed\n")
    results = {k: churn(k, args.rounds, args.churn, args.settle, args.payload) for k in kinds}
    print("| after | " + " | ".join(f"{names[k]} RSS MB | {names[k]} used_memory MB" for k in kinds) + " |")
    print("|---|" + "---|---|" * len(kinds))
    for i, (label, _, _) in enumerate(results[kinds[0]]):
        cells = []
        for k in kinds:
            _, rss, used = results[k][i]
            cells += [f"{mb(rss):.1f}", f"{mb(used):.1f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
