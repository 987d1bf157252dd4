import Foundation

/// A free port on 127.0.0.1 for a server to listen on (tests, the demo, benchmarks), chosen below
/// the kernel's ephemeral range: a port the kernel hands out for another process's unbound or
/// port-0 socket can never be it, so the server that binds it a moment later finds it still free
/// (with the ephemeral port the kernel suggests, another test's process took it first, once).
/// Free on both UDP and TCP (SIP servers listen on both).
public enum LoopbackPort {
    public static func free(udp: Bool = false) -> Int {
        let ephemeralStart = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { Int($0.split(whereSeparator: \.isWhitespace).first ?? "") } ?? 32768
        if ephemeralStart > 21000 {
            for _ in 0..<200 {
                let port = Int.random(in: 20000..<ephemeralStart)
                if bind(port, udp: true) == port, bind(port, udp: false) == port { return port }
            }
        }
        return bind(0, udp: udp)
    }

    /// Binds `port` (0: the kernel's choice) and closes it again: the port bound, or 0.
    private static func bind(_ port: Int, udp: Bool) -> Int {
        let fd = socket(AF_INET, udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: addr.sin_port)) : 0
    }
}
