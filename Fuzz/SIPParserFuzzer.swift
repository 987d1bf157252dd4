// libFuzzer target for the SIP message layer (built by scripts/fuzz-sip.sh with -sanitize=fuzzer,address).
// Any input must parse or be refused with SIPMessageError — never crash or hang — and whatever
// parses must survive serialise → parse with the same start line, headers and body.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? SIPParser.parse(datagram: bytes) else { return 0 }
    if message.isRequest { _ = try? SIPValidation.validate(request: message) } else { _ = try? SIPValidation.validate(response: message) }
    _ = try? message.vias()
    _ = try? message.from()
    _ = try? message.to()
    _ = try? message.contacts()
    _ = message.requestURI
    if let text = String(bytes: message.body, encoding: .utf8) { _ = try? SessionDescription(parsing: text) }
    let again = try? SIPParser.parse(datagram: message.serialized())
    precondition(again?.startLine == message.startLine, "start line changed in a round trip")
    precondition(again?.body == message.body, "body changed in a round trip")
    var framer = SIPStreamFramer()
    framer.append(message.serialized())
    precondition((try? framer.next())?.body == message.body, "TCP framing disagrees with datagram parsing")
    return 0
}
