#!/usr/bin/env bash
# redis-cli against a running server: one-shot commands with their exact output, RESP3
# (-3), inline commands over a raw socket, --pipe mass insertion of 100,000 SETs, --pipe
# with MULTI/EXEC blocks, --scan --pattern over 4,000 keys, and EVAL from ruby-redis,
# phpredis and node-redis.
#
#   TAGCACHE_TEST_PORT=6379 bash Tests/cli/smoke.sh      (Tests/run.sh sets the port)
#
# Prints one line per check and ends with "cli smoke: N passed, M failed"; exits 1 on any
# failure. Uses keys under "smoke:" in db 0 and empties db 15 for the mass insertion and db 14
# for --scan.
set -u -o pipefail

HOST=${TAGCACHE_TEST_HOST:-127.0.0.1}
PORT=${TAGCACHE_TEST_PORT:-}
if [[ ! "$PORT" =~ ^[0-9]+$ ]]; then
    echo "smoke.sh: set TAGCACHE_TEST_PORT to the port of the server under test" >&2
    exit 2
fi
if ! command -v redis-cli >/dev/null; then
    echo "smoke.sh: redis-cli not found (Debian: apt-get install redis-tools)" >&2
    echo "cli smoke: 0 passed, 1 failed"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tagcache-smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

cli() { timeout 30 redis-cli -h "$HOST" -p "$PORT" "$@" 2>&1; }

pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL  $1"
    echo "      expected: $(printf '%q' "$2")"
    echo "      actual:   $(printf '%q' "$3")"
}

# expect NAME EXPECTED redis-cli-args...: the whole output must equal EXPECTED.
expect() {
    local name=$1 want=$2
    shift 2
    local got
    got=$(cli "$@")
    if [[ "$got" == "$want" ]]; then pass "$name"; else fail "$name" "$want" "$got"; fi
}

# expect_match NAME REGEX redis-cli-args...: the whole output must match REGEX.
expect_match() {
    local name=$1 re=$2
    shift 2
    local got
    got=$(cli "$@")
    if [[ "$got" =~ $re ]]; then pass "$name"; else fail "$name" "/$re/" "$got"; fi
}

# --- one-shot commands --------------------------------------------------------------
cli del smoke:k smoke:n smoke:t smoke:a smoke:b smoke:text smoke:bin smoke:sp smoke:f \
    smoke:inline smoke:nl >/dev/null
expect "ping"                 "PONG"          ping
expect "set"                  "OK"            set smoke:k v
expect "get"                  "v"             get smoke:k
expect "get (typed)"          '"v"'           --no-raw get smoke:k
expect "get missing"          "(nil)"         --no-raw get smoke:missing
expect "incr new key"         "1"             incr smoke:n
expect "incrby"               "42"            incrby smoke:n 41
expect "incr (typed)"         "(integer) 43"  --no-raw incr smoke:n
expect "decr"                 "42"            decr smoke:n
expect "set ex"               "OK"            set smoke:t v ex 100
expect_match "ttl"            '^(99|100)$'    ttl smoke:t
expect_match "pttl"           '^(99[0-9]{3}|100000)$' pttl smoke:t
expect "ttl no deadline"      "-1"            ttl smoke:k
expect "ttl missing"          "-2"            ttl smoke:missing
expect "persist"              "1"             persist smoke:t
expect "exists"               "2"             exists smoke:k smoke:t smoke:missing
expect "type"                 "string"        type smoke:k
expect "del"                  "2"             del smoke:k smoke:t smoke:missing
expect "exists after del"     "0"             exists smoke:k
expect "mset"                 "OK"            mset smoke:a 1 smoke:b 2
expect "mget (typed)"         $'1) "1"\n2) "2"\n3) (nil)' --no-raw mget smoke:a smoke:b smoke:missing
expect "value with spaces"    "OK"            set smoke:sp "hello world"
expect "get value with spaces" "hello world"  get smoke:sp
expect "append"               "16"            append smoke:sp "!!!!!"
expect "getrange"             "world"         getrange smoke:sp 6 10
expect "set text"             "OK"            set smoke:text abc
expect "incr on text"         "(error) ERR value is not an integer or out of range" --no-raw incr smoke:text
expect "wrong arity"          "(error) ERR wrong number of arguments for 'get' command" --no-raw get
expect_match "unknown command" "^\(error\) ERR unknown command 'nosuchcommand', with args beginning with: 'x' *$" \
                                              --no-raw nosuchcommand x
