/// An ICE candidate (RFC 8445 §5.1, SDP grammar RFC 8839 §5.1):
/// `candidate:<foundation> <component> <udp|tcp> <priority> <address> <port> typ <type> [raddr <a> rport <p>] [tcptype <t>] …`.
public struct ICECandidate: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case host, srflx, prflx, relay

        /// Type preference (RFC 8445 §5.1.2.2).
        var preference: UInt32 {
            switch self {
            case .host: 126
            case .prflx: 110
            case .srflx: 100
            case .relay: 0
            }
        }
    }

    public var foundation: String
    public var component: Int
    /// "udp" or "tcp".
    public var transport: String
    public var priority: UInt32
    /// The address, or nil for a hostname this stack cannot resolve (an mDNS `.local` name: the
    /// peer is then found through a peer-reflexive candidate).
    public var address: TransportAddress?
    public var hostname: String?
    public var kind: Kind
    public var related: TransportAddress?
    public var tcpType: String?

    public init(foundation: String, component: Int = 1, transport: String = "udp", priority: UInt32, address: TransportAddress,
                kind: Kind, related: TransportAddress? = nil, tcpType: String? = nil) {
        (self.foundation, self.component, self.transport, self.priority, self.address, self.kind, self.related, self.tcpType) =
            (foundation, component, transport, priority, address, kind, related, tcpType)
    }

    /// RFC 8445 §5.1.2.1: 2^24·type + 2^8·local + (256 − component).
    public static func priority(_ kind: Kind, localPreference: UInt32 = 65535, component: Int = 1) -> UInt32 {
        (kind.preference << 24) | (min(localPreference, 65535) << 8) | UInt32(256 - component)
    }

    /// Parses `candidate:…` (with or without the `a=` prefix).
    public init(parsing text: String) throws {
        var line = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if line.hasPrefix("a=") { line = line.dropFirst(2) }
        guard line.hasPrefix("candidate:") else { throw WebRTCError.malformed("not a candidate line") }
        let f = line.dropFirst("candidate:".count).split(separator: " ").map(String.init)
        guard f.count >= 8, f.count <= 64, f[6] == "typ" else { throw WebRTCError.malformed("candidate has too few fields") }
        guard !f[0].isEmpty, f[0].count <= 32, let component = Int(f[1]), (1...256).contains(component),
              let priority = UInt32(f[3]), let port = Int(f[5]), (0...65535).contains(port) else {
            throw WebRTCError.malformed("candidate fields out of range")
        }
        guard let kind = Kind(rawValue: f[7]) else { throw WebRTCError.malformed("candidate type '\(f[7].prefix(12))'") }
        let transport = f[2].lowercased()
        guard transport == "udp" || transport == "tcp" else { throw WebRTCError.malformed("candidate transport '\(f[2].prefix(12))'") }
        (foundation, self.component, self.transport, self.priority, self.kind) = (f[0], component, transport, priority, kind)
        if let a = try? TransportAddress(ip: f[4], port: port) {
            address = a
        } else {
            guard f[4].count <= 255, f[4].contains(".") else { throw WebRTCError.malformed("candidate address '\(f[4].prefix(40))'") }
            address = nil
            hostname = f[4]
        }
        var i = 8
        var raddr: String?
        var rport: Int?
        while i + 1 < f.count {
            switch f[i] {
            case "raddr": raddr = f[i + 1]
            case "rport": rport = Int(f[i + 1])
            case "tcptype": tcpType = f[i + 1]
            default: break  // generation, ufrag, network-id, network-cost: not needed
            }
            i += 2
        }
        if let raddr, let rport { related = try? TransportAddress(ip: raddr, port: rport) }
    }

    /// `candidate:…` without `a=`.
    public var description: String {
        var s = "candidate:\(foundation) \(component) \(transport) \(priority) \(address?.ip ?? hostname ?? "0.0.0.0") \(address?.port ?? 9) typ \(kind.rawValue)"
        if let related { s += " raddr \(related.ip) rport \(related.port)" }
        if let tcpType { s += " tcptype \(tcpType)" }
        return s
    }
}
