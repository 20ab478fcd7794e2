#!/usr/bin/env bash
# TagCache's test command (README and CI): installs what the tests need when it is missing,
# builds, runs every suite and ends with one line "summary: N passed, M failed"; exits 1 on
# any failure.
#
#   bash Tests/run.sh                     every suite
#   bash Tests/run.sh swift python        only the named suites: swift, tsan, python, cli,
#                                         redis-tests, docker, reference, fuzz
#   bash Tests/run.sh --no-reference      every suite but the reference check
#   TAGCACHE_TEST_PORT=6400 bash Tests/run.sh
#                                         python + cli against a server already on that port
#                                         (a real redis-server there checks the tests themselves)
#
# Suites:
#   swift      `swift test`: unit tests and in-process server tests (Tests/*Tests)
#   python     Tests/python with redis-py 5 (RESP2) and redis-py 8 (RESP3), each with the
#              hiredis and the pure-Python parser, against a fresh tagcache-server
#   cli        Tests/cli/smoke.sh (redis-cli, raw inline commands, --pipe) against a fresh server,
#              and Tests/cli/process.sh: the executable's log (--logfile, --loglevel) and
#              this script's own argument handling
#   redis-tests
#              Redis 7.0.15's own TCL test suite (from Debian's source package, kept in
#              .build-redis-tests/), unit by unit against a fresh tagcache-server each; fails on
#              a failure not in Tests/redis-tests/expected-failures.txt and on a listed test
#              that passes now (Tests/redis-tests/run.sh; one unit: README "Test it")
#   docker     Tests/docker/steps.py: docker/Dockerfile's build and run steps without a Docker
#              engine (what the COPY lines copy, filtered by .dockerignore; the build stage's RUN
#              line, a release build kept in .build/docker-check/scratch between runs; then the
#              binary started with the image's ENTRYPOINT and config, PING and the HEALTHCHECK)
#   reference  python (redis-py 8) and cli against a real redis-server started on a free port:
#              proves the tests expect what Redis does
#   tsan       the server tests that drive several event loops at once, and EXEC against shard
#              locks held by another thread, built with ThreadSanitizer (.build-tsan); any race
#              report fails the suite
#   fuzz       the libFuzzer targets of Tests/fuzz (request parser; every command through the
#              dispatcher), built with -sanitize=fuzzer,address in .build-fuzz, seeded from the
#              differential cases, TAGCACHE_FUZZ_SECONDS (default 30) each; a crash, ASan report,
#              leak, timeout (10 s per input) or out-of-memory (2 GB) fails it. Its logs, seeds
#              and failing inputs go to .build/test-logs/fuzz/, its corpus grows in
#              .build-fuzz/corpus/ (README: "Fuzzing")
#
# Environment: CI=true turns "cannot install X" into a failure instead of a skip;
# TAGCACHE_BUILD=release tests a release build of tagcache-server (default: debug).
# Logs of every step stay in .build/test-logs/.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
LOGS="$ROOT/.build/test-logs"
export PYTHONDONTWRITEBYTECODE=1
CI=${CI:-}
[[ "$CI" == "1" ]] && CI=true
BUILD_CONFIG=${TAGCACHE_BUILD:-debug}
RUN_START=$(date +%s)

# ---- arguments -------------------------------------------------------------------------------
ALL_SUITES=(swift tsan fuzz python cli redis-tests docker reference)
WANTED=()
NO_REFERENCE=""
for arg in "$@"; do
    case "$arg" in
        swift | tsan | fuzz | python | cli | redis-tests | docker | reference) WANTED+=("$arg") ;;
        --no-reference) NO_REFERENCE=1 ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
EXTERNAL_PORT=${TAGCACHE_TEST_PORT:-}
if [[ -n "$EXTERNAL_PORT" && ! "$EXTERNAL_PORT" =~ ^[0-9]+$ ]]; then
    echo "run.sh: TAGCACHE_TEST_PORT must be a port number" >&2
    exit 2
