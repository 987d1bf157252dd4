#!/usr/bin/env bash
# Builds the SIP parser fuzz target with libFuzzer + AddressSanitizer and runs it for a bounded time,
# seeded with the RFC 4475 torture corpus. Usage: scripts/fuzz-sip.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=.build-fuzz
mkdir -p "$OUT/corpus"
FILES=(SIPParser SIPMessage SIPMessageError SIPHeaderName SIPParameters SIPURI NameAddress ViaHeader SIPValidation SessionDescription)
SRC=()
for f in "${FILES[@]}"; do SRC+=("Sources/SiphonSIP/$f.swift"); done
if [ ! -x "$OUT/sip-parser" ] || [ -n "$(find Sources/SiphonSIP Fuzz -newer "$OUT/sip-parser" -name '*.swift' | head -1)" ]; then
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SiphonSIPFuzz "${SRC[@]}" Fuzz/SIPParserFuzzer.swift -o "$OUT/sip-parser"
fi
cp Tests/Fixtures/sip-torture/valid/*.sip Tests/Fixtures/sip-torture/invalid/*.sip "$OUT/corpus/" 2>/dev/null || true
"$OUT/sip-parser" -artifact_prefix="$OUT/" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$OUT/corpus" 2>&1 | tail -20
