import Foundation
import SiphonCore
import SiphonRedis

/// A real redis-server on 127.0.0.1, on a free port, with AOF on, in a temporary directory.
/// Started and stopped by the test that needs it.
final class RedisServer: @unchecked Sendable {
    let port: Int
    let dir: URL
    let password: String?
    private var process: ChildProcess?

    init(password: String? = nil) throws {
        port = LoopbackPort.free()
        self.password = password
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("siphon-redis-\(port)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try start()
    }

    deinit { stop(); try? FileManager.default.removeItem(at: dir) }

    var url: RedisURL { RedisURL(host: "127.0.0.1", port: port, password: password) }
    var urlString: String { password.map { "redis://:\($0)@127.0.0.1:\(port)/0" } ?? "redis://127.0.0.1:\(port)/0" }

    func start() throws {
        var args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir.path, "--appendonly", "yes",
                    "--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "warning"]
        if let password { args += ["--requirepass", password] }
        process = try ChildProcess(Self.binary, args, environment: ProcessInfo.processInfo.environment, output: nil)
        // Wait until it accepts connections.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.canConnect(port) { return }
            usleep(20_000)
        }
        throw HarnessError("redis-server did not start on \(port)")
    }

    /// SIGTERM: redis finishes writing the AOF and exits (like a normal restart).
    func stop() {
        guard let p = process else { return }
        p.signal(SIGTERM)
        p.wait(seconds: 10)
        process = nil
    }

    func restart(downFor seconds: Double = 0.5) throws {
        stop()
        usleep(useconds_t(seconds * 1_000_000))
        try start()
    }

    static var binary: String {
        for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        return "redis-server"
    }

    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