got=$(printf 'a\0b\r\nc' | timeout 30 redis-cli -h "$HOST" -p "$PORT" -x set smoke:bin 2>&1)
if [[ "$got" == "OK" ]]; then pass "set binary from stdin (-x)"; else fail "set binary from stdin (-x)" "OK" "$got"; fi
expect "get binary (typed)"   '"a\x00b\r\nc"' --no-raw get smoke:bin
expect "strlen binary"        "6"             strlen smoke:bin
expect "select db via -n"     "OK"            -n 3 set smoke:k in-db-3
expect "key stays in its db"  "(nil)"         --no-raw get smoke:k
expect "get in db 3"          "in-db-3"       -n 3 get smoke:k
expect "del in db 3"          "1"             -n 3 del smoke:k

# --- RESP2 / RESP3 ------------------------------------------------------------------
expect "resp2 config get"     $'1) "maxmemory"\n2) "0"' -2 --no-raw config get maxmemory
expect "resp3 config get map" '1# "maxmemory" => "0"' -3 --no-raw config get maxmemory
expect "resp3 null"           "(nil)"         -3 --no-raw get smoke:missing
expect "resp3 integer"        "(integer) 2"   -3 --no-raw exists smoke:a smoke:b
expect "resp3 incrbyfloat"    '"1.5"'         -3 --no-raw incrbyfloat smoke:f 1.5
expect "resp3 set"            "OK"            -3 --no-raw set smoke:k v
expect "resp3 error"          "(error) ERR value is not an integer or out of range" -3 --no-raw incr smoke:text
# Redis 7 sends these seven fields; a server may add its own after them.
expect_match "resp3 hello"    $'^1# "server" => "[a-z]+"\n2# "version" => "[0-9.]+"\n3# "proto" => \\(integer\\) 3\n4# "id" => \\(integer\\) [0-9]+\n5# "mode" => "standalone"\n6# "role" => "master"\n7# "modules" => \\(empty array\\)(\n[0-9]+# "[a-z_]+" => .*)*$' \
                                              -3 --no-raw hello 3
expect_match "resp2 hello"    $'^ 1\\) "server"\n 2\\) "[a-z]+"\n 3\\) "version"\n 4\\) "[0-9.]+"\n 5\\) "proto"\n 6\\) \\(integer\\) 2\n' \
                                              -2 --no-raw hello 2
expect_match "resp3 client info" 'resp=3' -3 client info
expect "resp3 array"          $'1) "1"\n2) "2"\n3) (nil)' -3 --no-raw mget smoke:a smoke:b smoke:missing
expect "resp3 status"         "string"        -3 --no-raw type smoke:a
expect "resp3 ttl"            "(integer) -1"  -3 --no-raw ttl smoke:a
expect "resp3 wrong arity"    "(error) ERR wrong number of arguments for 'get' command" -3 --no-raw get
expect "resp3 map of one"     $'1# "notify-keyspace-events" => ""' -3 --no-raw config get notify-keyspace-events
expect "resp3 empty array"    "(empty array)" -3 --no-raw keys "smoke:nothing-matches-*"
# A transaction in one redis-cli session (-3): EXEC's array holds each command's reply.
got=$(printf 'MULTI\nSET smoke:k v3\nINCR smoke:n\nGET smoke:k\nEXEC\n' | timeout 30 redis-cli -h "$HOST" -p "$PORT" -3 --no-raw 2>&1)
want=$'OK\nQUEUED\nQUEUED\nQUEUED\n1) OK\n2) (integer) 43\n3) "v3"'
if [[ "$got" == "$want" ]]; then pass "resp3 multi/exec from stdin"; else fail "resp3 multi/exec from stdin" "$want" "$got"; fi

# --- inline commands over a raw socket ------------------------------------------------
# inline NAME EXPECTED-LINES PAYLOAD: sends PAYLOAD on a new connection, reads as many
# lines as EXPECTED has (CRLF shown as "\r" so a missing CR fails too).
inline() {
    local name=$1 want=$2 payload=$3 fd line got="" n i
    n=$(printf '%s\n' "$want" | wc -l)
    if ! exec {fd}<>"/dev/tcp/$HOST/$PORT"; then
        fail "$name" "$want" "(cannot connect)"
        return
    fi
    printf '%b' "$payload" >&"$fd"
    for ((i = 0; i < n; i++)); do
        if ! IFS= read -r -t 5 line <&"$fd"; then
            got+="${got:+$'\n'}(timeout after: ${line})"
            break
        fi
        line=${line%$'\r'}\\r
        got+="${got:+$'\n'}$line"
    done
    exec {fd}>&-
    if [[ "$got" == "$want" ]]; then pass "$name"; else fail "$name" "$want" "$got"; fi
}

