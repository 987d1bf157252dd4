#!/usr/bin/env bash
# Builds and runs every test. Each integration test starts the servers it needs (redis-server,
# SIP peers) on 127.0.0.1 free ports and stops them; nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export SIPHON_BIN="$(swift build --show-bin-path)/siphon"
# Unit tests in parallel; the integration tests one at a time, because they run real-time calls
# (20 ms RTP clocks) and several processes each, and two cores shared by all of them would starve
# the media clocks.
swift test --skip-build --skip IntegrationTests
swift test --skip-build --filter IntegrationTests --no-parallel
# The SIP parser under libFuzzer + AddressSanitizer: a fixed seed and run count, so every machine
# tries the same inputs (a crash fails the run and leaves the input in .build-fuzz/). Longer random
# exploration: scripts/fuzz-sip.sh --explore SECONDS.
scripts/fuzz-sip.sh 250000
# The WebRTC parsers (STUN, ICE candidates, JSEP SDP, DCEP) the same way.
scripts/fuzz-webrtc.sh 250000
