#!/usr/bin/env bash
# A complete local run: Redis (started here unless REDIS_URL points at one), the dispatcher, a
# supervisor and two workers; five calls placed through the HTTP API; the sessions as stored.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin)
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
if [ -z "${REDIS_URL:-}" ]; then start_redis; trap stop_redis EXIT; fi
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${REDIS_DIR:-}" ] && stop_redis || true; }
trap cleanup EXIT
export SIPHON_API_TOKEN=${SIPHON_API_TOKEN:-demo-$(date +%s)}
PORT=$(free_port)
"$BIN" dispatcher --host 127.0.0.1 --port "$PORT" >"$OUT/dispatcher.log" 2>&1 & pids+=($!)
"$BIN" supervisor >"$OUT/supervisor.log" 2>&1 & pids+=($!)
"$BIN" worker --id demo-1 --capacity 3 >"$OUT/worker-1.log" 2>&1 & pids+=($!)
"$BIN" worker --id demo-2 --capacity 3 >"$OUT/worker-2.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" | grep -q '"live_workers":2' && break; sleep 0.1; done
echo "== cluster up: dispatcher on :$PORT, Redis at $REDIS_URL"
"$BIN" workers
ids=()
for i in 1 2 3 4 5; do
  id=$(curl -sf -H "Authorization: Bearer $SIPHON_API_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"agent\":\"Receptionist\",\"to\":\"+1555020010$i\",\"transport\":\"sim\",\"sim\":{\"turns\":6,\"interval_ms\":150}}" \
    "http://127.0.0.1:$PORT/v1/calls" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  echo "POST /v1/calls -> $id"
  ids+=("$id")
done
for id in "${ids[@]}"; do "$BIN" sessions show "$id" --follow --json >/dev/null; done
echo "== sessions"
"$BIN" sessions list
echo "== one session in full"
"$BIN" sessions show "${ids[0]}"
