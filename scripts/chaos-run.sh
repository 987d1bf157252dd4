#!/usr/bin/env bash
# The cluster chaos run: 3 workers, 60 sim calls, one worker SIGKILLed mid-run.
# Prints: calls ended, duplicate/missing turns, and how long after the kill each reassigned
# call spoke again (its `resumed` event). Workers use the default 500 ms heartbeat.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
CALLS=${CALLS:-60}
TURNS=${TURNS:-20}
INTERVAL_MS=${INTERVAL_MS:-250}
BIN=$(siphon_bin)
LOGS=$(mktemp -d /tmp/siphon-chaos.XXXXXX)
start_redis
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; stop_redis; }
trap cleanup EXIT

for w in chaos-a chaos-b chaos-c; do
  "$BIN" worker --id "$w" --capacity 30 --no-sip --metrics-port 0 >"$LOGS/$w.log" 2>&1 & pids+=($!)
done
"$BIN" supervisor >"$LOGS/supervisor.log" 2>&1 & pids+=($!)
victim=${pids[1]}
sleep 1.5
for _ in $(seq "$CALLS"); do
  "$BIN" call --to +15550200123 --agent Chaos --transport sim --sim-turns "$TURNS" --sim-interval-ms "$INTERVAL_MS" >/dev/null
done
sleep 2
kill -9 "$victim"
kill_ms=$(python3 -c 'import time; print(int(time.time()*1000))')
echo "SIGKILLed worker chaos-b at $kill_ms"

python3 - "$BIN" "$kill_ms" "$CALLS" "$TURNS" <<'PY'
import json, subprocess, sys, time, statistics
bin_, kill_ms, calls, turns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def sh(*a): return json.loads(subprocess.check_output([bin_, *a]))
deadline = time.time() + 120
while time.time() < deadline:
    listed = sh("sessions", "list", "--json", "--limit", "1000")
    if len(listed) >= calls and all(c["status"] in ("ended", "failed", "canceled") for c in listed): break
    time.sleep(0.5)
ended = dup = missing = 0
resumes = []
for c in listed:
    s = sh("sessions", "show", c["id"], "--json")
    seqs = [t["seq"] for t in s["turns"]]
    dup += len(seqs) - len(set(seqs))
    missing += len(set(range(1, turns + 1)) - set(seqs))
    ended += s["status"] == "ended"
    r = [e["at"] for e in s["events"] if e["type"] == "resumed"]
    if r: resumes.append(r[0] - kill_ms)
print(f"calls ended: {ended}/{calls}")
print(f"duplicate turns: {dup}, missing turns: {missing}")
if resumes:
    print(f"reassigned calls resumed: {len(resumes)}; after the kill: median {statistics.median(resumes):.0f} ms, max {max(resumes)} ms")
else:
    print("no call was reassigned (the victim had no calls?)")
sys.exit(0 if ended == calls and dup == 0 and missing == 0 else 1)
PY
