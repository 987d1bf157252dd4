#!/usr/bin/env bash
# Builds the WebRTC parsers' fuzz target (STUN, ICE candidates, JSEP SDP, DCEP) with libFuzzer +
# AddressSanitizer and runs it, seeded with Fuzz/webrtc-seeds and every input that once crashed it.
#   scripts/fuzz-webrtc.sh [RUNS]            fixed seed and run count (what `make test` runs)
#   scripts/fuzz-webrtc.sh --explore SECONDS random seed, corpus kept in .build-fuzz/webrtc-corpus
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build-fuzz
mkdir -p "$OUT"
FILES=(TransportAddress WebRTCError CRC32 STUNMessage ICECandidate WebRTCSessionDescription DCEPMessage)
SRC=()
for f in "${FILES[@]}"; do SRC+=("Sources/SiphonWebRTC/$f.swift"); done
if [ ! -x "$OUT/webrtc-parsers" ] || [ -n "$(find Sources/SiphonWebRTC Fuzz -newer "$OUT/webrtc-parsers" -name '*.swift' | head -1)" ]; then
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SiphonWebRTCFuzz "${SRC[@]}" Fuzz/WebRTCParserFuzzer.swift \
    -o "$OUT/webrtc-parsers" >"$OUT/build-webrtc.log" 2>&1 || { grep -v 'Cannot export local symbol' "$OUT/build-webrtc.log" >&2; exit 1; }
fi
if [ "${1:-}" = "--explore" ]; then
  CORPUS="$OUT/webrtc-corpus"
  LIMIT=(-max_total_time="${2:-300}")
else
  CORPUS=$(mktemp -d)
  trap 'rm -rf "$CORPUS"' EXIT
  LIMIT=(-seed=1 -runs="${1:-250000}")
fi
mkdir -p "$CORPUS"
cp Fuzz/webrtc-seeds/* "$CORPUS/"
LOG="$OUT/last-webrtc-run.log"
if "$OUT/webrtc-parsers" -artifact_prefix="$OUT/webrtc-" "${LIMIT[@]}" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$CORPUS" >"$LOG" 2>&1; then
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$LOG"
else
  echo "WebRTC fuzzer found a failing input (full log: $LOG):" >&2
  grep -E -A25 'Program crashed|Fatal error|ERROR: (AddressSanitizer|libFuzzer)|deadly signal' "$LOG" | head -80 >&2
  grep -E 'Test unit written' "$LOG" >&2 || true
  exit 1
fi
