#!/usr/bin/env bash
# tagcache-server as a process, and Tests/run.sh's own argument handling:
#   --logfile sends every line to the file (standard output and error stay empty);
#   --loglevel verbose logs clients connecting and closing, debug adds the cron's figures,
#   notice logs none of them; CONFIG SET is logged at notice, passwords redacted;
#   `run.sh --help` and an unknown argument leave .build/test-logs alone.
#
#   TAGCACHE_SERVER_BIN=.build/debug/tagcache-server bash Tests/cli/process.sh
#
# Prints one line per check and ends with "server process: N passed, M failed"; exits 1 on any
# failure. Starts its own servers on free ports.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${TAGCACHE_SERVER_BIN:-}
if [[ ! -x "$BIN" ]]; then
    echo "process.sh: set TAGCACHE_SERVER_BIN to a built tagcache-server" >&2
    exit 2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tagcache-process.XXXXXX")
PID=""
trap '[[ -n "$PID" ]] && kill -KILL "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL  $1"
    [[ -n "${2:-}" ]] && sed 's/^/      /' <<<"$2" | head -20
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cli() { timeout 10 redis-cli -h 127.0.0.1 -p "$PORT" "$@" 2>&1; }

# start NAME ARGS...: a server on a free port logging to $TMP/NAME.log, stdout and stderr
# captured apart; waits until the log says it is ready.
start() {
    local name=$1 i
    shift
    PORT=$(free_port)
    LOG="$TMP/$name.log"
    ${RUN_PREFIX:-} "$BIN" --port "$PORT" --bind 127.0.0.1 --logfile "$LOG" "$@" >"$TMP/$name.stdout" 2>"$TMP/$name.stderr" &
    PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q "Ready to accept connections" "$LOG" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "$name: server did not start" "$(cat "$LOG" "$TMP/$name.stdout" "$TMP/$name.stderr" 2>/dev/null)"
    return 1
}

stop() {
    kill -TERM "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=""
}

# expect_log NAME REGEX: a line of $LOG matches REGEX (extended).
expect_log() {
    if grep -qE "$2" "$LOG"; then pass "$1"; else fail "$1: no line matching /$2/ in the log" "$(cat "$LOG")"; fi
}
expect_no_log() {
    if grep -qE "$2" "$LOG"; then fail "$1: a line matches /$2/" "$(grep -E "$2" "$LOG")"; else pass "$1"; fi
}

# --- --logfile and --loglevel verbose ------------------------------------------------------
if start verbose --loglevel verbose; then
    cli ping >/dev/null
    cli config set maxmemory 100mb requirepass s3cret >/dev/null
    cli -a s3cret --no-auth-warning config set requirepass "" >/dev/null
    sleep 0.2
    stop
    if [[ -s "$TMP/verbose.stdout" || -s "$TMP/verbose.stderr" ]]; then
        fail "--logfile: nothing on standard output or error" "$(cat "$TMP/verbose.stdout" "$TMP/verbose.stderr")"
    else
        pass "--logfile: nothing on standard output or error"
    fi
    expect_log "--logfile: the first line is in the file" "TagCache is starting"
    expect_log "--logfile: the version line is in the file" "TagCache version=.*just started"
    expect_log "verbose: a client's connection (Redis's 'Accepted')" " - Accepted 127\.0\.0\.1:[0-9]+$"
    expect_log "verbose: a client closing (Redis's 'Client closed connection')" \
        " - Client closed connection id=[0-9]+ addr=127\.0\.0\.1:[0-9]+ laddr=127\.0\.0\.1:$PORT fd=[0-9]+ name= .*cmd=ping "
    expect_log "notice: CONFIG SET with the old and new values" \
        " \* CONFIG SET maxmemory '104857600' \(was '0'\), requirepass \(redacted\)$"
    expect_no_log "the password is not in the log" "s3cret"
    expect_no_log "verbose: no debug lines" " \. "
fi

# --- notice (the default) logs no client comings and goings --------------------------------
if start notice; then
    cli ping >/dev/null
    sleep 0.2
    stop
    expect_no_log "notice: no 'Accepted' line" "Accepted"
    expect_no_log "notice: no 'Client closed connection' line" "Client closed connection"
fi

# --- debug: the cron's figures every 5 s ---------------------------------------------------
if start debug --loglevel debug; then
    cli set process:k v >/dev/null
    cli set process:t v px 100 >/dev/null
    sleep 6
    stop
    expect_log "verbose: the databases every 5 s (Redis's 'DB 0: ... slots HT.')" \
        " - DB 0: 1 keys \(0 volatile\) in [0-9]+ slots HT\.$"
    expect_log "debug: clients and memory every 5 s" " \. 0 clients connected \(0 replicas\), [0-9]+ bytes in use$"
    expect_log "debug: keys expired and evicted per second" \
        " \. Cron: 1 keys expired \([0-9.]+/s\), 0 keys evicted \(0\.00/s\) in the last [0-9.]+ s$"
fi

# --- event-loops 0 counts the cores the server may use, not the machine's ------------------
if command -v taskset >/dev/null; then
    RUN_PREFIX="taskset -c 0"
    if start pinned; then
        stop
        expect_log "taskset -c 0: one event loop" " \* 1 event loop \(event-loops 0, 1 usable core\)\.$"
    fi
    RUN_PREFIX=""
    if start loops2 --event-loops 2; then
        stop
        expect_log "event-loops 2: two loops" " \* 2 event loops \(event-loops 2, [0-9]+ usable cores?\)\.$"
    fi
fi

# --- Tests/run.sh keeps the logs on --help and on a bad argument ----------------------------
LOGS="$ROOT/.build/test-logs"
mkdir -p "$LOGS"
marker="$LOGS/process-sh-marker"
echo keep >"$marker"
bash "$ROOT/Tests/run.sh" --help >"$TMP/help.out" 2>&1
help_rc=$?
bash "$ROOT/Tests/run.sh" --no-such-argument >"$TMP/bad.out" 2>&1
bad_rc=$?
if [[ -f "$marker" ]]; then pass "run.sh --help and a bad argument leave .build/test-logs alone"; else fail "run.sh --help or a bad argument deleted .build/test-logs"; fi
rm -f "$marker"
if [[ $help_rc -eq 0 ]] && grep -q "Suites:" "$TMP/help.out"; then pass "run.sh --help prints the usage"; else fail "run.sh --help" "$(cat "$TMP/help.out")"; fi
if [[ $bad_rc -eq 2 ]] && grep -q "unknown argument '--no-such-argument'" "$TMP/bad.out"; then
    pass "run.sh refuses an unknown argument (exit 2)"
else
    fail "run.sh with an unknown argument: exit $bad_rc" "$(cat "$TMP/bad.out")"
fi

echo "server process: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
