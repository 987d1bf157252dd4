#!/usr/bin/env bash
# Media benchmark: per-frame cost of one call's audio work, allocations counted by preloading
# ordo-one's malloc interposer (built here; never linked into siphon), audioop as the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin release)
swift build -c release --product MallocInterposerSwift >&2
LIB="$(swift build -c release --show-bin-path)/libMallocInterposerSwift.so"
LD_PRELOAD="$LIB" "$BIN" bench media --calls "${CALLS:-200}" --seconds "${SECONDS_PER_CALL:-10}" "$@"
