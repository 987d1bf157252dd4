#!/usr/bin/env bash
# Whole SIP calls with the offline engines and the scripted caller (one barge-in each): per-turn
# voice-to-voice and the framework's own share, barge-in detection and reaction, p50/p95.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin release)
"$BIN" bench calls --calls "${CALLS:-6}" --concurrency "${CONCURRENCY:-2}" ${REDIS_URL:+--redis "$REDIS_URL"} "$@"