fi
if [[ ${#WANTED[@]} -eq 0 ]]; then
    if [[ -n "$EXTERNAL_PORT" ]]; then WANTED=(python cli); else WANTED=("${ALL_SUITES[@]}"); fi
    [[ -n "$NO_REFERENCE" ]] && WANTED=("${WANTED[@]/reference/}")
fi
wants() { [[ " ${WANTED[*]} " == *" $1 "* ]]; }
# Only a run that will happen replaces the previous run's logs (--help or a bad argument
# leaves them for reading).
rm -rf "$LOGS"
mkdir -p "$LOGS"

# ---- bookkeeping -----------------------------------------------------------------------------
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
REPORT=()
# record NAME PASSED FAILED SKIPPED [NOTE]
record() {
    local name=$1 p=$2 f=$3 s=$4 note=${5:-}
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + s))
    REPORT+=("$(printf '  %-44s %5d ok %5d failed %4d skipped  %s' "$name" "$p" "$f" "$s" "$note")")
}
section() { printf '\n==== %s\n' "$*"; }
elapsed_since() { echo "$(($(date +%s) - $1))s"; }

# skip_or_fail NAME WHAT HOW: a suite that cannot run. In CI that is a failure.
skip_or_fail() {
    local name=$1 what=$2 how=$3
    if [[ "$CI" == "true" ]]; then
        echo "FAILED (CI): $name cannot run: $what"
        record "$name" 0 1 0 "cannot run: $what"
    else
        echo "SKIPPED: $name - $what; install with: $how"
        record "$name" 0 0 1 "skipped: $what"
    fi
}

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'echo; echo "run.sh: interrupted"; exit 130' INT TERM

# ---- what the tests need ---------------------------------------------------------------------
APT_UPDATED=""
apt_install() {
    # apt_install PKG...: installs Debian packages when running as root with apt; quiet unless it fails.
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "cannot install ${*} here (needs root and apt-get)"
        return 1
    fi
    echo "installing ${*} with apt-get (log: .build/test-logs/apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "$APT_UPDATED" ]]; then
        if ! apt-get update -qq >>"$LOGS/apt.log" 2>&1; then
            tail -5 "$LOGS/apt.log"
            return 1
        fi
        APT_UPDATED=1
    fi
    if ! apt-get install -y -qq --no-install-recommends "$@" >>"$LOGS/apt.log" 2>&1; then
        tail -5 "$LOGS/apt.log"
        return 1
    fi
}

python_ok() { command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; }

section "tools"
missing=()
if wants cli || wants docker || wants reference; then
    command -v redis-cli >/dev/null || missing+=(redis-tools)
fi
if wants cli || wants reference; then
    # redis-cli's argument hints as a person types (smoke.sh drives an interactive redis-cli).
    command -v tmux >/dev/null || missing+=(tmux)
    # Other languages' clients running scripts (smoke.sh).
    ruby -e 'require "redis"' 2>/dev/null || missing+=(ruby-redis)
    php -r 'exit(class_exists("Redis") ? 0 : 1);' 2>/dev/null || missing+=(php-cli php-redis)
    [[ -d /usr/share/nodejs/redis ]] && command -v node >/dev/null || missing+=(node-redis)
fi
if wants reference; then
    command -v redis-server >/dev/null || missing+=(redis-server)
fi
if wants python || wants reference; then
    python_ok || missing+=(python3 python3-venv)
fi
if wants swift || wants tsan || wants python || wants reference || wants redis-tests || wants fuzz || wants cli; then
    # Scripting's Lua 5.1 and the cjson / bit modules, opened by the server at run time.
    [[ -e /usr/lib/x86_64-linux-gnu/liblua5.1.so.0 || -e /usr/lib/aarch64-linux-gnu/liblua5.1.so.0 ]] || missing+=(liblua5.1-0)
    [[ -e /usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so || -e /usr/lib/aarch64-linux-gnu/lua/5.1/cjson.so ]] || missing+=(lua-cjson)
    [[ -e /usr/lib/x86_64-linux-gnu/lua/5.1/bit.so || -e /usr/lib/aarch64-linux-gnu/lua/5.1/bit.so ]] || missing+=(lua-bitop)
fi
if wants swift; then
    # prlimit (file-descriptor limits) and ip (protected mode from a non-loopback address).
    command -v prlimit >/dev/null || missing+=(util-linux)
    command -v ip >/dev/null || missing+=(iproute2)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}" || true
fi
for tool in swift python3 redis-server redis-cli; do
    if command -v "$tool" >/dev/null; then
        case "$tool" in
            swift) v=$(swift --version 2>&1 | head -1) ;;
            *) v=$("$tool" --version 2>&1 | head -1) ;;
        esac
        printf '  %-13s %s\n' "$tool" "$v"
    else
        printf '  %-13s not installed\n' "$tool"
    fi
