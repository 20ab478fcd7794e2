#!/usr/bin/env python3
"""How fast expired keys give their memory back: TagCache vs redis-server in one run.

Loads N keys (default 1,000,000) that all expire at the same absolute moment (PXAT, 1 s after
the load ends), then polls DBSIZE and RSS. Prints, per server, the time from the deadline until
DBSIZE is 0 and until RSS is back within 10% of the growth over the empty process.

    python3 Tests/bench/expiry.py [--keys N] [--no-build]
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import ROOT, Server  # noqa: E402


def load(port, n, deadline_ms):
    lines = []
    for i in range(n):
        k = b"exp:%012d" % i
        lines.append(b"*5\r\n$3\r\nSET\r\n$16\r\n%s\r\n$32\r\n%s\r\n$4\r\nPXAT\r\n$%d\r\n%d\r\n"
                     % (k, b"v" * 32, len(str(deadline_ms)), deadline_ms))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(lines), capture_output=True, check=True)


def dbsize(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "DBSIZE"], capture_output=True, text=True).stdout
    return int(out.strip() or -1)


def measure(kind, n):
    s = Server(kind)
    try:
        time.sleep(0.2)
        base = s.rss()
        # Deadline far enough ahead that the whole load finishes first.
        t_load = time.time()
        deadline = int((t_load + 30) * 1000)
        load(s.port, n, deadline)
        loaded = time.time() - t_load
        peak = s.rss()
        size = dbsize(s.port)
        while time.time() * 1000 < deadline:
            time.sleep(0.005)
        t0 = time.time()
        zero_at = rss_at = None
        while time.time() - t0 < 30 and (zero_at is None or rss_at is None):
            if zero_at is None and dbsize(s.port) == 0:
                zero_at = time.time() - t0
            if rss_at is None and s.rss() - base <= 0.1 * (peak - base):
                rss_at = time.time() - t0
            time.sleep(0.01)
        return {"loaded": size, "load_s": loaded, "growth_mb": (peak - base) / 2**20,
                "zero_s": zero_at, "rss_s": rss_at, "rss_after_mb": (s.rss() - base) / 2**20}
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=ROOT, check=True)
    print(f"{args.keys:,} keys expiring at the same moment\n")
    print("| server | RSS growth MB | deadline -> DBSIZE 0 (s) | deadline -> RSS back (s) | RSS left MB |")
    print("|---|---|---|---|---|")
    for kind in ("tagcache", "redis"):
        r = measure(kind, args.keys)
        fmt = lambda v: "not within 30 s" if v is None else f"{v:.2f}"
        print(f"| {kind} | {r['growth_mb']:.0f} | {fmt(r['zero_s'])} | {fmt(r['rss_s'])} | {r['rss_after_mb']:.0f} |")


if __name__ == "__main__":
    main()
