#!/usr/bin/env python3
"""Runs units of Redis's test suite against tagcache-server and judges the outcome.

Started by Tests/redis-tests/run.sh, which fetches the tests and prepares the working copy.

Each unit runs in its own harness process (`tclsh tests/test_helper.tcl --host --port --single
UNIT`, external-server mode) against a fresh server, so the CONFIG SETs a unit leaves behind
and a crash stay in that unit. `--durable` turns an error inside a test into a failed test
instead of the end of the run. `--timeout` is the harness's "no progress" limit: one test
that hangs longer ends the harness ([TIMEOUT]); the unit then resumes on a fresh server with
every test that already ran (and the hung one) skipped, at most MAX_ATTEMPTS times. An outer
limit per harness process catches a harness that hangs itself; what had not run then is not run.

A test's outcome is the worst of its runs (some names repeat within a unit). The suite fails
on a failure (error, timeout, exception, server exit) missing from expected-failures.txt, on a
listed test that passes now (delete its line: the list only shrinks), and on a listed or
not-run.txt test that no longer appears (renamed, or its unit changed).
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The units of Redis's suite for the command groups TagCache offers, and zset and pubsub, which
# fail wholesale until their groups land (expected-failures.txt). A group that lands adds its
# unit here (bitops, hyperloglog, geo, type/stream, tracking, acl, dump,
# sort...). unit/info, auth, limits, networking, obuf-limits, client-eviction and shutdown run
# nothing against an external server (tagged external:skip).
UNITS = [
    "unit/protocol", "unit/keyspace", "unit/scan", "unit/expire", "unit/info",
    "unit/info-command", "unit/other", "unit/quit", "unit/type/string", "unit/type/incr",
    "unit/type/list", "unit/type/list-2", "unit/type/list-3", "unit/type/set", "unit/type/hash",
    "unit/type/zset", "unit/multi", "unit/pubsub", "unit/introspection", "unit/introspection-2",
    "unit/slowlog", "unit/lazyfree", "unit/querybuf", "unit/scripting", "unit/functions",
]

# Tags whose tests cannot apply to an external TagCache (the harness itself skips external:skip).
EXCLUDED_TAGS = {
    "needs:debug": "DEBUG RELOAD/OBJECT/CHANGE-REPL-ID...: Redis's debugging command and internals",
    "needs:repl": "replication (SYNC, REPLICAOF): TagCache has no replicas",
    "needs:save": "SAVE/BGSAVE and reloading an RDB file: TagCache keeps no data on disk",
    "needs:config-maxmemory": "maxmemory and eviction sized by Redis's own memory accounting",
    "needs:pfdebug": "PFDEBUG: the internals of Redis's HyperLogLog encoding",
    "needs:latency": "LATENCY monitor samples of Redis's event loop",
    "large-memory": "tests that need more than 100 MB (the harness runs them only with --large-memory)",
}

HARNESS_TIMEOUT = 60  # seconds without progress (--timeout): the longest test here takes ~20 s on a busy machine
UNIT_TIMEOUT = 300  # seconds for one harness process, whatever happens
MAX_ATTEMPTS = 5  # harness processes per unit (the first run and resumptions after a timeout)

FAILED = "failed"
PASSED = "passed"
SKIPPED = "skipped"


def read_list(path):
    """{(unit, name): reason} from a file of `unit<TAB>test name<TAB>reason` lines."""
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(f.strip() for f in fields):
            sys.exit(f"{path.name}:{number}: expected unit<TAB>test name<TAB>reason: {line!r}")
        key = (fields[0], fields[1])
        if key in entries:
            sys.exit(f"{path.name}:{number}: listed twice: {fields[0]} {fields[1]}")
        entries[key] = fields[2]
    return entries


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One fresh server for one harness run: tagcache-server on a port of its choosing, or
    redis-server (--against-redis) on a free one."""

    def __init__(self, args, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        if args.against_redis:
            self.port = free_port()
            command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--daemonize", "no"]
        else:
            self.port = None
            # One event loop, as Redis has one thread: the suite sends commands on several
            # connections without waiting and expects them run in the order they were sent,
            # which only one loop keeps (two may run them at the same time). One loop is also
            # the default on the 2-core machines CI runs on.
            command = [args.server, "--port", "0", "--bind", "127.0.0.1", "--event-loops", "1"]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            text = log_path.read_text(errors="replace")
            if self.port is None:
                found = re.search(r"Running mode=standalone, port=(\d+)\.", text)
                if found and "Ready to accept connections" in text:
                    self.port = int(found.group(1))
            if self.port is not None and self.answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not start; its log ends:\n{self.tail()}")

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def tail(self, lines=15):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        """Stops the server; returns its exit status if it had already exited, else None."""
        exited = self.process.poll()
        if exited is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return exited


class Unit:
    """The outcome of every test of one unit, over all its harness runs."""

    def __init__(self, name):
        self.name = name
        self.tests = {}  # test name -> (outcome, first line of the failure)
        self.ignored = 0  # tests or blocks the harness left out by tag (in one run)
        self.seconds = 0.0
        self.notes = []

    def record(self, test, outcome, detail=""):
        old = self.tests.get(test)
        rank = {SKIPPED: 0, PASSED: 1, FAILED: 2}
        if old is None or rank[outcome] > rank[old[0]]:
            self.tests[test] = (outcome, detail)

    def ran(self):
        return {t for t, (outcome, _) in self.tests.items() if outcome != SKIPPED}


# The harness's report lines (test_helper.tcl, read_from_test_client); colours are off (TERM=dumb).
STATUS = re.compile(r"^\[(ok|err|skip|ignore|exception|TIMEOUT)\]: (.*)$")
DONE = re.compile(r"^\[\d+/\d+ done\]: ")
CLIENT_STATE = re.compile(r"^\S+ => \((IN PROGRESS|OK|ERR)\) (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse(output, unit, curfile, timeout):
    """Records the harness output of one run into unit; returns (finished, hung test or None)."""
    lines = [ANSI.sub("", line) for line in output.splitlines()]
    finished = False
    hung = None
    ignored = 0
    in_test_suffix = f" in {curfile}"
    for i, line in enumerate(lines):
        if DONE.match(line):
            finished = True
            continue
        m = STATUS.match(line)
        if not m:
            continue
        status, rest = m.groups()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        # --durable cuts the first ten characters of an error that is not an assertion; the
        # error's own text starts the stack trace on the next line.
        if i + 2 < len(lines) and following and lines[i + 2].endswith(following):
            following = lines[i + 2]
        if status == "ok":
            unit.record(re.sub(r" \(\d+ ms\)$", "", rest), PASSED)
        elif status == "skip":
            unit.record(rest, SKIPPED)
        elif status == "ignore":
            ignored += 1
        elif status == "err":
            if rest.endswith(in_test_suffix):
                unit.record(rest[: -len(in_test_suffix)], FAILED, following)
            elif rest.startswith("(harness) "):
                name, _, detail = rest.partition(": ")
                unit.record(name, FAILED, detail)
            else:
                # An error in a start_server block outside any test (--durable reports it with
                # its first ten characters cut; the error's own text follows).
                unit.record(f"(outside a test) {following or rest}"[:160], FAILED, rest)
        elif status == "exception":
            detail = re.sub(r"^Executing test client: ", "", rest)
            unit.record(f"(unit aborted) {detail}"[:160], FAILED, following)
        elif status == "TIMEOUT":
            for state in lines[i + 1:]:
                s = CLIENT_STATE.match(state)
                if s:
                    hung = s.group(2) if s.group(1) == "IN PROGRESS" else f"(outside a test) after {s.group(2)}"
                    break
            hung = hung or "(outside a test) before the first test"
            unit.record(hung, FAILED, f"no progress for {timeout} s (harness --timeout)")
    unit.ignored = max(unit.ignored, ignored)
    return finished, hung


# The harness listens for its test client on the first free port of the 32 below --baseport
# (21079 by default): two suites on one machine (two CI checkouts) took the same one and one
# lost its unit. Each suite process starts its own search elsewhere.
HARNESS_BASEPORT = 12000 + (os.getpid() % 480) * 64


def harness_command(args, unit, port, skipfile):
    tags = " ".join(f"-{tag}" for tag in EXCLUDED_TAGS)
    only = [a for name in args.only for a in ("--only", name)]
    return ["tclsh", "tests/test_helper.tcl", "--host", "127.0.0.1", "--port", str(port),
            "--baseport", str(HARNESS_BASEPORT), "--portcount", "32",
            "--single", unit, "--durable", "--clients", "1", "--tags", tags,
            "--ignore-encoding", "--ignore-digest", "--timeout", str(args.timeout),
            "--skipfile", str(skipfile), *only]


def kill_group(process):
    """Kills a harness and the test client it started (both in the harness's process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_unit(args, name, not_run):
    unit = Unit(name)
    slug = name.replace("/", "_")
    start = time.monotonic()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        suffix = "" if attempt == 1 else f".{attempt}"
        skipfile = args.logs / f"{slug}{suffix}.skip"
        skipfile.write_text("".join(f"{t}\n" for t in sorted(not_run | unit.ran())))
        try:
            server = Server(args, args.logs / f"{slug}{suffix}.server.log")
        except RuntimeError as e:
            unit.record("(server did not start)", FAILED, str(e).splitlines()[0])
            unit.notes.append(str(e))
            break
        output_path = args.logs / f"{slug}{suffix}.log"
        with open(output_path, "w") as out:
            # Its own process group: the harness starts a test client process of its own.
            harness = subprocess.Popen(harness_command(args, name, server.port, skipfile),
                                       cwd=args.work, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       env={**os.environ, "TERM": "dumb"})
            outer_timeout = False
            try:
                harness.wait(UNIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                outer_timeout = True
            except BaseException:  # Ctrl-C: nothing of this run stays behind
                kill_group(harness)
                server.stop()
                raise
            kill_group(harness)
        exited = server.stop()
        before = unit.ran()
        finished, hung = parse(output_path.read_text(errors="replace"), unit, f"tests/{name}.tcl", args.timeout)
        if exited is not None:
            unit.record("(server exited)", FAILED, f"exit status {exited} during the unit")
            unit.notes.append(f"server log ({server.log_path.name}) ends:\n{server.tail()}")
        if outer_timeout:
            unit.record("(unit timeout)", FAILED, f"the harness ran {UNIT_TIMEOUT} s; the rest was not run")
        if finished or outer_timeout or exited is not None:
            break
        if hung is None:
            # Neither done nor hung: the harness ended early (an exception, or it failed to start).
            if not any(t.startswith("(unit aborted)") for t in unit.tests):
                unit.record("(unit aborted)", FAILED, f"the harness ended early; see {output_path.name}")
            break
        if unit.ran() == before:
            break
        unit.notes.append(f"resumed after '{hung}' hung")
    unit.seconds = time.monotonic() - start
    return unit


def judge(unit, expected, not_run, seen, problems):
    """Counts unit's outcomes against the lists; adds what does not match them to problems and
    the entries that showed up to seen."""
    counts = {PASSED: 0, FAILED: 0, "listed": 0, "not run": 0}
    for test, (outcome, detail) in sorted(unit.tests.items()):
        entry = next((k for k in [(unit.name, test), ("*", test)] if k in expected), None)
        if outcome == SKIPPED:
            if (unit.name, test) in not_run:
                seen.add((unit.name, test))
                counts["not run"] += 1
            continue
        if entry:
            seen.add(entry)
        if outcome == PASSED:
            counts[PASSED] += 1
            if entry:
                problems.append(("passes now, delete it from expected-failures.txt", unit.name, test, expected[entry]))
        elif entry:
            counts["listed"] += 1
        else:
            counts[FAILED] += 1
            problems.append(("FAILED", unit.name, test, detail))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="the directory holding tests/")
    parser.add_argument("--logs", type=Path, required=True)
    parser.add_argument("--source", default="", help="where the tests come from (printed)")
    parser.add_argument("--server", default=os.environ.get("TAGCACHE_SERVER_BIN", ""),
                        help="tagcache-server binary (default: $TAGCACHE_SERVER_BIN)")
    parser.add_argument("--against-redis", action="store_true",
                        help="run against redis-server instead (checks the harness setup)")
    parser.add_argument("--only", action="append", default=[], metavar="TEST",
                        help="run only this test (a name, or /regexp); repeatable")
    parser.add_argument("--timeout", type=int, default=HARNESS_TIMEOUT, metavar="SECONDS",
                        help=f"a test that makes no progress this long hangs (default {HARNESS_TIMEOUT})")
    parser.add_argument("units", nargs="*", help=f"units to run (default: {len(UNITS)} units)")
    args = parser.parse_args()
    if not args.against_redis and not os.access(args.server, os.X_OK):
        sys.exit("suite.py: set TAGCACHE_SERVER_BIN (or --server) to a built tagcache-server")
    units = args.units or UNITS
    for u in units:
        if not (args.work / "tests" / f"{u}.tcl").is_file():
            sys.exit(f"suite.py: no unit {u} in {args.source} (e.g. unit/type/hash)")
    args.logs.mkdir(parents=True, exist_ok=True)
    for old in [*args.logs.glob("unit_*"), args.logs / "unlisted.txt"]:
        old.unlink(missing_ok=True)
    expected = read_list(HERE / "expected-failures.txt")
    not_run = read_list(HERE / "not-run.txt")
    judged = not args.against_redis  # the lists describe TagCache

    target = "redis-server" if args.against_redis else os.path.relpath(args.server)
    print(f"{args.source}: {len(units)} units against {target} (logs: {os.path.relpath(args.logs)})")
    start = time.monotonic()
    passed = listed = 0
    problems = []  # (kind, unit, test, detail)
    seen = set()  # listed entries that showed up
    for name in units:
        skip = {t for (u, t) in not_run if u == name} if judged else set()
        unit = run_unit(args, name, skip)
        counts = judge(unit, expected if judged else {}, not_run if judged else {}, seen, problems)
        if judged and not args.only:
            for (u, t), _ in [*expected.items(), *not_run.items()]:
                if u == name and (u, t) not in seen:
                    problems.append(("listed but not seen (renamed? not reached?)", u, t, ""))
        passed += counts[PASSED]
        listed += counts["listed"]
        print(f"  {name:<20} {counts[PASSED]:4d} passed {counts[FAILED]:4d} failed {counts['listed']:4d} listed"
              f" {counts['not run']:4d} not run {unit.ignored:4d} ignored by tag  {unit.seconds:5.1f}s")
        for note in unit.notes:
            print("    " + note.replace("\n", "\n    "))
    # Entries for every unit ("*") must show up in at least one unit of a full run.
    if judged and set(units) == set(UNITS) and not args.only:
        for key in expected:
            if key[0] == "*" and key not in seen:
                problems.append(("listed but not seen (renamed? not reached?)", "*", key[1], ""))
    for kind, unit_name, test, detail in problems:
        print(f"{kind}: {unit_name}: {test}" + (f"\n    {detail[:200]}" if detail else ""))
    unlisted = [f"{u}\t{t}\t?\n" for kind, u, t, _ in problems if kind == "FAILED"]
    if unlisted:
        path = args.logs / "unlisted.txt"
        path.write_text("".join(unlisted))
        print(f"the failures above in expected-failures.txt's format: {os.path.relpath(path)}")
    print(f"{listed} failures as listed in expected-failures.txt, {sum(1 for k in not_run if k in seen)}"
          f" tests not run (not-run.txt); {time.monotonic() - start:.0f}s")
    print(f"redis-tests: {passed} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