inline "inline ping"          '+PONG\r'                                  'PING\r\n'
inline "inline lower case, LF only" '+PONG\r'                            'ping\n'
inline "inline set with quotes" $'+OK\\r\n$11\\r\nhello world\\r'        'SET smoke:inline "hello world"\r\nGET smoke:inline\r\n'
inline "inline escapes in quotes" $'+OK\\r\n$4\\r\na\tb!\\r'             'SET smoke:inline "a\\tb\\x21"\r\nGET smoke:inline\r\n'
inline "inline single quotes" $'+OK\\r\n$8\\r\nit\'s "q"\\r'             "SET smoke:inline 'it\\\\'s \"q\"'\r\nGET smoke:inline\r\n"
inline "inline several in one write" $'+PONG\\r\n:1\\r\n:2\\r'           'PING\r\nINCR smoke:nl\r\nINCR smoke:nl\r\n'
inline "inline unbalanced quotes" '-ERR Protocol error: unbalanced quotes in request\r' 'SET k "oops\r\n'
inline "inline then multibulk" $'+PONG\\r\n$5\\r\nhello\\r'               'PING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n'

# --- mass insertion -------------------------------------------------------------------
expect "flushdb before --pipe" "OK" -n 15 flushdb
awk 'BEGIN { for (i = 0; i < 100000; i++) { k = "key:" i; v = "value:" i;
     printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' >"$TMP/mass.txt"
start=$(date +%s.%N)
got=$(timeout 120 redis-cli -h "$HOST" -p "$PORT" -n 15 --pipe <"$TMP/mass.txt" 2>&1)
rc=$?
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
if [[ $rc -eq 0 && "$got" == *"errors: 0, replies: 100000"* ]]; then
    pass "--pipe 100000 SETs (${elapsed}s)"
else
    fail "--pipe 100000 SETs" "...errors: 0, replies: 100000 (exit 0)" "$got (exit $rc)"
fi
expect "dbsize after --pipe"  "100000"        -n 15 dbsize
expect "first piped key"      "value:0"       -n 15 get key:0
expect "last piped key"       "value:99999"   -n 15 get key:99999

# --pipe with transactions: 100 blocks of MULTI, 100 SETs, INCR, EXEC (103 replies each), then
# one block aborted by a queuing error (MULTI, SET, SET without value, EXEC: 2 errors).
expect "flushdb before --pipe multi" "OK"     -n 15 flushdb
awk 'function cmd(n, a, b, c,   s) { s = "*" n "\r\n$" length(a) "\r\n" a "\r\n"
         if (n > 1) s = s "$" length(b) "\r\n" b "\r\n"
         if (n > 2) s = s "$" length(c) "\r\n" c "\r\n"
         printf "%s", s }
     BEGIN { for (t = 0; t < 100; t++) { cmd(1, "MULTI")
                 for (i = 0; i < 100; i++) cmd(3, "SET", "tx:" t ":" i, "value:" t)
                 cmd(2, "INCR", "tx:count"); cmd(1, "EXEC") }
             cmd(1, "MULTI"); cmd(3, "SET", "tx:aborted", "x"); cmd(2, "SET", "tx:aborted"); cmd(1, "EXEC") }' >"$TMP/multi.txt"
got=$(timeout 120 redis-cli -h "$HOST" -p "$PORT" -n 15 --pipe <"$TMP/multi.txt" 2>&1)
rc=$?
# redis-cli --pipe exits 1 when a reply was an error; the two errors here are expected.
if [[ "$got" == *"errors: 2, replies: 10304"* ]]; then
    pass "--pipe 100 MULTI/EXEC blocks and an aborted one"
else
    fail "--pipe 100 MULTI/EXEC blocks and an aborted one" "...errors: 2, replies: 10304" "$got (exit $rc)"
fi
expect "dbsize after --pipe multi" "10001"    -n 15 dbsize
expect "transactions all ran" "100"           -n 15 get tx:count
expect "last transaction's key" "value:99"    -n 15 get tx:99:99
expect "aborted transaction wrote nothing" "0" -n 15 exists tx:aborted
expect "flushdb after --pipe" "OK"            -n 15 flushdb
expect "dbsize after flushdb" "0"             -n 15 dbsize

# --- redis-cli --scan -------------------------------------------------------------------
# 4,000 keys with mixed prefixes in db 14; --scan lists exactly the keys matching its pattern,
# each at least once (SCAN may return a key twice, so duplicates are folded before comparing).
expect "flushdb before --scan" "OK"           -n 14 flushdb
awk 'function set(k) { printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", length(k), k }
     BEGIN { for (i = 0; i < 1500; i++) { set("user:" i); set("session:" i) }
             for (i = 0; i < 500; i++) { set("users:" i); set("xuser:" i) } }' >"$TMP/scan.txt"