done

# ---- python environments ---------------------------------------------------------------------
# One virtualenv per redis-py major version; each has hiredis too, and the tests choose the
# parser per test, and the libraries built on Redis scripts that test_script_clients.py uses
# (limits, aiocache, fastapi-cache2 with jinja2, which it imports). A venv is rebuilt only when
# its package list changes (rm -rf .venv to refresh).
SCRIPT_CLIENTS="limits aiocache fastapi-cache2 jinja2"
VENV_SPECS=(
    "redis5|redis>=5,<6 hiredis pytest prometheus_client $SCRIPT_CLIENTS"
    "redis8|redis>=8,<9 hiredis pytest prometheus_client $SCRIPT_CLIENTS"
)
VENV_TRIED_APT=""
make_venv() {
    local name=$1 spec=$2 dir="$ROOT/.venv/$1"
    if [[ -x "$dir/bin/python" && "$(cat "$dir/.tagcache-spec" 2>/dev/null)" == "$spec" ]] &&
        "$dir/bin/python" -c 'import redis, hiredis, pytest, prometheus_client, limits, aiocache, fastapi_cache' 2>/dev/null; then
        return 0
    fi
    echo "creating .venv/$name: $spec"
    rm -rf "$dir"
    if ! python3 -m venv "$dir" >>"$LOGS/venv.log" 2>&1; then
        rm -rf "$dir"
        if [[ -z "$VENV_TRIED_APT" ]]; then
            VENV_TRIED_APT=1
            apt_install python3-venv || true
        fi
        python3 -m venv "$dir" >>"$LOGS/venv.log" 2>&1 || { tail -3 "$LOGS/venv.log"; rm -rf "$dir"; return 1; }
    fi
    # shellcheck disable=SC2086
    if ! "$dir/bin/python" -m pip install -q --disable-pip-version-check $spec >>"$LOGS/venv.log" 2>&1; then
        tail -5 "$LOGS/venv.log"
        rm -rf "$dir"
        return 1
    fi
    echo "$spec" >"$dir/.tagcache-spec"
}

VENVS_READY=()
if wants python || wants reference; then
    section "python environments"
    for entry in "${VENV_SPECS[@]}"; do
        name=${entry%%|*}
        if command -v python3 >/dev/null && make_venv "$name" "${entry#*|}"; then
            VENVS_READY+=("$name")
            printf '  .venv/%-8s %s\n' "$name" "$("$ROOT/.venv/$name/bin/python" -c 'import sys, redis, hiredis, pytest; print(f"python {sys.version.split()[0]}, redis-py {redis.__version__}, hiredis {hiredis.__version__}, pytest {pytest.__version__}")')"
        fi
    done
fi
venv_ready() { [[ " ${VENVS_READY[*]} " == *" $1 "* ]]; }

# ---- build -----------------------------------------------------------------------------------
BIN=""
BUILD_OK=""
if [[ -z "$EXTERNAL_PORT" ]] && { wants python || wants cli; } || wants swift || wants redis-tests; then
    if ! command -v swift >/dev/null; then
        echo "swift is not installed: nothing can be built"
        record "build" 0 1 0 "swift not found"
    else
        section "build ($BUILD_CONFIG)"
        t=$(date +%s)
        if swift build -c "$BUILD_CONFIG" >"$LOGS/build.log" 2>&1; then
            BIN="$(swift build -c "$BUILD_CONFIG" --show-bin-path)/tagcache-server"
            BUILD_OK=1
            echo "built $BIN in $(elapsed_since "$t")"
        else
            grep -E "error:" "$LOGS/build.log" | sort -u | head -20
            tail -5 "$LOGS/build.log"
            echo "BUILD FAILED (log: .build/test-logs/build.log)"
            record "build" 0 1 0 "swift build failed"
        fi
    fi
fi

