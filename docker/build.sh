#!/bin/sh
# Builds the tagcache-server the container image ships: release, the Swift runtime linked in
# statically (the runtime image has no Swift), symbols stripped. docker/Dockerfile's build
# stage runs it, and Tests/run.sh (suite docker) runs the same RUN line on a copy of exactly
# what the Dockerfile copies, so the two cannot drift apart.
#
#   sh docker/build.sh OUT_DIR
#
# TAGCACHE_SCRATCH_PATH, when set, is handed to swift build as --scratch-path (the test keeps
# its build there between runs; the image build leaves it unset).
set -eu
out=$1
build() { swift build -c release --static-swift-stdlib ${TAGCACHE_SCRATCH_PATH:+--scratch-path "$TAGCACHE_SCRATCH_PATH"} "$@"; }
build --product tagcache-server
mkdir -p "$out"
strip -o "$out/tagcache-server" "$(build --show-bin-path)/tagcache-server"
