#!/usr/bin/env bash
# tagcache-server as a process, and Tests/run.sh's own argument handling:
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