# ---- servers ---------------------------------------------------------------------------------
SERVER_PID=""
SERVER_PORT=""
SERVER_LOG=""
METRICS_PORT=""
# start_tagcache NAME: a fresh tagcache-server on a free port, serving /metrics on another
# (sets SERVER_PID/PORT/LOG and METRICS_PORT).
start_tagcache() {
    SERVER_LOG="$LOGS/server-$1.log"
    SERVER_PORT=""
    METRICS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$BIN" --port 0 --bind 127.0.0.1 --metrics-port "$METRICS_PORT" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i port
    for ((i = 0; i < 300; i++)); do
        port=$(sed -n 's/.*Running mode=standalone, port=\([0-9][0-9]*\)\..*/\1/p' "$SERVER_LOG" 2>/dev/null | head -1)
        if [[ -n "$port" ]] && grep -q "Ready to accept connections" "$SERVER_LOG"; then
            SERVER_PORT=$port
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "tagcache-server did not start; its log:"
    tail -20 "$SERVER_LOG"
    kill -KILL "$SERVER_PID" 2>/dev/null
    return 1
}

# stop_tagcache NAME: the server must still be running, and stop cleanly on SIGTERM.
stop_tagcache() {
    local name=$1 i rc
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" 2>/dev/null
        rc=$?
        echo "FAIL  tagcache-server died during the $name tests (exit $rc); its log ends:"
        tail -20 "$SERVER_LOG"
        record "server lifecycle ($name)" 0 1 0 "server died (exit $rc)"
        return
    fi
    kill -TERM "$SERVER_PID"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
        echo "FAIL  tagcache-server did not stop within 10 s of SIGTERM"
        record "server lifecycle ($name)" 1 1 0 "no exit after SIGTERM"
        return
    fi
    wait "$SERVER_PID" 2>/dev/null
    rc=$?
    if [[ $rc -eq 0 ]]; then
        record "server lifecycle ($name)" 2 0 0 "ran throughout, SIGTERM exit 0"
    else
        echo "FAIL  tagcache-server exited $rc after SIGTERM"
        record "server lifecycle ($name)" 1 1 0 "SIGTERM exit $rc"
    fi
}

REDIS_PID=""
REDIS_PORT=""
start_reference_redis() {
    REDIS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >"$LOGS/redis-server.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    local i
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "redis-server did not start:"
    tail -5 "$LOGS/redis-server.log"
    return 1
}

# ---- suite runners ---------------------------------------------------------------------------
# run_pytest NAME VENV PORT [METRICS_PORT]: Tests/python against PORT (test_metrics.py runs
# only when the server serves /metrics on METRICS_PORT).
run_pytest() {
    local name=$1 venv=$2 port=$3 metrics=${4:-} rc counts t file
    file=$(echo "$name" | tr -c 'A-Za-z0-9.\n-' '_')
    local xml="$LOGS/pytest-$file.xml" log="$LOGS/pytest-$file.log"
    t=$(date +%s)
    (cd "$ROOT/Tests/python" && COLUMNS=160 TAGCACHE_TEST_HOST=127.0.0.1 TAGCACHE_TEST_PORT=$port \
        TAGCACHE_METRICS_PORT=$metrics \
        timeout 240 "$ROOT/.venv/$venv/bin/python" -m pytest -q --tb=short --junitxml="$xml" \
        -o junit_suite_name="$name" >"$log" 2>&1)
    rc=$?
    # The failures, one line each, then pytest's own closing line.
    sed -n '/short test summary info/,$p' "$log" | grep -E "^(FAILED|ERROR|SKIPPED)" | cut -c1-200
    tail -1 "$log"
    counts=$("$ROOT/.venv/$venv/bin/python" - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - k, f, k)
EOF
)
    read -r p f k <<<"$counts"
    if [[ $rc -ne 0 && $f -eq 0 ]]; then
        echo "pytest exited $rc without a failing test (log: $log):"
        tail -15 "$log"
        f=1
    fi
    if [[ $((p + f + k)) -eq 0 ]]; then
        echo "pytest ran no test"
        f=1
    fi
    record "$name" "$p" "$f" "$k" "$(elapsed_since "$t")"
}

# run_smoke NAME PORT: Tests/cli/smoke.sh against PORT.
run_smoke() {
    local name=$1 port=$2 t file
    file=$(echo "$name" | tr -c 'A-Za-z0-9.\n-' '_')
    local log="$LOGS/smoke-$file.log"
    t=$(date +%s)
    TAGCACHE_TEST_HOST=127.0.0.1 TAGCACHE_TEST_PORT=$port timeout 180 bash "$ROOT/Tests/cli/smoke.sh" >"$log" 2>&1
    record_summary "$name" "$log" "cli smoke" "$t"
}

