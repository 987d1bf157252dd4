#!/usr/bin/env bash
# A LiveKit call beside a direct SIP call, in the same run: the same conversation (the offline
# receptionist, the demo's caller lines with one barge-in), the same concurrency, the worker's CPU
# and resident memory per call (idle taken off), voice-to-voice latency and the framework's share,
# and, for LiveKit, join → ICE and DTLS up — over /rtc v0 (two peer connections) and /rtc/v1 (one).
# LiveKit is the stand-in of Tests/Peers (Twirp, /rtc and /rtc/v1 with aiortc peer connections; its
# phone speaks the lines), so its own CPU is not the worker's and is not counted. Figures, not pass/fail: this machine is shared and noisy.
#   CALLS=8 CONCURRENCY=4 scripts/bench-livekit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh >&2
BIN=$(siphon_bin release)
CALLS=${CALLS:-8}
CONCURRENCY=${CONCURRENCY:-4}
OUT=${OUT:-out/bench-livekit}
mkdir -p "$OUT"

sip=$("$BIN" bench calls --transport sip --calls "$CALLS" --concurrency "$CONCURRENCY" --out "$OUT/sip" --json)

LK_PORT=$(free_port)
LK_SECRET="bench-secret-$(date +%s%N)"
.venv/bin/python Tests/Peers/livekit_server.py "$LK_PORT" APIbench "$LK_SECRET" >"$OUT/livekit-standin.log" 2>&1 &
LK_PID=$!
trap 'kill $LK_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$LK_PORT/_test/failures" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$LK_PORT/_test/phone" \
  -d '{"lines": ["I would like to book a cleaning", "@2.5 Tuesday please", "In the morning", "No that is all thank you"]}' >/dev/null
livekit_calls() {
  curl -sf -X POST "http://127.0.0.1:$LK_PORT/_test/signalling" -d "{\"v1\": $1}" >/dev/null
  LIVEKIT_URL="http://127.0.0.1:$LK_PORT" LIVEKIT_API_KEY=APIbench LIVEKIT_API_SECRET="$LK_SECRET" \
    SIP_TRUNK_ADDRESS=sip.carrier.example FROM_NUMBER=+15550100000 \
    "$BIN" bench calls --transport livekit --calls "$CALLS" --concurrency "$CONCURRENCY" --out "$OUT/livekit-$2" --json
}
livekit=$(livekit_calls false v0)
livekit1=$(livekit_calls true v1)

python3 - "$sip" "$livekit" "$livekit1" <<'PY'
import json, sys
sip, lk, lk1 = (json.loads(a) for a in sys.argv[1:4])
def row(name, r):
    w = r["worker"]
    print(f"{name:8} {r['ended']}/{r['calls']} ended | worker {w['cpu_ms_per_call_second']:6.1f} ms CPU per call-second, "
          f"+{w['rss_mb_per_concurrent_call']:.2f} MB per concurrent call (idle {w['idle_rss_mb']:.1f} MB, peak {w['peak_rss_mb']:.1f} MB) | "
          f"voice-to-voice p50 {r['voice_to_voice_ms']['p50']:.0f} ms, p95 {r['voice_to_voice_ms']['p95']:.0f} ms, "
          f"framework p50 {r['framework_ms']['p50']:.0f} ms ({r['framework_share_of_voice_to_voice'] * 100:.1f} %)")
row("SIP", sip)
row("LK v0", lk)
row("LK v1", lk1)
ws = sip["worker"]
for name, r in (("v0", lk), ("v1", lk1)):
    wl = r["worker"]
    cpu = wl["cpu_ms_per_call_second"] / ws["cpu_ms_per_call_second"] if ws["cpu_ms_per_call_second"] else float("nan")
    extra = wl["rss_mb_per_concurrent_call"] - ws["rss_mb_per_concurrent_call"]
    c = r["webrtc_connect_ms"]
    print(f"LiveKit {name} / SIP: CPU x{cpu:.2f} (goal <= 2); memory {extra:+.2f} MB per concurrent call over the SIP call (goal <= 2 MB); "
          f"join -> ICE and DTLS up p50 {c['p50']:.0f} ms, p95 {c['p95']:.0f} ms over {c['n']} calls")
print("(most of either call is the offline engines, and peak RSS is noisy: `siphon bench webrtc` measures the transports alone)")
PY
