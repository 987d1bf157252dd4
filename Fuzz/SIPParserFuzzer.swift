// libFuzzer target for the SIP message layer (built by scripts/fuzz-sip.sh with -sanitize=fuzzer,address).
// Any input must parse or be refused with SIPMessageError — never crash or hang — and whatever
// parses must survive serialise → parse with the same start line, headers and body. Inputs that
// once crashed it are kept in Fuzz/regressions and replayed by the unit tests.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = SIPMessage.sipfragStatus(bytes)
    guard let message = try? SIPParser.parse(datagram: bytes) else { return 0 }
    if message.isRequest { _ = try? SIPValidation.validate(request: message) } else { _ = try? SIPValidation.validate(response: message) }
    _ = try? message.vias()
    _ = try? message.from()
    _ = try? message.to()
    _ = try? message.contacts()
    _ = message.requestURI
    _ = message.sessionExpires
    if !message.isRequest, let ours = try? SIPURI("sip:siphon@192.0.2.1:5060") {
        check((0...RegistrarReply.longestExpiry).contains(RegistrarReply.granted(message, ours: ours, asked: 600)), "granted expiry out of bounds")
        if let minimum = RegistrarReply.minimumExpires(message) { check(minimum >= 1 && minimum <= RegistrarReply.longestExpiry, "Min-Expires out of bounds") }
    }
    if let text = String(bytes: message.body, encoding: .utf8), let sdp = try? SessionDescription(parsing: text) {
        _ = try? SDPNegotiator.answer(sdp, policy: MediaPolicy(), address: "192.0.2.1", port: 4000, sessionID: 1, version: 1)
        _ = try? SDPNegotiator.accept(answer: sdp, offer: plainOffer, policy: MediaPolicy())
        _ = try? SDPNegotiator.accept(answer: sdp, offer: srtpOffer, policy: srtpPolicy)
        _ = sdp.media.map(\.cryptos)
        let stored = SessionDescription.removingKeys(sdp.description)
        check((try? SessionDescription(parsing: stored)) != nil, "an SDP without its keys does not parse")
        check(!sdp.media.flatMap(\.cryptos).contains { stored.contains($0.attribute) }, "a key was kept")
        check((try? SessionDescription(parsing: sdp.description)) != nil, "a parsed SDP does not parse back from its own text")
    }
    let again = try? SIPParser.parse(datagram: message.serialized())
    check(again?.startLine == message.startLine, "start line changed in a round trip")
    check(again?.body == message.body, "body changed in a round trip")
    var framer = SIPStreamFramer()
    framer.append(message.serialized())
    check((try? framer.next())?.body == message.body, "TCP framing disagrees with datagram parsing")
    return 0
}

let plainOffer = SDPNegotiator.offer(policy: MediaPolicy(), address: "192.0.2.1", port: 4000, sessionID: 1, version: 1)
let srtpPolicy = { var p = MediaPolicy(); p.srtp = true; return p }()
let srtpOffer = SDPNegotiator.offer(policy: srtpPolicy, address: "192.0.2.1", port: 4000, sessionID: 1, version: 1)

/// A failed property, with its message even in -O builds (a precondition's is dropped there).
func check(_ condition: Bool, _ message: StaticString) {
    if !condition { fatalError("\(message)") }
}
