#!/usr/bin/env bash
# The SIP parser fuzz target (libFuzzer + AddressSanitizer), seeded with the RFC 4475 torture corpus
# and every input that once crashed it (Fuzz/regressions).
#   scripts/fuzz-sip.sh [RUNS]            fixed seed and run count: the same inputs on every machine
#                                         (what `make test` runs, so CI never fails by luck)
#   scripts/fuzz-sip.sh --explore SECONDS random seed, corpus kept in .build-fuzz/sip-parser-corpus
# A crash prints its report and leaves the input in .build-fuzz/; copy it into Fuzz/regressions.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
FUZZ_FILES=(SIPParser SIPMessage SIPMessageError SIPHeaderName SIPParameters SIPURI NameAddress ViaHeader SIPValidation
            SessionDescription SessionExpires MediaNegotiation SDESCrypto RegistrarReply)
FUZZ_SEEDS=(Tests/Fixtures/sip-torture/valid/*.sip Tests/Fixtures/sip-torture/invalid/*.sip Fuzz/regressions/*)
run_fuzzer sip-parser SiphonSIP SIPParserFuzzer "$@"