got=$(timeout 60 redis-cli -h "$HOST" -p "$PORT" -n 14 --pipe <"$TMP/scan.txt" 2>&1)
if [[ "$got" == *"errors: 0, replies: 4000"* ]]; then
    pass "--pipe 4000 keys for --scan"
else
    fail "--pipe 4000 keys for --scan" "...errors: 0, replies: 4000" "$got"
fi
awk 'BEGIN { for (i = 0; i < 1500; i++) print "user:" i }' | sort >"$TMP/scan-user"
awk 'BEGIN { for (i = 10; i < 20; i++) print "user:" i }' | sort >"$TMP/scan-user1x"
awk 'BEGIN { for (i = 0; i < 1500; i++) { print "user:" i; print "session:" i }
             for (i = 0; i < 500; i++) { print "users:" i; print "xuser:" i } }' | sort >"$TMP/scan-all"
: >"$TMP/scan-none"

# expect_scan NAME WANT-FILE redis-cli-args...: the output's distinct lines must be WANT-FILE's.
expect_scan() {
    local name=$1 want=$2 lines missing extra
    shift 2
    cli -n 14 "$@" >"$TMP/scan-got"
    lines=$(wc -l <"$TMP/scan-got")
    sort -u "$TMP/scan-got" >"$TMP/scan-got-distinct"
    if cmp -s "$TMP/scan-got-distinct" "$want"; then
        pass "$name ($lines lines)"
    else
        missing=$(comm -23 "$want" "$TMP/scan-got-distinct" | wc -l)
        extra=$(comm -13 "$want" "$TMP/scan-got-distinct" | head -3 | tr '\n' ' ')
        fail "$name" "the $(wc -l <"$want") keys of $(basename "$want")" "$missing missing; unexpected: $extra"
    fi
}
expect_scan "--scan --pattern 'user:*'"            "$TMP/scan-user"   --scan --pattern 'user:*'
expect_scan "--scan --quoted-pattern '\"user:*\"'"  "$TMP/scan-user"   --scan --quoted-pattern '"user:*"'
expect_scan "--scan --pattern 'user:1?'"           "$TMP/scan-user1x" --scan --pattern 'user:1?'
expect_scan "--scan (every key)"                   "$TMP/scan-all"    --scan
expect_scan "--scan --pattern matching nothing"    "$TMP/scan-none"   --scan --pattern 'nobody:*'
# --count came with redis-cli 7.2; older ones refuse it.
if redis-cli --help 2>&1 | grep -q -- '--count'; then
    expect_scan "--scan --pattern 'user:*' --count 1000" "$TMP/scan-user" --scan --pattern 'user:*' --count 1000
    expect_scan "--scan --pattern 'user:*' --count 1" "$TMP/scan-user" --scan --pattern 'user:*' --count 1
    expect_scan "--scan --pattern 'user:1?' --count 100" "$TMP/scan-user1x" --scan --pattern 'user:1?' --count 100
else
    echo "skip  --scan --count: $(redis-cli --version) has no --count (redis-cli 7.2 added it)"
fi

# scan_loop PATTERN COUNT: SCAN cursor MATCH PATTERN COUNT COUNT from cursor 0 to cursor 0, one
# redis-cli call each (raw output: the cursor, then the keys), printing the keys.
scan_loop() {
    local cursor=0 calls=0 out
    while :; do
        out=$(cli -n 14 scan "$cursor" match "$1" count "$2") || return 1
        cursor=${out%%$'\n'*}
        [[ "$out" == *$'\n'* ]] && printf '%s\n' "${out#*$'\n'}"
        calls=$((calls + 1))
        [[ "$cursor" =~ ^[0-9]+$ ]] || { echo "bad cursor: $out"; return 1; }
        [[ "$cursor" == 0 || $calls -ge 100000 ]] && return 0
    done
}
for count in 100 1000; do
    scan_loop 'user:*' "$count" >"$TMP/scan-loop"
    lines=$(wc -l <"$TMP/scan-loop")
    if sort -u "$TMP/scan-loop" | cmp -s - "$TMP/scan-user"; then
        pass "SCAN MATCH 'user:*' COUNT $count, cursor by cursor ($lines lines)"
    else
        fail "SCAN MATCH 'user:*' COUNT $count, cursor by cursor" "the 1500 user: keys" "$(sort -u "$TMP/scan-loop" | comm -3 - "$TMP/scan-user" | head -3 | tr '\n' ' ')"
    fi
