#!/usr/bin/env bash
# A complete call on this machine, with the production processes and no provider or carrier:
# Redis (started here unless REDIS_URL is set), the dispatcher, a supervisor, a worker serving the
# built-in offline receptionist (PocketSphinx STT, scripted policy, eSpeak NG TTS) over SIP/RTP,
# and `siphon caller`, a SIP phone on loopback that speaks scripted lines — one of them over the
# agent, to show barge-in. The call is placed with one HTTP request, the transcript is followed
# live, and both sides are recorded to out/demo/call.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(siphon_bin)
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
rm -f "$OUT/call.wav"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${REDIS_DIR:-}" ] && stop_redis || true
}
trap cleanup EXIT
[ -n "${REDIS_URL:-}" ] || start_redis
export SIPHON_API_TOKEN=${SIPHON_API_TOKEN:-demo-$RANDOM$RANDOM}
API_PORT=$(free_port)
SIP_PORT=$(free_port)
CALLER_PORT=$(free_port)

"$BIN" dispatcher --host 127.0.0.1 --port "$API_PORT" >"$OUT/dispatcher.log" 2>&1 & pids+=($!)
"$BIN" supervisor >"$OUT/supervisor.log" 2>&1 & pids+=($!)
"$BIN" worker --id demo-worker --capacity 4 --sip-port "$SIP_PORT" --bind 127.0.0.1 --sip-host 127.0.0.1 \
  --rtp-ports 40000-40999 >"$OUT/worker.log" 2>&1 & pids+=($!)
"$BIN" caller --port "$CALLER_PORT" --record "$OUT/call.wav" \
  --line "I would like to book a cleaning" \
  --line "@2.5 Tuesday please" \
  --line "In the morning" \
  --line "No that is all thank you" >"$OUT/caller.log" 2>&1 & CALLER_PID=$!; pids+=($CALLER_PID)

for _ in $(seq 200); do
  grep -q "listening on" "$OUT/caller.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$OUT/caller.log" || { echo "siphon caller did not start:"; cat "$OUT/caller.log"; exit 1; }
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$API_PORT/readyz" 2>/dev/null | grep -q '"live_workers":1' && break
  sleep 0.1
done
echo "== cluster up: dispatcher http://127.0.0.1:$API_PORT, worker SIP 127.0.0.1:$SIP_PORT, caller SIP 127.0.0.1:$CALLER_PORT, $REDIS_URL"
"$BIN" workers

BODY="{\"agent\":\"offline-receptionist\",\"to\":\"+15550200123\",\"from\":\"+15550100000\",\"transport\":\"sip\",\"trunk\":{\"address\":\"127.0.0.1:$CALLER_PORT\"}}"
echo "== POST /v1/calls $BODY"
ID=$(curl -sf -H "Authorization: Bearer $SIPHON_API_TOKEN" -H 'Content-Type: application/json' -d "$BODY" \
  "http://127.0.0.1:$API_PORT/v1/calls" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "== call $ID, live (siphon sessions show $ID --follow)"
"$BIN" sessions show "$ID" --follow
for _ in $(seq 50); do kill -0 "$CALLER_PID" 2>/dev/null || break; sleep 0.1; done
echo "== caller: $(tail -1 "$OUT/caller.log")"
"$BIN" sessions show "$ID" --json >"$OUT/session.json"
echo "== session record: $OUT/session.json; recording (left the agent as the caller heard it, right the caller): $OUT/call.wav"
python3 - "$OUT/session.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
agent = [t for t in s["turns"] if t["role"] == "agent" and "latency.voice_to_voice_ms" in t.get("extra", {})]
for t in agent:
    e = t["extra"]
    parts = " ".join(f"{k}={e['latency.' + k + '_ms']}" for k in ["stt", "endpointing", "llm", "tts", "framework"] if "latency." + k + "_ms" in e)
    print(f"  turn #{t['seq']}: voice-to-voice {e['latency.voice_to_voice_ms']} ms ({parts})")
barge = [t for t in s["turns"] if t.get("interrupted")]
print(f"  barge-ins: {len(barge)}")
for t in barge:
    print(f"  turn #{t['seq']}: the agent stopped {t['extra'].get('barge_in.detect_ms', '?')} ms after the caller started talking; heard: {t['text']!r}")
sys.exit(0 if s["status"] == "ended" else 1)
PY
