#!/usr/bin/env bash
# Installs what the build, the tests and the demo need on Debian 12, only what is missing.
# Idempotent and quiet when everything is there. Runs as root (CI) or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pkg-config curl
  libhiredis-dev redis-server redis-tools   # cluster: hiredis client, test and demo Redis
  libopus-dev libspeexdsp-dev               # audio: Opus codec, resampler
  libespeak-ng-dev libpocketsphinx-dev      # offline engines: eSpeak NG TTS, PocketSphinx STT
  pocketsphinx-en-us                        #   and its US English acoustic model and dictionary
  espeak-ng sox                             # test audio: speech and noise for the VAD corpus
  python3 python3-venv                      # test peers and reference implementations only
  kamailio baresip-core                     # SIP test peers (registrar/proxy with digest; a second UA)
  libssl-dev libsrtp2-dev libusrsctp-dev    # WebRTC: DTLS (OpenSSL), SRTP, SCTP data channels
  coturn iproute2 iptables                  # WebRTC tests: a TURN relay, network namespaces, packet loss
  chromium                                  #   and a browser as the far end (headless)
  tcpdump                                   # benchmarks: LiveKit calls' packet timing on the wire
  openssl                                   # tests: a certificate authority for SIP over TLS
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python test peers live in a venv of their own (never the product).
PIP_PACKAGES=(
  webrtcvad-wheels    # Google's WebRTC VAD, the baseline the VAD tests compare against
  pjsua2-python       # PJSIP, the main SIP interop peer
  livekit-api==1.2.2 livekit-protocol==1.1.29  # LiveKit's token verifier and messages, behind the Twirp stand-in
  livekit==1.2.1      # LiveKit's client SDK (Rust + libwebrtc): proves the stand-in faithful
  pyyaml jsonschema   # Compose files checked against the Compose Specification schema
  kubernetes-validate # Kubernetes manifests checked against the Kubernetes schemas (offline)
  prometheus-client   # its parser checks what /metrics serves
  aiohttp==3.14.5     # the provider stand-ins (HTTP, SSE and WebSocket servers)
  aiortc==1.16.0      # an independent WebRTC peer (ICE, DTLS-SRTP, Opus, SCTP) for interop and the LiveKit stand-in
  websockets==17.4    # drives headless Chromium over the DevTools protocol (the console tests)
  # The official SDKs prove the stand-ins faithful; pinned to the versions the checks were written against.
  openai==3.57.0 anthropic==2.14.0 deepgram-sdk==7.17.0 cartesia==4.2.0 elevenlabs==2.78.0
)
if [ ${#PIP_PACKAGES[@]} -gt 0 ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  for p in "${PIP_PACKAGES[@]}"; do
    name="${p%%[=<>]*}"
    .venv/bin/python -m pip show -q "$name" >/dev/null 2>&1 || .venv/bin/python -m pip install -q "$p"
  done
fi