done
expect "flushdb after --scan" "OK"            -n 14 flushdb

# --- help and hints: redis-cli builds both from COMMAND DOCS ---------------------------------
plain() { sed 's/\x1b\[[0-9;]*m//g'; }
got=$(cli help set | plain)
want='SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]'
if [[ "$got" == *"$want"* ]]; then pass "HELP SET prints the syntax line"; else fail "HELP SET prints the syntax line" "$want" "$got"; fi
got=$(cli help lpos | plain)
want='LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]'
if [[ "$got" == *"$want"* ]]; then pass "HELP LPOS prints the syntax line"; else fail "HELP LPOS prints the syntax line" "$want" "$got"; fi
# As a person types "SET mykey ", redis-cli shows the rest of the syntax as a hint.
if command -v tmux >/dev/null; then
    session="tagcache-hints-$$"
    tmux new-session -d -s "$session" -x 200 -y 20 "redis-cli -h $HOST -p $PORT"
    for _ in $(seq 1 50); do
        tmux capture-pane -p -t "$session" | grep -q "$HOST:$PORT>" && break
        sleep 0.1
    done
    tmux send-keys -t "$session" "SET mykey "
    want='value [NX|XX] [GET]'
    got=""
    for _ in $(seq 1 50); do
        got=$(tmux capture-pane -p -t "$session" | grep "SET mykey" || true)
        [[ "$got" == *"$want"* ]] && break
        sleep 0.1
    done
    tmux kill-session -t "$session" 2>/dev/null
    if [[ "$got" == *"$want"* ]]; then pass "redis-cli hints SET's arguments as you type"; else fail "redis-cli hints SET's arguments as you type" "SET mykey $want..." "$got"; fi
else
    fail "redis-cli hints SET's arguments as you type" "tmux installed" "tmux not found (apt-get install tmux)"
fi

# Scripts from other languages' clients (Debian's ruby-redis, php-redis, node-redis; Tests/run.sh
# installs them): EVAL with keys and arguments, SCRIPT LOAD then EVALSHA, the key read back.
# check_client NAME EXPECTED PROGRAM ARGS...: the program's whole output must equal EXPECTED.
check_client() {
    local name=$1 want=$2 prog=$3
    shift 3
    if ! command -v "$prog" >/dev/null; then
        fail "$name" "$prog installed" "$prog not found (Tests/run.sh installs it)"
        return
    fi
    local got
    got=$(H=$HOST P=$PORT NODE_PATH=/usr/share/nodejs timeout 30 "$prog" "$@" 2>&1)
    if [[ "$got" == "$want" ]]; then pass "$name"; else fail "$name" "$want" "$got"; fi
}
check_client "ruby-redis eval, evalsha" $'OK\nviasha\nruby' ruby -e '
    require "redis"
    r = Redis.new(host: ENV["H"], port: ENV["P"].to_i)
    puts r.eval("return redis.call(\"SET\", KEYS[1], ARGV[1])", keys: ["smoke:rb"], argv: ["ruby"])
    puts r.evalsha(r.script(:load, "return ARGV[1]"), argv: ["viasha"])
    puts r.get("smoke:rb")'
check_client "phpredis eval, evalSha" $'1\nviasha\nphp' php -r '
    $r = new Redis();
    $r->connect(getenv("H"), (int)getenv("P"));
    echo $r->eval("return redis.call(\"SET\", KEYS[1], ARGV[1])", ["smoke:php", "php"], 1), "\n";
    echo $r->evalSha($r->script("load", "return ARGV[1]"), ["viasha"], 0), "\n";
    echo $r->get("smoke:php"), "\n";'
check_client "node-redis eval, evalSha" $'OK\nviasha\nnode' node -e '
    const { createClient } = require("redis");
    (async () => {
        const c = createClient({ socket: { host: process.env.H, port: +process.env.P } });
        await c.connect();
        console.log(await c.eval("return redis.call(\"SET\", KEYS[1], ARGV[1])", { keys: ["smoke:node"], arguments: ["node"] }));
        console.log(await c.evalSha(await c.scriptLoad("return ARGV[1]"), { arguments: ["viasha"] }));
        console.log(await c.get("smoke:node"));
        await c.quit();
    })().catch((e) => { console.error(String(e)); process.exit(1); });'

cli del smoke:k smoke:n smoke:a smoke:b smoke:text smoke:bin smoke:sp smoke:f smoke:inline smoke:nl smoke:rb smoke:php smoke:node >/dev/null
echo "cli smoke: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
