import Foundation
import SiphonCore

/// Kamailio 5.6 as a registrar/proxy that challenges with digest (Tests/Peers/kamailio.cfg).
final class KamailioPeer: @unchecked Sendable {
    private(set) var port = 0
    let password: String
    let dir: URL
    var log: URL { dir.appendingPathComponent("kamailio-\(port).log") }
    private var process: ChildProcess?

    init(password: String = "secret-\(Int.random(in: 1000...9999))") throws {
        self.password = password
        dir = try Repository.temporaryDirectory("kamailio")
        try launch()
    }

    /// Starts kamailio on a port that was free (UDP and TCP: it listens on both).
    private func launch() throws {
        port = LoopbackPort.free(udp: true)
        let template = try String(contentsOf: Repository.root.appendingPathComponent("Tests/Peers/kamailio.cfg"), encoding: .utf8)
        let cfg = dir.appendingPathComponent("kamailio.cfg")
        try template.replacingOccurrences(of: "__PORT__", with: String(port)).replacingOccurrences(of: "__PASSWORD__", with: password)
            .write(to: cfg, atomically: true, encoding: .utf8)
        let binary = FileManager.default.isExecutableFile(atPath: "/usr/sbin/kamailio") ? "/usr/sbin/kamailio" : "kamailio"
        process = try ChildProcess(binary, ["-f", cfg.path, "-DD", "-E", "-Y", dir.path, "-P", dir.appendingPathComponent("k.pid").path],
                                   environment: ProcessInfo.processInfo.environment, output: log.path)
    }

    /// Until kamailio listens on its port, UDP and TCP, and is still running. The port was free
    /// when chosen, but another test's process (the other lane's) may take it before kamailio binds
    /// it; kamailio then exits ("Address already in use") and is started again on another port.
    func waitReady() async throws {
        for _ in 0..<5 {
            try await eventually(20, "kamailio listening or gone") { self.process?.isRunning == false || self.listening }
            try await Task.sleep(for: .milliseconds(300))
            if process?.isRunning == true, listening { return }
            _ = process?.wait(seconds: 5)
            try launch()
        }
        throw HarnessError("kamailio did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    private var listening: Bool {
        let hex = String(format: ":%04X ", port)
        let udp = (try? String(contentsOf: URL(fileURLWithPath: "/proc/net/udp"), encoding: .utf8)) ?? ""
        let tcp = (try? String(contentsOf: URL(fileURLWithPath: "/proc/net/tcp"), encoding: .utf8)) ?? ""
        // A TCP listener: local address with the port, state 0A (LISTEN).
        return udp.contains(hex) && tcp.split(separator: "\n").contains { $0.contains(hex) && $0.contains(" 0A ") }
    }

    deinit {
        process?.signal(SIGTERM)
        _ = process?.wait(seconds: 5)
    }
}
