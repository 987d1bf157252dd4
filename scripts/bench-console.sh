#!/usr/bin/env bash
# The operator console's cost on the dispatcher and Redis with 200 live calls, against the same
# cluster with no console open, in one run (scripts/bench-console.py; CALLS, SECONDS override).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin release)
exec .venv/bin/python scripts/bench-console.py --siphon "$BIN" --calls "${CALLS:-200}" --seconds "${SECONDS_PER_WINDOW:-20}" "$@"
