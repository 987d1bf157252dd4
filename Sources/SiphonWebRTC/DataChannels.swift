/// WebRTC data channels (RFC 8831) over one SCTP association, opened with DCEP (RFC 8832):
/// DATA_CHANNEL_OPEN (0x03) answered by DATA_CHANNEL_ACK (0x02). The DTLS client opens even
/// stream ids, the server odd ones (RFC 8832 §6). A DCEP message that does not parse is dropped.
/// Confined to the peer connection's event loop.
public final class DataChannels {
    public struct Channel: Sendable, Equatable {
        public var stream: UInt16
        public var label: String
        public var `protocol`: String
        public var ordered: Bool
        public var open: Bool
    }

    public enum Event: Sendable, Equatable {
        case opened(Channel)
        case message(label: String, data: [UInt8], binary: Bool)
        case closed(label: String)
    }

    public private(set) var channels: [UInt16: Channel] = [:]
    private let association: SCTPAssociation
    private let isDTLSClient: Bool
    private var nextStream: UInt16

    public init(association: SCTPAssociation, isDTLSClient: Bool) {
        self.association = association
        self.isDTLSClient = isDTLSClient
        nextStream = isDTLSClient ? 0 : 1
    }

    /// DATA_CHANNEL_OPEN message (RFC 8832 §5.1).
    static func openMessage(label: String, protocol proto: String, ordered: Bool) -> [UInt8] {
        var m: [UInt8] = [0x03, ordered ? 0x00 : 0x80, 0, 0, 0, 0, 0, 0]  // reliable, priority 0, reliability 0
        let l = Array(label.utf8.prefix(65535)), p = Array(proto.utf8.prefix(65535))
        m += [UInt8(l.count >> 8), UInt8(l.count & 0xFF), UInt8(p.count >> 8), UInt8(p.count & 0xFF)]
        return m + l + p
    }

    /// Parses a DATA_CHANNEL_OPEN: (label, protocol, ordered).
    static func parseOpen(_ m: [UInt8]) throws -> (String, String, Bool) {
        guard m.count >= 12, m[0] == 0x03 else { throw WebRTCError.malformed("not a DATA_CHANNEL_OPEN") }
        guard [0x00, 0x80, 0x01, 0x81, 0x02, 0x82].contains(m[1]) else { throw WebRTCError.malformed("DCEP channel type 0x\(String(m[1], radix: 16))") }
        let labelLength = Int(m[8]) << 8 | Int(m[9]), protocolLength = Int(m[10]) << 8 | Int(m[11])
        guard 12 + labelLength + protocolLength == m.count else { throw WebRTCError.malformed("DCEP lengths do not match the message") }
        let label = String(decoding: m[12..<(12 + labelLength)], as: UTF8.self)
        let proto = String(decoding: m[(12 + labelLength)...], as: UTF8.self)
        return (label, proto, m[1] & 0x80 == 0)
    }

    /// Opens a channel (sends OPEN; usable at once, RFC 8832 §6: ordered messages follow it).
    @discardableResult
    public func open(label: String, protocol proto: String = "", ordered: Bool = true) -> Channel? {
        if let existing = channels.values.first(where: { $0.label == label }) { return existing }
        let stream = nextStream
        nextStream &+= 2
        guard association.send(Self.openMessage(label: label, protocol: proto, ordered: ordered), stream: stream, ppid: .dcep) else { return nil }
        let c = Channel(stream: stream, label: label, protocol: proto, ordered: ordered, open: true)
        channels[stream] = c
        return c
    }

    /// Sends on the channel labelled `label`; false when it is not open.
    @discardableResult
    public func send(_ data: [UInt8], on label: String, binary: Bool = true) -> Bool {
        guard let c = channels.values.first(where: { $0.label == label && $0.open }) else { return false }
        let ppid: SCTPAssociation.PPID = binary ? (data.isEmpty ? .emptyBinary : .binary) : (data.isEmpty ? .emptyString : .string)
        return association.send(data, stream: c.stream, ppid: ppid, ordered: c.ordered)
    }

    /// What the association delivered, as channel events.
    public func handle(_ event: SCTPAssociation.Event) -> [Event] {
        switch event {
        case .message(let stream, let ppid, let data):
            switch ppid {
            case SCTPAssociation.PPID.dcep.rawValue:
                if data.first == 0x03, let (label, proto, ordered) = try? Self.parseOpen(data) {
                    association.send([0x02], stream: stream, ppid: .dcep)  // DATA_CHANNEL_ACK
                    let c = Channel(stream: stream, label: label, protocol: proto, ordered: ordered, open: true)
                    channels[stream] = c
                    return [.opened(c)]
                }
                return []  // an ACK, or junk: nothing to do
            case 51, 53, 56, 57, 52, 54:  // string, binary, empty string/binary; 52/54 deprecated partials
                guard let c = channels[stream] else { return [] }
                let empty = ppid == 56 || ppid == 57
                return [.message(label: c.label, data: empty ? [] : data, binary: ppid != 51 && ppid != 56)]
            default:
                return []
            }
        case .streamsReset(let streams):
            return streams.compactMap { s in channels.removeValue(forKey: s).map { .closed(label: $0.label) } }
        case .up, .down:
            return []
        }
    }
}
