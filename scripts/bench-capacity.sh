#!/usr/bin/env bash
# How many calls one worker holds on its 20 ms clock, for the offline receptionist (PocketSphinx,
# eSpeak NG) and for a cloud-provider agent (Deepgram + OpenAI + Cartesia, the local stand-ins of
# Tests/Peers): `siphon bench capacity` ramps concurrent real SIP calls (the worker dials Siphon's
# load phones; each says one line at 7 s and hangs up at 22 s) and prints per step the worker's CPU
# and memory per call, the outbound inter-packet delta on the wire (kernel arrival stamps at the
# phones, so the phones' own scheduling on this shared box does not count), caller frames dropped
# and answer time, the largest step that held, and an SVG chart per agent. Figures, not pass/fail.
#   OFFLINE_STEPS=10,50,100 CLOUD_STEPS=100,300,500 scripts/bench-capacity.sh
# LIVEKIT_STEPS (default 10,20,40; "none" skips any of the three): both agents' calls placed through
# LiveKit instead (the LiveKit stand-in of Tests/Peers, whose phones say the same line), the agent in
# each room over WebRTC; the delta from a tcpdump capture of the worker's outbound UDP.
# BEFORE=/path/to/an/older/siphon runs the same steps with that binary as the worker too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh >&2
BIN=$(siphon_bin release)
OUT=${OUT:-out/bench-capacity}
OFFLINE_STEPS=${OFFLINE_STEPS:-10,50,100}
CLOUD_STEPS=${CLOUD_STEPS:-100,300,500}
LIVEKIT_STEPS=${LIVEKIT_STEPS:-10,20,40}
mkdir -p "$OUT"

PROVIDER_PORT=$(free_port)
.venv/bin/python Tests/Peers/provider_server.py "$PROVIDER_PORT" >"$OUT/providers.log" 2>&1 &
PROVIDER_PID=$!
LK_PID=""
trap 'kill $PROVIDER_PID $LK_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PROVIDER_PORT/_stats" >/dev/null && break; sleep 0.1; done
cat >"$OUT/cloud-agent.yaml" <<YAML
agents:
  - name: cloud-receptionist
    instructions: Book dental appointments.
    greeting: Thank you for calling Bright Smile Dental. How can I help you today?
    stt: { provider: deepgram, api_key: dg-test, base_url: "ws://127.0.0.1:$PROVIDER_PORT" }
    llm: { provider: openai, api_key: sk-test, model: mock-ok, base_url: "http://127.0.0.1:$PROVIDER_PORT/v1" }
    tts: { provider: cartesia, api_key: sk-cartesia, voice: voice-1, base_url: "ws://127.0.0.1:$PROVIDER_PORT" }
YAML

run() {  # run NAME BINARY STEPS [--config FILE --agent NAME]; STEPS "none" skips it
  local name=$1 binary=$2 steps=$3; shift 3
  [ "$steps" != none ] || return 0
  echo "== $name" >&2
  "$BIN" bench capacity --steps "$steps" --out "$OUT/$name" --worker-binary "$binary" "$@"
}
run offline "$BIN" "$OFFLINE_STEPS"
run cloud "$BIN" "$CLOUD_STEPS" --config "$OUT/cloud-agent.yaml" --agent cloud-receptionist
if [ "$LIVEKIT_STEPS" != none ]; then
  LK_PORT=$(free_port)
  LK_SECRET="bench-secret-$(date +%s%N)"
  .venv/bin/python Tests/Peers/livekit_server.py "$LK_PORT" APIbench "$LK_SECRET" >"$OUT/livekit-standin.log" 2>&1 &
  LK_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$LK_PORT/_test/failures" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "http://127.0.0.1:$LK_PORT/_test/phone" -d '{"lines": ["I would like to book a cleaning"]}' >/dev/null
  export LIVEKIT_URL="http://127.0.0.1:$LK_PORT" LIVEKIT_API_KEY=APIbench LIVEKIT_API_SECRET="$LK_SECRET"
  export SIP_TRUNK_ADDRESS=sip.carrier.example FROM_NUMBER=+15550100000
  # 15 s: the stand-in's phones speak once, early, and the receptionist ends a silent call soon after.
  run livekit "$BIN" "$LIVEKIT_STEPS" --transport livekit --hold 15
  run livekit-cloud "$BIN" "$LIVEKIT_STEPS" --transport livekit --hold 15 --config "$OUT/cloud-agent.yaml" --agent cloud-receptionist
fi
if [ -n "${BEFORE:-}" ]; then
  run offline-before "$BEFORE" "$OFFLINE_STEPS" --all-steps
  run cloud-before "$BEFORE" "$CLOUD_STEPS" --config "$OUT/cloud-agent.yaml" --agent cloud-receptionist --all-steps
  if [ "$LIVEKIT_STEPS" != none ]; then
    run livekit-before "$BEFORE" "$LIVEKIT_STEPS" --transport livekit --hold 15 --all-steps
    run livekit-cloud-before "$BEFORE" "$LIVEKIT_STEPS" --transport livekit --hold 15 --config "$OUT/cloud-agent.yaml" --agent cloud-receptionist --all-steps
  fi
fi
echo "charts: $OUT/*/capacity.svg" >&2
