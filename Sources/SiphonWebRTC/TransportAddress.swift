import Foundation

/// An IP address and port, as ICE, STUN and TURN carry them. A value type of its own so the
/// protocol cores need no socket library; the driver converts at the edge.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    /// Textual IP (dotted quad, or IPv6 without brackets).
    public let ip: String
    public let port: Int
    /// The 4 or 16 address bytes.
    public let bytes: [UInt8]

    public init(ip: String, port: Int) throws {
        guard (0...65535).contains(port) else { throw WebRTCError.malformed("port \(port) out of range") }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, ip, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            throw WebRTCError.malformed("'\(ip.prefix(60))' is not an IP address")
        }
        self.port = port
        self.ip = Self.text(bytes)
    }

    public init(bytes: [UInt8], port: Int) throws {
        guard bytes.count == 4 || bytes.count == 16 else { throw WebRTCError.malformed("an address is 4 or 16 bytes, not \(bytes.count)") }
        guard (0...65535).contains(port) else { throw WebRTCError.malformed("port \(port) out of range") }
        self.bytes = bytes
        self.port = port
        ip = Self.text(bytes)
    }

    public var isIPv6: Bool { bytes.count == 16 }
    public var isLoopback: Bool { isIPv6 ? bytes == Array(repeating: 0, count: 15) + [1] : bytes[0] == 127 }
    /// Link-local addresses (169.254/16, fe80::/10) are never useful candidates.
    public var isLinkLocal: Bool { isIPv6 ? bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 : bytes[0] == 169 && bytes[1] == 254 }

    public var description: String { isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    private static func text(_ bytes: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) }
        return String(cString: out)
    }
}
