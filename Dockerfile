# One image for every role: `siphon dispatcher | worker | supervisor` (and the operator commands).
#
# Build stage: the official Swift image (Debian 12, like production), release mode, Swift's
# standard library linked statically so the runtime stage needs no Swift toolchain.
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      pkg-config libhiredis-dev libopus-dev libspeexdsp-dev libespeak-ng-dev libpocketsphinx-dev pocketsphinx-en-us \
      libssl-dev libsrtp2-dev libusrsctp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first: this layer is reused while only Siphon's sources change.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY examples ./examples
RUN swift build -c release --static-swift-stdlib --product siphon \
 && install -D -s "$(swift build -c release --show-bin-path)/siphon" /out/siphon   # stripped

# Runtime stage: Debian slim plus the shared libraries siphon links (hiredis, opus, speexdsp,
# espeak-ng, pocketsphinx and its US English model for the offline engines; OpenSSL, libsrtp2 and
# usrsctp for WebRTC, TLS and SRTP; curl for Foundation's networking, which the static standard library
# leaves dynamic). No compiler, no shell tools beyond the base image's. DeploymentFilesTests checks this
# list against what the binary links.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates tzdata libhiredis0.14 libopus0 libspeexdsp1 libespeak-ng1 libpocketsphinx3 pocketsphinx-en-us \
      libssl3 libsrtp2-1 libusrsctp2 libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /srv/siphon --create-home siphon
COPY --from=build /out/siphon /usr/local/bin/siphon
COPY examples/agent_config.yaml /etc/siphon/agent_config.yaml
USER siphon
WORKDIR /srv/siphon
# 8080: dispatcher HTTP API; 9464 / 9465: /metrics and /healthz of workers / supervisors;
# 5060: SIP (UDP and TCP); 5061: SIP over TLS (with SIP_TLS_CERT); RTP uses the worker's --rtp-ports range (UDP).
EXPOSE 8080 9464 9465 5060/udp 5060/tcp 5061/tcp
# Each role serves /healthz on its metrics port (the dispatcher on its API port); compose and
# Kubernetes override this per role (supervisors: --port 9465 --role supervisor).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["siphon", "healthcheck", "--port", "9464"]
ENTRYPOINT ["siphon"]
# Agents: SIPHON_AGENT_CONFIG=/etc/siphon/agent_config.yaml (or a mounted file); unset serves the
# built-in offline receptionist.
CMD ["worker"]
