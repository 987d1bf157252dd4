#!/usr/bin/env bash
# The WebRTC parsers' fuzz target (STUN, ICE candidates, JSEP SDP, DCEP, TURN over TCP) under libFuzzer +
# AddressSanitizer, seeded with Fuzz/webrtc-seeds.
#   scripts/fuzz-webrtc.sh [RUNS]            fixed seed and run count (what `make test` runs)
#   scripts/fuzz-webrtc.sh --explore SECONDS random seed, corpus kept in .build-fuzz/webrtc-parsers-corpus
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
FUZZ_FILES=(TransportAddress WebRTCError CRC32 STUNMessage ICECandidate WebRTCSessionDescription DCEPMessage TURNStreamFramer)
FUZZ_SEEDS=(Fuzz/webrtc-seeds/*)
run_fuzzer webrtc-parsers SiphonWebRTC WebRTCParserFuzzer "$@"
