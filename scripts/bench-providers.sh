#!/usr/bin/env bash
# Provider client overhead: a local server streams what providers send (SSE tokens, raw PCM);
# each stream is read raw (the baseline) and through Siphon's client in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin release)
"$BIN" bench providers "$@"