# run_process_checks: Tests/cli/process.sh (the executable's logging, run.sh's arguments).
run_process_checks() {
    local t log="$LOGS/process.log"
    echo "-- server process (Tests/cli/process.sh)"
    t=$(date +%s)
    TAGCACHE_SERVER_BIN="$BIN" timeout 120 bash "$ROOT/Tests/cli/process.sh" >"$log" 2>&1
    record_summary "server process" "$log" "server process" "$t"
}

# record_summary NAME LOG PREFIX START: a check script's log ending "PREFIX: N passed, M failed":
# prints its failures and that line, and records the counts under NAME.
record_summary() {
    local name=$1 log=$2 prefix=$3 start=$4 line p f
    grep -v "^ok " "$log" | grep -v "^$prefix:"
    line=$(grep -E "^$prefix: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)
    if [[ -z "$line" ]]; then
        echo "no summary line \"$prefix: ...\" (log: ${log#"$ROOT/"}); it ends:"
        tail -10 "$log"
        record "$name" 0 1 0 "no summary"
        return
    fi
    echo "$line"
    read -r p f <<<"$(echo "$line" | sed "s/^$prefix: \([0-9]*\) passed, \([0-9]*\) failed/\1 \2/")"
    record "$name" "$p" "$f" 0 "$(elapsed_since "$start")"
}

# ---- swift test ------------------------------------------------------------------------------
if wants swift && command -v swift >/dev/null; then
    section "swift test"
    t=$(date +%s)
    timeout 480 swift test --xunit-output "$LOGS/xunit.xml" >"$LOGS/swift-test.log" 2>&1
    rc=$?
    # Failing assertions and test cases; the full output is in the log.
    grep -E ": error: |Test Case '.*' failed|✘ " "$LOGS/swift-test.log" | cut -c1-240 | head -80
    n=$(grep -cE ": error: |Test Case '.*' failed|✘ " "$LOGS/swift-test.log")
    [[ $n -gt 80 ]] && echo "... $((n - 80)) more lines in .build/test-logs/swift-test.log"
    # Skipped tests are named with their reason: nothing is skipped silently.
    grep -E "Test skipped|^Test Case '.*' skipped|➜ " "$LOGS/swift-test.log" | cut -c1-240
    grep -E "Executed [0-9]+ tests?, with|Test run with" "$LOGS/swift-test.log" | tail -2
    # XCTest writes no xUnit file on Linux: count its "Test Case '...' passed/failed/skipped"
    # lines. Swift Testing's own xUnit file counts its tests.
    p=$(grep -cE "^Test Case '.*' passed" "$LOGS/swift-test.log")
    f=$(grep -cE "^Test Case '.*' failed" "$LOGS/swift-test.log")
    k=$(grep -cE "^Test Case '.*' skipped" "$LOGS/swift-test.log")
    if [[ -f "$LOGS/xunit-swift-testing.xml" ]]; then
        read -r sp sf sk <<<"$(python3 - "$LOGS/xunit-swift-testing.xml" <<'EOF' 2>/dev/null || echo "0 1 0"
import sys, xml.etree.ElementTree as ET
p = f = k = 0
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    tags = {child.tag for child in case}
    if "failure" in tags or "error" in tags:
        f += 1
    elif "skipped" in tags:
        k += 1
    else:
        p += 1
print(p, f, k)
EOF
)"
        p=$((p + sp)); f=$((f + sf)); k=$((k + sk))
    fi
    if [[ $rc -ne 0 ]] && ! grep -qE "^Test Suite '(All|Selected) tests' (passed|failed)" "$LOGS/swift-test.log"; then
        echo "swift test did not finish (exit $rc: a build error or a crash); the log ends:"
        grep -E "error:|Fatal error|Segmentation|signal" "$LOGS/swift-test.log" | sort -u | head -10
        tail -10 "$LOGS/swift-test.log"
        f=$((f + 1))
    elif [[ $rc -ne 0 && $f -eq 0 ]]; then
        echo "swift test exited $rc without a failing test; the log ends:"
        tail -10 "$LOGS/swift-test.log"
        f=1
    fi
    [[ $((p + f + k)) -eq 0 ]] && { echo "swift test ran no test"; f=1; }
    record "swift test" "$p" "$f" "$k" "$(elapsed_since "$t")"
