#!/usr/bin/env bash
# Redis 7.0.15's own test suite (its TCL tests, from Debian's source package) against
# tagcache-server, unit by unit, each against a fresh server (Tests/redis-tests/suite.py says
# how the harness is driven and how its output is judged).
#
#   TAGCACHE_SERVER_BIN=.build/debug/tagcache-server bash Tests/redis-tests/run.sh
#   ... bash Tests/redis-tests/run.sh unit/type/hash unit/expire    only these units
#   ... bash Tests/redis-tests/run.sh --against-redis               the same against redis-server
#   bash Tests/redis-tests/run.sh --fetch-only                      only get the tests
#
# The tests come once from `apt-get source redis` (a deb-src entry for the system's Debian
# suites is added to /etc/apt/sources.list.d/ when there is none) and stay in
# .build-redis-tests/; tclsh is installed with apt when missing. Each run works on a fresh copy
# with Tests/redis-tests/harness.patch applied.
#
# Prints one line per unit, then every failure not in expected-failures.txt and every listed
# one that passes now, and ends with "redis-tests: N passed, M failed"; exits 1 on any of them,
# and 77 when the tests cannot run here (no apt, no network...).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.build-redis-tests"
LOGS=${REDIS_TESTS_LOGS:-$ROOT/.build/test-logs/redis-tests}
# The Redis release the expected-failures list was made against.
REDIS_VERSION=7.0.15
SOURCE="$CACHE/redis-$REDIS_VERSION"
CANNOT_RUN=77

mkdir -p "$LOGS" "$CACHE"
cannot_run() {
    echo "redis-tests cannot run: $*"
    exit $CANNOT_RUN
}

apt_get() {
    # apt_get ARGS...: quiet unless it fails (log: $LOGS/apt.log).
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "apt-get $* needs root and apt-get"
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$LOGS/apt.log" 2>&1 || {
        tail -5 "$LOGS/apt.log"
        return 1
    }
}

APT_UPDATED=""
apt_update() {
    echo "apt-get update (log: ${LOGS#"$ROOT/"}/apt.log)"
    apt_get update -qq && APT_UPDATED=1
}
apt_install() {
    [[ -n "$APT_UPDATED" ]] || apt_update || return 1
    echo "installing $*"
    apt_get install -y -qq --no-install-recommends "$@"
}

# add_deb_src: a deb-src entry for every Debian suite apt fetches packages from, when apt knows
# no source index at all.
add_deb_src() {
    apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -qx Sources && return 0
    local list=/etc/apt/sources.list.d/tagcache-deb-src.sources entries
    entries=$(apt-get indextargets --format '$(CREATED_BY) $(SITE) $(RELEASE) $(COMPONENT)' 2>/dev/null |
        awk '$1 == "Packages" && $2 ~ /debian/ { print $2, $3, $4 }' | sort -u)
    [[ -n "$entries" ]] || return 1
    echo "adding deb-src entries for the system's Debian suites: $list"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    while read -r site release component; do
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n' "$site" "$release" "$component"
        [[ -f "$keyring" ]] && printf 'Signed-By: %s\n' "$keyring"
        echo
    done <<<"$entries" >"$list"
}

fetch_tests() {
    [[ -f "$SOURCE/tests/test_helper.tcl" && -f "$SOURCE/VERSION" ]] && return 0
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null ||
        cannot_run "the tests come from 'apt-get source redis', which needs root and apt-get"
    command -v dpkg-source >/dev/null || apt_install dpkg-dev ||
        cannot_run "could not install dpkg-dev (apt-get source needs it)"
    add_deb_src || cannot_run "no Debian suite in apt's sources to add a deb-src entry for"
    # Even after an update for dpkg-dev: the deb-src entry may be new.
    apt_update || cannot_run "apt-get update failed"
    local version
    version=$(apt-cache showsrc redis 2>/dev/null | sed -n "s/^Version: \(.*:$REDIS_VERSION-.*\)/\1/p" | sort -V | tail -1)
    [[ -n "$version" ]] || cannot_run "apt has no source package of redis $REDIS_VERSION"
    echo "apt-get source redis=$version into ${CACHE#"$ROOT/"}/"
    local download="$CACHE/download"
    rm -rf "$download" "$SOURCE"
    mkdir -p "$download"
    (cd "$download" && apt_get source -qq "redis=$version") || cannot_run "apt-get source redis failed"
    [[ -f "$download/redis-$REDIS_VERSION/tests/test_helper.tcl" ]] ||
        cannot_run "the source package has no redis-$REDIS_VERSION/tests/test_helper.tcl"
    # Only the tests are kept.
    mkdir -p "$SOURCE"
    mv "$download/redis-$REDIS_VERSION/tests" "$SOURCE/tests"
    echo "redis $version (Debian source package)" >"$SOURCE/VERSION"
    rm -rf "$download"
}

command -v python3 >/dev/null || cannot_run "python3 is not installed"
if ! command -v tclsh >/dev/null; then
    apt_install tcl || cannot_run "could not install tcl"
fi
if ! command -v patch >/dev/null; then
    apt_install patch || cannot_run "could not install patch"
fi
fetch_tests
[[ " $* " == *" --fetch-only "* ]] && { echo "tests of $(cat "$SOURCE/VERSION") in ${SOURCE#"$ROOT/"}/tests"; exit 0; }

# A fresh copy each run: the harness writes into tests/tmp, and the patch applies to pristine files.
WORK="$CACHE/work"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r "$SOURCE/tests" "$WORK/tests"
patch -s -p0 -d "$WORK" <"$HERE/harness.patch" || cannot_run "harness.patch does not apply to $(cat "$SOURCE/VERSION")"

exec python3 "$HERE/suite.py" --work "$WORK" --logs "$LOGS" --source "$(cat "$SOURCE/VERSION")" "$@"
