#!/usr/bin/env bash
# Regenerates Sources/LiveKitProtocol from LiveKit's .proto files (../shared/proto, livekit/protocol
# d74e7cd) with protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same
# swift-protobuf version the package uses. Run by hand when the protocol changes; the generated
# files are committed, so builds never need protoc.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTO=${PROTO:-../shared/proto/livekit}
VERSION=1.39.0
WORK=${TMPDIR:-/tmp}/siphon-protoc-gen-swift
command -v protoc >/dev/null || { echo "apt-get install protobuf-compiler"; exit 1; }
if [ ! -x "$WORK/.build/release/protoc-gen-swift" ]; then
  rm -rf "$WORK" && git clone -q /opt/swift-packages/apple/swift-protobuf.git "$WORK" 2>/dev/null \
    || git clone -q https://github.com/apple/swift-protobuf.git "$WORK"
  git -C "$WORK" checkout -q "$VERSION"
  (cd "$WORK" && swift build -c release --product protoc-gen-swift)
fi
rm -f Sources/LiveKitProtocol/*.pb.swift
protoc --plugin=protoc-gen-swift="$WORK/.build/release/protoc-gen-swift" -I "$PROTO" -I "$WORK/Protos/Sources/SwiftProtobuf" \
  --swift_out=Sources/LiveKitProtocol --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
  livekit_rtc.proto livekit_models.proto livekit_metrics.proto livekit_agent.proto logger/options.proto
echo "generated: $(ls Sources/LiveKitProtocol/*.pb.swift | wc -l) files"