fi

# ---- ThreadSanitizer ---------------------------------------------------------------------------
# The server tests whose clients run on several event loops at once (CONFIG SET, CLIENT KILL and
# blocking pops across loops among them), in a build instrumented for data races. Shared state
# uses Locked/ShardLock (pthread) and Atomic, which ThreadSanitizer sees; Synchronization's Mutex
# it cannot see (raw futex), so the project does not use it.
TSAN_TESTS="ServerTests.(BlockingTests|ConnectionCommandsTests|LimitsTests|ServerSmokeTests|TestClockTests|TransactionAtomicityTests|ConcurrencyTests|IdleTimeoutTests|ScriptingTests)|CommandsTests.TransactionLockTests"
if wants tsan && command -v swift >/dev/null; then
    section "swift test under ThreadSanitizer"
    t=$(date +%s)
    tsan_log="$LOGS/tsan.log"
    if ! swift build --build-tests --sanitize=thread --scratch-path "$ROOT/.build-tsan" >"$LOGS/tsan-build.log" 2>&1; then
        grep -E "error:" "$LOGS/tsan-build.log" | sort -u | head -10
        record "tsan" 0 1 0 "build failed (log: .build/test-logs/tsan-build.log)"
    else
        TSAN_OPTIONS="halt_on_error=0 history_size=4" timeout 480 swift test --skip-build --sanitize=thread \
            --scratch-path "$ROOT/.build-tsan" --filter "$TSAN_TESTS" >"$tsan_log" 2>&1
        rc=$?
        races=$(grep -c "WARNING: ThreadSanitizer" "$tsan_log")
        p=$(grep -cE "^Test Case '.*' passed" "$tsan_log")
        f=$(grep -cE "^Test Case '.*' failed" "$tsan_log")
        grep -E ": error: |Test Case '.*' failed" "$tsan_log" | cut -c1-240 | head -20
        if [[ $races -gt 0 ]]; then
            echo "ThreadSanitizer reported $races race(s); the first:"
            grep -m1 -A20 "WARNING: ThreadSanitizer" "$tsan_log" | grep -E "WARNING|#[0-3] |Previous" | cut -c1-200
            f=$((f + 1))
        elif [[ $rc -ne 0 && $f -eq 0 ]]; then
            echo "swift test under ThreadSanitizer exited $rc; the log ends:"
            tail -10 "$tsan_log"
            f=1
        fi
        [[ $((p + f)) -eq 0 ]] && { echo "the ThreadSanitizer run ran no test"; f=1; }
        echo "$p tests passed under ThreadSanitizer, $races race reports"
        record "tsan (server tests, several loops)" "$p" "$f" 0 "$(elapsed_since "$t")"
    fi
fi

