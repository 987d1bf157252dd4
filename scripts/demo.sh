#!/usr/bin/env bash
# A complete call on this machine (see `siphon demo --help`): builds, then runs `siphon demo`, which
# starts Redis (unless REDIS_URL is set), the dispatcher, a supervisor, a worker and a SIP caller,
# places one call with the HTTP API and follows it. Output in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin)
exec "$BIN" demo ${REDIS_URL:+--redis "$REDIS_URL"} "$@"
