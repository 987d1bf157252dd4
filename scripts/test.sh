#!/usr/bin/env bash
# Builds and runs every test. Each integration test starts the servers it needs (redis-server,
# SIP peers) on 127.0.0.1 free ports and stops them; nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export SIPHON_BIN="$(swift build --show-bin-path)/siphon"
# Unit tests in parallel. The integration tests run real-time calls (20 ms RTP clocks) and
# several processes each, so never many at once: two lanes side by side, each one test at a time.
# A call mostly waits on its clock (one lane alone keeps a core about a third busy), so two lanes
# halve the wall time and leave each test the time it has alone (docs/operations.md, "Tests").
# LANE_A holds the LiveKit, WebRTC, preflight, provider and console suites, about half the time. The VAD
# corpus suite keeps a core busy throughout (31 s of CPU in 35 s): it runs alone, after the lanes.
swift test --skip-build --skip IntegrationTests
tests="$(swift build --show-bin-path)/siphonPackageTests.xctest"  # run directly: `swift test` locks .build
LANE_A='IntegrationTests\.(LiveKitTests|WebRTCInteropTests|PreflightTests|ProviderTests|ConsoleTests)'
ALONE='IntegrationTests\.VADCorpusTests'
mkdir -p out/test
"$tests" --testing-library swift-testing --filter "$LANE_A" --no-parallel > out/test/lane-a.log 2>&1 &
lane_a=$!
lane_b=0
"$tests" --testing-library swift-testing --filter IntegrationTests --skip "$LANE_A" --skip "$ALONE" --no-parallel > out/test/lane-b.log 2>&1 || lane_b=$?
wait "$lane_a" && lane_a=0 || lane_a=$?
for lane in a b; do echo "== integration tests, lane $lane (out/test/lane-$lane.log)"; cat "out/test/lane-$lane.log"; done
[ "$lane_a" -eq 0 ] && [ "$lane_b" -eq 0 ] || { echo "integration tests failed (lane a: $lane_a, lane b: $lane_b)"; exit 1; }
"$tests" --testing-library swift-testing --filter "$ALONE" --no-parallel
# The SIP parser under libFuzzer + AddressSanitizer: a fixed seed and run count, so every machine
# tries the same inputs (a crash fails the run and leaves the input in .build-fuzz/). Longer random
# exploration: scripts/fuzz-sip.sh --explore SECONDS.
scripts/fuzz-sip.sh 250000
# The WebRTC parsers (STUN, ICE candidates, JSEP SDP, DCEP) the same way.
scripts/fuzz-webrtc.sh 250000