# ---- fuzz ------------------------------------------------------------------------------------
# A release build: about five times the inputs per second of a debug one, for twice the build time.
FUZZ_SECONDS=${TAGCACHE_FUZZ_SECONDS:-30}
SWIFT_BIN=$(dirname "$(readlink -f "$(command -v swift)")")
FUZZ_BUILD=(swift build --scratch-path "$ROOT/.build-fuzz" -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
# run_fuzz TARGET: seeds from the case files, then TARGET for FUZZ_SECONDS.
run_fuzz() {
    local target=$1 bin dir log t rc runs rate
    bin="$("${FUZZ_BUILD[@]}" --show-bin-path)/$target"
    dir="$LOGS/fuzz/$target"
    log="$LOGS/fuzz/$target.log"
    mkdir -p "$dir/seeds" "$dir/artifacts" "$ROOT/.build-fuzz/corpus/$target"
    t=$(date +%s)
    if ! "$bin" --seeds "$ROOT/Tests/CompatibilityTests/Cases" "$dir/seeds" >"$log" 2>&1; then
        tail -5 "$log"
        record "fuzz $target" 0 1 0 "no seeds"
        return
    fi
    # The corpus stays in .build-fuzz between runs; the seeds are made afresh from the cases.
    # Swift's own crash backtracer would race libFuzzer's report (and trip ASan).
    SWIFT_BACKTRACE=enable=no ASAN_SYMBOLIZER_PATH="$SWIFT_BIN/llvm-symbolizer" \
        timeout $((FUZZ_SECONDS + 120)) "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        "$ROOT/.build-fuzz/corpus/$target" "$dir/seeds" >>"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [[ $rc -eq 0 && -n "$runs" && -z "$(ls -A "$dir/artifacts")" ]]; then
        echo "$target: ${runs} inputs, ${rate}/s, nothing found"
        record "fuzz $target" 1 0 0 "${runs} inputs in $(elapsed_since "$t")"
        return
    fi
    echo "FAIL  $target (exit $rc; log: .build/test-logs/fuzz/$target.log)"
    grep -m1 -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|Fatal error|fuzz invariant" "$log" | cut -c1-240
    grep -E "^ +#[0-9]+ 0x.* in " "$log" | grep -vE " in (__sanitizer|__asan|fuzzer::|___interceptor|__interceptor|Swift runtime failure|\$ss|\$s.*_assertionFailure)|libc.so|libswiftCore" |
        head -6 | sed -E 's/^ +(#[0-9]+) 0x[0-9a-f]+ in /    \1 /' | cut -c1-200
    local a
    for a in "$dir"/artifacts/*; do
        [[ -f "$a" ]] || continue
        echo "  input $(basename "$a") (replay: $bin $a), it sends:"
        "$bin" --print "$a" 2>&1 | sed -n '2,13p' | cut -c1-200 | sed 's/^/    /'
    done
    record "fuzz $target" 0 1 0 "$(elapsed_since "$t"), input in .build/test-logs/fuzz/$target/artifacts"
}

if wants fuzz && command -v swift >/dev/null; then
    section "fuzz (libFuzzer and AddressSanitizer, ${FUZZ_SECONDS}s a target)"
    if ! compgen -G "$SWIFT_BIN/../lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null; then
        skip_or_fail "fuzz" "this Swift toolchain has no libFuzzer runtime" "the swift.org toolchain for Linux"
    else
        t=$(date +%s)
        fuzz_built=1
        for target in fuzz-request-parser fuzz-commands; do
            if ! "${FUZZ_BUILD[@]}" --product "$target" >>"$LOGS/fuzz-build.log" 2>&1; then
                grep -E "error:" "$LOGS/fuzz-build.log" | sort -u | head -10
                echo "FUZZ BUILD FAILED (log: .build/test-logs/fuzz-build.log)"
                record "fuzz build" 0 1 0 "swift build -sanitize=fuzzer,address failed"
                fuzz_built=""
                break
            fi
        done
        if [[ -n "$fuzz_built" ]]; then
            echo "built in $(elapsed_since "$t")"
            run_fuzz fuzz-request-parser
            run_fuzz fuzz-commands
        fi
    fi
fi

# ---- python clients and redis-cli against TagCache --------------------------------------------
for suite in python cli; do
    wants "$suite" || continue
    if [[ "$suite" == python ]]; then
        section "python clients (Tests/python)"
    else
        section "redis-cli smoke (Tests/cli/smoke.sh)"
    fi
    if [[ "$suite" == cli ]] && ! command -v redis-cli >/dev/null; then
        skip_or_fail "cli smoke" "redis-cli is not installed" "apt-get install redis-tools"
        continue
    fi
    if [[ "$suite" == python && ${#VENVS_READY[@]} -lt ${#VENV_SPECS[@]} ]]; then
        for entry in "${VENV_SPECS[@]}"; do
            venv_ready "${entry%%|*}" ||
                skip_or_fail "python ${entry%%|*}" "could not create .venv/${entry%%|*} (see .build/test-logs/venv.log)" \
                    "apt-get install python3-venv, and network access to PyPI"
        done
    fi
    if [[ -z "$EXTERNAL_PORT" && -z "$BUILD_OK" ]]; then
        echo "not run: tagcache-server did not build"
        record "$suite (not run)" 0 1 0 "no server binary"
        continue
    fi
    if [[ "$suite" == python ]]; then
        for venv in "${VENVS_READY[@]}"; do
            version=$("$ROOT/.venv/$venv/bin/python" -c 'import redis; print(redis.__version__)')
            name="python redis-py $version"
            echo "-- $name (hiredis and python parsers)"
            if [[ -n "$EXTERNAL_PORT" ]]; then
                run_pytest "$name" "$venv" "$EXTERNAL_PORT"
            elif start_tagcache "$venv"; then
                run_pytest "$name" "$venv" "$SERVER_PORT" "$METRICS_PORT"
                stop_tagcache "$name"
            else
                record "$name" 0 1 0 "server did not start"
            fi
        done
    else
        if [[ -n "$EXTERNAL_PORT" ]]; then
            run_smoke "cli smoke" "$EXTERNAL_PORT"
        elif start_tagcache cli; then
            run_smoke "cli smoke" "$SERVER_PORT"
            stop_tagcache "cli smoke"
        else
            record "cli smoke" 0 1 0 "server did not start"
        fi
        [[ -z "$EXTERNAL_PORT" ]] && run_process_checks
    fi
done

# ---- Redis's own test suite --------------------------------------------------------------------
# Tests/redis-tests/run.sh gets the tests (apt-get source redis, tcl) itself, and exits 77 when
# it cannot here; it always starts its own servers.
if wants redis-tests; then
    section "redis-tests: Redis 7.0.15's own test suite (Tests/redis-tests)"
    if [[ -z "$BUILD_OK" ]]; then
        echo "not run: tagcache-server did not build"
        record "redis-tests (not run)" 0 1 0 "no server binary"
    else
        t=$(date +%s)
        TAGCACHE_SERVER_BIN="$BIN" REDIS_TESTS_LOGS="$LOGS/redis-tests" timeout 1200 \
            bash "$ROOT/Tests/redis-tests/run.sh" >"$LOGS/redis-tests.log" 2>&1
        if [[ $? -eq 77 ]]; then
            skip_or_fail "redis-tests" "$(tail -1 "$LOGS/redis-tests.log")" \
                "root with apt-get and network access, then: bash Tests/redis-tests/run.sh --fetch-only"
        else
            record_summary "redis-tests" "$LOGS/redis-tests.log" "redis-tests" "$t"
        fi
    fi
fi

# ---- the container image's steps ---------------------------------------------------------------
if wants docker; then
    section "docker: docker/Dockerfile's steps without a Docker engine (Tests/docker/steps.py)"
    if ! command -v swift >/dev/null || ! command -v python3 >/dev/null; then
        record "docker steps" 0 1 0 "needs swift and python3"
    elif ! command -v redis-cli >/dev/null; then
        skip_or_fail "docker steps" "redis-cli is not installed" "apt-get install redis-tools"
    else
        t=$(date +%s)
        timeout 900 python3 "$ROOT/Tests/docker/steps.py" "$ROOT/.build/docker-check" >"$LOGS/docker-steps.log" 2>&1
        record_summary "docker steps" "$LOGS/docker-steps.log" "docker steps" "$t"
    fi
fi

# ---- the tests against a real redis-server -----------------------------------------------------
if wants reference; then
    section "reference: the same tests against a real redis-server"
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        skip_or_fail "reference check" "redis-server/redis-cli are not installed" \
            "apt-get install redis-server redis-tools"
    elif ! venv_ready redis8; then
        skip_or_fail "reference check" "no .venv/redis8" "apt-get install python3-venv, and network access to PyPI"
    elif start_reference_redis; then
        rv=$(redis-server --version | sed 's/.* v=\([0-9.]*\).*/\1/')
        echo "-- redis-server $rv on port $REDIS_PORT"
        run_pytest "reference: python vs redis $rv" redis8 "$REDIS_PORT"
        run_smoke "reference: cli vs redis $rv" "$REDIS_PORT"
        # The command descriptions are what this redis-server says (Tests/commands/describe.py).
        if python3 "$ROOT/Tests/commands/describe.py" --check >"$LOGS/describe.log" 2>&1; then
            record "reference: descriptions = redis $rv" 1 0 0 "$(tail -1 "$LOGS/describe.log")"
        else
            record "reference: descriptions = redis $rv" 0 1 0 "$(tail -1 "$LOGS/describe.log")"
        fi
        kill -TERM "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    else
        record "reference check" 0 1 0 "redis-server did not start"
    fi
fi

# ---- summary ---------------------------------------------------------------------------------
section "results ($(elapsed_since "$RUN_START"), logs in .build/test-logs/)"
printf '%s\n' "${REPORT[@]}"
if [[ $TOTAL_SKIPPED -gt 0 ]]; then
    echo "summary: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
else
    echo "summary: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
fi
[[ $TOTAL_FAILED -eq 0 && $((TOTAL_PASSED + TOTAL_SKIPPED)) -gt 0 ]]
