import Foundation

/// A port free on 127.0.0.1 right now (the kernel picks it); for the demo and tests, which start
/// peers that take a port number rather than reporting the one they bound. 0 if none could be had.
public enum LoopbackPort {
    public static func free(udp: Bool = false) -> Int {
        let fd = socket(AF_INET, udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { return 0 }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
