#!/usr/bin/env python3
"""Bytes per key, member and tag: RSS growth of a fresh server loaded with `redis-cli --pipe`,
for TagCache (one or more builds, in alternation) and redis-server 7 in the same run.

Workloads (each on a fresh server; figures are RSS growth divided by what was loaded):
  strings      1,000,000 keys, 16-byte keys, 32-byte values                  bytes/key
  strings-ttl  the same with EX 100000                                        bytes/key
  hash100      10,000 hashes of 100 fields (10-byte fields, 16-byte values)  bytes/field
  hash1000     1,000 hashes of 1,000 fields (hashtable encoding)             bytes/field
  set100       10,000 sets of 100 members (13-byte members)                  bytes/member
  set1000      1,000 sets of 1,000 members (hashtable encoding)              bytes/member
  tagged       the strings workload with two tags per key (TagCache only)    bytes/key

    python3 Tests/bench/memory.py                              # builds release, 1 round
    python3 Tests/bench/memory.py --no-build --rounds 3 \\
        --binary before=/tmp/tagcache-main --binary after=.build/release/tagcache-server

Needs redis-server and redis-cli (apt-get install redis-server redis-tools).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import benchmark

WORKLOADS = ["strings", "strings-ttl", "hash100", "hash1000", "set100", "set1000", "tagged"]


def bulk(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def write_load(path, workload, scale):
    """Writes the workload's commands; returns how many keys, fields or members it loads."""
    with open(path, "wb") as f:
        if workload in ("strings", "strings-ttl", "tagged"):
            n = scale
            for i in range(n):
                k, v = b"key:%012d" % i, b"v" * 22 + b"%010d" % i
                if workload == "strings-ttl":
                    f.write(bulk(b"SET", k, v, b"EX", b"100000"))
                elif workload == "tagged":
                    f.write(bulk(b"SET", k, v, b"TAGS", b"group:%d" % (i % 1000), b"all:%d" % (i % 10)))
                else:
                    f.write(bulk(b"SET", k, v))
            return n
        size = 100 if workload.endswith("100") else 1000
        keys = scale // size
        for i in range(keys):
            k = b"%s:%08d" % (workload.encode(), i)
            for start in range(0, size, 100):
                if workload.startswith("hash"):
                    args = [b"HSET", k]
                    for j in range(start, start + 100):
                        args += [b"field:%04d" % j, b"value:%010d" % j]
                else:
                    args = [b"SADD", k] + [b"member:%06d" % j for j in range(start, start + 100)]
                f.write(bulk(*args))
        return keys * size


def measure(kind, path, loaded, binary=None):
    if binary:
        benchmark.BINARY = binary
    s = benchmark.Server(kind)
    try:
        time.sleep(0.2)
        base = s.rss()
        with open(path, "rb") as f:
            out = subprocess.run(["redis-cli", "-p", str(s.port), "--pipe"], stdin=f, capture_output=True, text=True)
        if "errors: 0" not in out.stdout:
            raise RuntimeError(f"{kind}: {out.stdout} {out.stderr}")
        time.sleep(0.3)
        return (s.rss() - base) / loaded
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--scale", type=int, default=1_000_000, help="keys, fields or members per workload")
    ap.add_argument("--only", choices=WORKLOADS, action="append")
    ap.add_argument("--binary", action="append", metavar="NAME=PATH",
                    help="a tagcache-server build to measure (repeatable; default: this tree's release build)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print every measurement")
    args = ap.parse_args()
    builds = [tuple(b.split("=", 1)) for b in args.binary] if args.binary else [("tagcache", benchmark.BINARY)]
    if not args.no_build and not args.binary:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=benchmark.ROOT,
                       check=True)
    workloads = args.only or WORKLOADS
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for w in workloads:
            path = os.path.join(d, w + ".resp")
            loaded = write_load(path, w, args.scale)
            sides = [(name, "tagcache", os.path.abspath(p)) for name, p in builds]
            if w != "tagged":
                sides.append(("redis", "redis", None))
            for r in range(args.rounds):
                # Alternate the order so drift over the run hits every side alike.
                for name, kind, binary in (sides if r % 2 == 0 else sides[::-1]):
                    results.setdefault((w, name), []).append(measure(kind, path, loaded, binary))
            os.unlink(path)
    names = [n for n, _ in builds]
    header = names + ["redis"] + [f"{n}/redis" for n in names]
    print(f"RSS growth per key/field/member, {args.scale:,} per workload, median of {args.rounds}\n")
    print("| workload | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for w in workloads:
        row = [statistics.median(results[(w, n)]) for n in names]
        rd = statistics.median(results[(w, "redis")]) if (w, "redis") in results else None
        cells = [f"{v:.1f}" for v in row] + [f"{rd:.1f}" if rd else "-"]
        cells += [f"{v / rd:.2f}" if rd else "-" for v in row]
        print(f"| {w} | " + " | ".join(cells) + " |")
    if args.verbose:
        print()
        for (w, name), values in results.items():
            print(f"{w} {name}: " + " ".join(f"{v:.1f}" for v in values))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
