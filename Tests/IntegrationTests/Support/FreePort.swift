import Foundation

/// A TCP (or UDP) port on 127.0.0.1 that nothing listens on right now (bind to 0, read, close).
func freePort(udp: Bool = false) -> Int {
    let fd = socket(AF_INET, udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    precondition(bound)
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass. Tests wait for states, never sleep for them.
/// Errors while polling (Redis restarting under the test) count as "not yet"; the last one is reported.
func eventually(_ seconds: Double = 20, _ what: String = "condition", _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    var lastError: (any Error)?
    while Date() < deadline {
        do {
            if try await condition() { return }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw HarnessError("timed out after \(seconds) s waiting for \(what)" + (lastError.map { " (last error: \($0))" } ?? ""))
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
