import Foundation

/// This host's interface addresses: the SIP/SDP default when no public address is configured, and
/// the host candidates of WebRTC.
public enum HostAddress {
    /// The first non-loopback IPv4 address of an interface that is up.
    public static func primaryIPv4() -> String? { addresses(includeLoopback: false, includeIPv6: false).first }

    /// Addresses of interfaces that are up, IPv4 first; link-local IPv6 left out.
    public static func addresses(includeLoopback: Bool, includeIPv6: Bool) -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var v4: [String] = [], v6: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let p = cursor {
            defer { cursor = p.pointee.ifa_next }
            let flags = Int32(p.pointee.ifa_flags)
            guard let addr = p.pointee.ifa_addr, flags & Int32(IFF_UP) != 0, includeLoopback || flags & Int32(IFF_LOOPBACK) == 0 else { continue }
            let family = Int32(addr.pointee.sa_family)
            guard family == AF_INET || (includeIPv6 && family == AF_INET6) else { continue }
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(addr, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if family == AF_INET { if !v4.contains(text) { v4.append(text) } }
            else if !text.lowercased().hasPrefix("fe80"), !text.contains("%"), !v6.contains(text) { v6.append(text) }
        }
        return v4 + v6
    }
}
