#!/usr/bin/env bash
# Builds the SIP parser fuzz target with libFuzzer + AddressSanitizer and runs it, seeded with the
# RFC 4475 torture corpus and every input that once crashed it (Fuzz/regressions).
#   scripts/fuzz-sip.sh [RUNS]            fixed seed and run count: the same inputs on every machine
#                                         (what `make test` runs, so CI never fails by luck)
#   scripts/fuzz-sip.sh --explore SECONDS random seed, corpus kept in .build-fuzz/corpus between runs
# A crash prints its report and leaves the input in .build-fuzz/; copy it into Fuzz/regressions.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build-fuzz
mkdir -p "$OUT"
FILES=(SIPParser SIPMessage SIPMessageError SIPHeaderName SIPParameters SIPURI NameAddress ViaHeader SIPValidation
       SessionDescription SessionExpires MediaNegotiation)
SRC=()
for f in "${FILES[@]}"; do SRC+=("Sources/SiphonSIP/$f.swift"); done
if [ ! -x "$OUT/sip-parser" ] || [ -n "$(find Sources/SiphonSIP Fuzz -newer "$OUT/sip-parser" -name '*.swift' | head -1)" ]; then
  # gold warns about every ASan symbol it cannot export; only a failed build's output is worth reading
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SiphonSIPFuzz "${SRC[@]}" Fuzz/SIPParserFuzzer.swift \
    -o "$OUT/sip-parser" >"$OUT/build.log" 2>&1 || { grep -v 'Cannot export local symbol' "$OUT/build.log" >&2; exit 1; }
fi
if [ "${1:-}" = "--explore" ]; then
  CORPUS="$OUT/corpus"
  LIMIT=(-max_total_time="${2:-300}")
else
  CORPUS=$(mktemp -d)
  trap 'rm -rf "$CORPUS"' EXIT
  LIMIT=(-seed=1 -runs="${1:-250000}")
fi
mkdir -p "$CORPUS"
cp Tests/Fixtures/sip-torture/valid/*.sip Tests/Fixtures/sip-torture/invalid/*.sip Fuzz/regressions/* "$CORPUS/"
LOG="$OUT/last-run.log"
if "$OUT/sip-parser" -artifact_prefix="$OUT/" "${LIMIT[@]}" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$CORPUS" >"$LOG" 2>&1; then
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$LOG"
else
  echo "SIP fuzzer found a failing input (full log: $LOG):" >&2
  grep -E -A25 'Program crashed|Fatal error|ERROR: (AddressSanitizer|libFuzzer)|deadly signal' "$LOG" | head -80 >&2
  grep -E 'Test unit written' "$LOG" >&2 || true
  exit 1
fi
