import Foundation

/// A socket Siphon must listen on could not be bound: which service, which address and port, and
/// why — so an operator running several processes on one host sees what collided. The command
/// line adds the option that moves it (`--sip-port`, `--metrics-port`, …).
public struct ListenError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Service: String, Sendable {
        case sipUDP = "SIP over UDP"
        case sipTCP = "SIP over TCP"
        case sipTLS = "SIP over TLS"
        case rtp = "RTP"
        case metrics = "/metrics and /healthz"
        case api = "the HTTP API"
    }

    public var service: Service
    public var host: String
    public var port: Int
    public var reason: String

    public init(_ service: Service, host: String, port: Int, reason: String) {
        (self.service, self.host, self.port, self.reason) = (service, host, port, reason)
    }

    /// From whatever the socket layer threw (NIO's `IOError` carries the errno in its description).
    public init(_ service: Service, host: String, port: Int, error: any Error) {
        let text = "\(error)"
        let reason = if text.contains("errno: \(EADDRINUSE)") || text.contains("Address already in use") {
            Self.reason(errno: EADDRINUSE)
        } else if text.contains("errno: \(EACCES)") || text.contains("Permission denied") {
            Self.reason(errno: EACCES)
        } else if text.contains("errno: \(EADDRNOTAVAIL)") || text.contains("Cannot assign requested address") {
            Self.reason(errno: EADDRNOTAVAIL)
        } else {
            String(text.prefix(120))
        }
        self.init(service, host: host, port: port, reason: reason)
    }

    static func reason(errno code: Int32) -> String {
        switch code {
        case EADDRINUSE: "address already in use (another process, perhaps another siphon, holds it)"
        case EACCES: "permission denied (ports below 1024 need privileges)"
        case EADDRNOTAVAIL: "no interface of this host has that address"
        default: String(cString: strerror(code))
        }
    }

    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "\(service.rawValue) cannot listen on \(address): \(reason)"
    }

    /// Binds and closes a TCP socket at `host:port` (with SO_REUSEADDR, as the servers do), so a
    /// taken port fails a process at start-up, before it claims calls — not after.
    public static func probeTCP(_ service: Service, host: String, port: Int) throws {
        guard port > 0 else { return }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0, let info = list else {
            throw ListenError(service, host: host, port: port, reason: "cannot resolve the address (\(String(cString: gai_strerror(rc))))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return }  // cannot even probe: let the server report it
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
            throw ListenError(service, host: host, port: port, reason: reason(errno: errno))
        }
    }
}
