#!/usr/bin/env python3
"""What TagCache's statistics cost: throughput with latency tracking and key-prefix statistics
on (the defaults: latency-tracking yes, stats-prefixes-max 64) against both off
(latency-tracking no, stats-prefixes-max 0), on the same binary.

Two servers run side by side; redis-benchmark drives them in alternation for several rounds
(the order flips every round, so background noise hits both alike), and the cost is the median
of the per-round ratios. With taskset and 2+ cores, each server runs one event loop pinned to
core 0 and redis-benchmark runs on core 1, which keeps the two from stealing each other's core. The keys are redis-benchmark's key:__rand_int__, so every read goes
through the prefix sketch ("key"). The slow log stays at its default threshold in both.

    python3 Tests/bench/stats_cost.py               # 9 rounds, -P 1 and -P 16
    python3 Tests/bench/stats_cost.py --rounds 11 --requests 400000
    python3 Tests/bench/stats_cost.py --binary .build/release/tagcache-server --no-build

Needs redis-benchmark (apt-get install redis-tools).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchmark  # noqa: E402  (Server, redis_benchmark)

ROOT = benchmark.ROOT

ON = ["--latency-tracking", "yes", "--stats-prefixes-max", "64"]
OFF = ["--latency-tracking", "no", "--stats-prefixes-max", "0"]


def run_benchmark(port, tests, pipeline, n, cpu):
    """redis-benchmark, pinned to `cpu` when taskset is there; {test: req/s}."""
    cmd = ["redis-benchmark", "-p", str(port), "-t", tests, "-n", str(n), "-c", "50", "-P", str(pipeline),
           "-r", "100000", "-d", "32", "--csv"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    rows = {}
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) >= 2 and parts[0] != "test":
            rows[parts[0].split(" ")[0]] = float(parts[1])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--requests", type=int, default=200000, help="requests per run at -P 1 (x8 at -P 16)")
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--binary", default=benchmark.BINARY)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the servers and redis-benchmark to cores")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tagcache-server"], cwd=ROOT, check=True)
    benchmark.BINARY = args.binary
    pin = not args.no_pin and os.cpu_count() >= 2 and shutil.which("taskset") is not None
    # Pinned: each server has one event loop on core 0, redis-benchmark runs on core 1.
    extra = ["--event-loops", "1"] if pin else []
    on = benchmark.Server("tagcache", ON + extra)
    off = benchmark.Server("tagcache", OFF + extra)
    if pin:
        for s in (on, off):
            subprocess.run(["taskset", "-a", "-p", "-c", "0", str(s.proc.pid)], capture_output=True, check=True)
    print(f"binary {args.binary}; {os.cpu_count()} cores; {args.rounds} rounds; tests {args.tests}"
          + ("; server (1 event loop) on core 0, redis-benchmark on core 1" if pin else ""))
    print("stats on:  " + " ".join(ON))
    print("stats off: " + " ".join(OFF) + "\n")
    worst = 0.0
    try:
        for label, pipeline, n in (("-c 50 -P 1", 1, args.requests), ("-c 50 -P 16", 16, args.requests * 8)):
            ratios, rps, cpu = {}, {}, {"on": [], "off": []}
            for r in range(args.rounds):
                order = [(on, "on"), (off, "off")] if r % 2 == 0 else [(off, "off"), (on, "on")]
                got = {}
                for s, name in order:
                    c0 = s.cpu_seconds()
                    got[name] = run_benchmark(s.port, args.tests, pipeline, n, 1 if pin else None)
                    total = sum(1 for _ in got[name]) * n
                    cpu[name].append((s.cpu_seconds() - c0) / max(total, 1) * 1e6)
                for test, v in got["on"].items():
                    if test not in got["off"]:
                        continue
                    ratios.setdefault(test, []).append(v / got["off"][test])
                    rps.setdefault(test, ([], []))
                    rps[test][0].append(v)
                    rps[test][1].append(got["off"][test])
            print(f"### redis-benchmark {label}\n")
            print("| test | stats on req/s | stats off req/s | on/off (median, min-max) | cost |")
            print("|---|---|---|---|---|")
            for test, rs in ratios.items():
                med = statistics.median(rs)
                worst = max(worst, 1 - med)
                print(f"| {test} | {statistics.median(rps[test][0]):,.0f} | {statistics.median(rps[test][1]):,.0f} | "
                      f"{med:.3f} ({min(rs):.3f}-{max(rs):.3f}) | {(1 - med) * 100:+.1f}% |")
            con, coff = statistics.median(cpu["on"]), statistics.median(cpu["off"])
            print(f"\nserver CPU per request (median): on {con:.2f} us, off {coff:.2f} us ({(con / coff - 1) * 100:+.1f}%)\n")
            sys.stdout.flush()
    finally:
        on.stop()
        off.stop()
    print(f"largest median throughput cost: {worst * 100:.1f}%")


if __name__ == "__main__":
    main()
