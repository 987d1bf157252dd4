#!/usr/bin/env bash
# Signalling and media-receive benchmark on one core: SIP messages parsed (and validated) per
# second against CPython's email header parser, RTP packets per second through the jitter buffer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin release)
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)   # one core, as the figures claim
"${PIN[@]}" "$BIN" bench sip "$@"
