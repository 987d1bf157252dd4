/// The Data Channel Establishment Protocol's messages (RFC 8832 §5): DATA_CHANNEL_OPEN (0x03)
/// and DATA_CHANNEL_ACK (0x02). Parsing bounds what the peer controls.
enum DCEPMessage {
    static let ack: [UInt8] = [0x02]

    /// DATA_CHANNEL_OPEN: reliable (ordered or not), priority 0, the label and protocol.
    static func open(label: String, protocol proto: String, ordered: Bool) -> [UInt8] {
        var m: [UInt8] = [0x03, ordered ? 0x00 : 0x80, 0, 0, 0, 0, 0, 0]
        let l = Array(label.utf8.prefix(65535)), p = Array(proto.utf8.prefix(65535))
        m += [UInt8(l.count >> 8), UInt8(l.count & 0xFF), UInt8(p.count >> 8), UInt8(p.count & 0xFF)]
        return m + l + p
    }

    /// (label, protocol, ordered) of a DATA_CHANNEL_OPEN.
    static func parseOpen(_ m: [UInt8]) throws -> (String, String, Bool) {
        guard m.count >= 12, m[0] == 0x03 else { throw WebRTCError.malformed("not a DATA_CHANNEL_OPEN") }
        guard [0x00, 0x80, 0x01, 0x81, 0x02, 0x82].contains(m[1]) else { throw WebRTCError.malformed("DCEP channel type 0x\(String(m[1], radix: 16))") }
        let labelLength = Int(m[8]) << 8 | Int(m[9]), protocolLength = Int(m[10]) << 8 | Int(m[11])
        guard 12 + labelLength + protocolLength == m.count else { throw WebRTCError.malformed("DCEP lengths do not match the message") }
        let label = String(decoding: m[12..<(12 + labelLength)], as: UTF8.self)
        let proto = String(decoding: m[(12 + labelLength)...], as: UTF8.self)
        return (label, proto, m[1] & 0x80 == 0)
    }
}
