#!/usr/bin/env bash
# Builds and runs every test. Each integration test starts the servers it needs (redis-server,
# SIP peers) on 127.0.0.1 free ports and stops them; nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export SIPHON_BIN="$(swift build --show-bin-path)/siphon"
# Unit tests in parallel. The integration tests run real-time calls (20 ms RTP clocks) and
# several processes each, so never many at once: three lanes side by side, each one test at a time.
# A call mostly waits on its clock (one lane alone keeps a core about a third busy), so three lanes
# keep about one of the two cores busy, cut the wall time to a third, and leave each test the time it
# has alone (docs/operations.md, "Tests"). The lanes hold about equal time: LANE_A the LiveKit,
# provider and Kamailio suites; LANE_B the WebRTC, console, preflight, partition and cluster suites; lane C every
# other suite, new ones included. The VAD corpus suite keeps a core busy throughout (31 s of CPU in
# 35 s): it runs alone, after the lanes.
swift test --skip-build --skip IntegrationTests
tests="$(swift build --show-bin-path)/siphonPackageTests.xctest"  # run directly: `swift test` locks .build
LANE_A='IntegrationTests\.(LiveKitTests|ProviderTests|KamailioTests)'
LANE_B='IntegrationTests\.(WebRTCInteropTests|ConsoleTests|PreflightTests|PartitionTests|ClusterTests)'
ALONE='IntegrationTests\.VADCorpusTests'
mkdir -p out/test
"$tests" --testing-library swift-testing --filter "$LANE_A" --no-parallel > out/test/lane-a.log 2>&1 &
lane_a=$!
"$tests" --testing-library swift-testing --filter "$LANE_B" --no-parallel > out/test/lane-b.log 2>&1 &
lane_b=$!
lane_c=0
"$tests" --testing-library swift-testing --filter IntegrationTests --skip "$LANE_A" --skip "$LANE_B" --skip "$ALONE" \
  --no-parallel > out/test/lane-c.log 2>&1 || lane_c=$?
wait "$lane_a" && lane_a=0 || lane_a=$?
wait "$lane_b" && lane_b=0 || lane_b=$?
for lane in a b c; do echo "== integration tests, lane $lane (out/test/lane-$lane.log)"; cat "out/test/lane-$lane.log"; done
[ "$lane_a" -eq 0 ] && [ "$lane_b" -eq 0 ] && [ "$lane_c" -eq 0 ] ||
  { echo "integration tests failed (lane a: $lane_a, lane b: $lane_b, lane c: $lane_c)"; exit 1; }
"$tests" --testing-library swift-testing --filter "$ALONE" --no-parallel
# The parsers under libFuzzer + AddressSanitizer, the two targets side by side (one core each): a
# fixed seed and run count, so every machine tries the same inputs (a crash fails the run and leaves
# the input in .build-fuzz/). Longer random exploration: scripts/fuzz-sip.sh --explore SECONDS.
# The SIP parser, and the WebRTC parsers (STUN, ICE candidates, JSEP SDP, DCEP).
scripts/fuzz-sip.sh 250000 > out/test/fuzz-sip.log 2>&1 &
fuzz_sip=$!
fuzz_webrtc=0
scripts/fuzz-webrtc.sh 250000 > out/test/fuzz-webrtc.log 2>&1 || fuzz_webrtc=$?
wait "$fuzz_sip" && fuzz_sip=0 || fuzz_sip=$?
cat out/test/fuzz-sip.log out/test/fuzz-webrtc.log
[ "$fuzz_sip" -eq 0 ] && [ "$fuzz_webrtc" -eq 0 ]
