#!/usr/bin/env bash
# Cluster benchmarks, measured against a baseline taken in the same run on the same Redis:
#   enqueue throughput vs `redis-benchmark -P 16 XADD` (the raw ceiling of one Redis),
#   claim latency (XADD → a worker running the call).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin release)
start_redis
trap stop_redis EXIT
N=${N:-200000}
baseline=$(redis-benchmark -p "$REDIS_PORT" -P 16 -n "$N" -q XADD bench-stream '*' f v | tr -d '\r' | awk '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1)=="requests") print $i}' | tail -1)
redis-cli -p "$REDIS_PORT" del bench-stream >/dev/null
enqueue=$("$BIN" bench enqueue --count "${JOBS:-200000}" --json)
claim=$("$BIN" bench claim --json)
python3 - "$baseline" "$enqueue" "$claim" <<'PY'
import json, sys
base = float(sys.argv[1]); enq = json.loads(sys.argv[2]); claim = json.loads(sys.argv[3])
print(f"redis-benchmark -P 16 XADD: {base:,.0f} XADD/s (baseline)")
print(f"siphon bench enqueue:       {enq['jobs_per_s']:,.0f} jobs/s  (ratio {enq['jobs_per_s']/base:.3f}; each job = validation, canonical JSON, call hash + stream entry in MULTI/EXEC)")
print(f"siphon bench claim:         p50 {claim['p50_ms']:.3f} ms, p99 {claim['p99_ms']:.3f} ms over {claim['calls']} calls")
PY
