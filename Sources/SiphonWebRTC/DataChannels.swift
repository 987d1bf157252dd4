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

    /// Opens a channel (sends OPEN; usable at once, RFC 8832 §6: ordered messages follow it).
    @discardableResult
    public func open(label: String, protocol proto: String = "", ordered: Bool = true) -> Channel? {
        if let existing = channels.values.first(where: { $0.label == label }) { return existing }
        let stream = nextStream
        nextStream &+= 2
        guard association.send(DCEPMessage.open(label: label, protocol: proto, ordered: ordered), stream: stream, ppid: .dcep) else { return nil }
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
                if data.first == 0x03, let (label, proto, ordered) = try? DCEPMessage.parseOpen(data) {
                    association.send(DCEPMessage.ack, stream: stream, ppid: .dcep)
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
