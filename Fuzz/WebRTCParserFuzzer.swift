// libFuzzer target for what a WebRTC peer controls as text or bytes outside DTLS/SRTP (built by
// scripts/fuzz-webrtc.sh with -sanitize=fuzzer,address): STUN messages (with their XOR addresses
// and fingerprint), ICE candidate lines, JSEP SDP, DCEP messages, and a TURN-over-TCP byte stream
// (fed in chunks whose sizes the input also picks). The first byte picks the
// parser, so one corpus covers them all. Any input must parse or be refused with WebRTCError —
// never crash or hang — and what parses must survive print → parse.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebRTC(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0:
        guard let m = try? STUNMessage(parsing: bytes) else { return 0 }
        _ = STUNMessage.verifyFingerprint(bytes)
        for t in [STUNMessage.AttributeType.xorMappedAddress, .xorRelayedAddress, .xorPeerAddress] { _ = m.xorAddress(t) }
        _ = (m.username, m.realm, m.nonce, m.priority, m.lifetime, m.errorCode, m.tieBreaker(.iceControlling))
        var again = STUNMessage(method: m.method, class: m.messageClass, transactionID: m.transactionID, attributes: m.attributes)
        again.attributes.removeAll { $0.type == .fingerprint || $0.type == .messageIntegrity }
        check((try? STUNMessage(parsing: again.encoded())) != nil, "an encoded STUN message does not parse back")
    case 1:
        let text = String(decoding: bytes, as: UTF8.self)
        guard let c = try? ICECandidate(parsing: text) else { return 0 }
        check((try? ICECandidate(parsing: c.description)) == c, "a candidate changes in a print/parse round trip")
    case 2:
        let text = String(decoding: bytes, as: UTF8.self)
        guard let sdp = try? WebRTCSessionDescription(parsing: text) else { return 0 }
        for m in sdp.media {
            _ = (sdp.iceCredentials(m), sdp.fingerprint(m), sdp.setup(m), m.rtpMaps, m.candidates, m.ssrcs, m.direction, m.mid)
            _ = m.payloadType(for: "opus", rate: 48000)
            _ = m.fmtp(111)
        }
        _ = sdp.bundle
        check((try? WebRTCSessionDescription(parsing: sdp.description)) != nil, "a parsed SDP does not parse back from its own text")
    case 3:
        _ = try? DCEPMessage.parseOpen(bytes)
    default:
        var framer = TURNStreamFramer()
        var at = 0, out = 0
        while at < bytes.count {
            let n = 1 + Int(bytes[at]) % 97
            guard let messages = try? framer.push(Array(bytes[at..<min(bytes.count, at + n)])) else { return 0 }
            for m in messages {
                check(m.count >= 4 && m[0] >> 6 <= 1, "the TURN framer returned a message that is neither STUN nor ChannelData")
                out += m.count
            }
            at += n
        }
        check(out <= bytes.count, "the TURN framer returned more bytes than it was given")
    }
    return 0
}

/// A failed property, with its message even in -O builds (a precondition's is dropped there).
func check(_ condition: Bool, _ message: StaticString) {
    if !condition { fatalError("\(message)") }
}
