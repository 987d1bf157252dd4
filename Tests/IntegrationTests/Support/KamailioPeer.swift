import Foundation
import SiphonCore

/// Kamailio 5.6 as a registrar/proxy that challenges with digest (Tests/Peers/kamailio.cfg).
final class KamailioPeer: @unchecked Sendable {
    let port: Int
    let password: String
    let log: URL
    private let process: ChildProcess

    init(password: String = "secret-\(Int.random(in: 1000...9999))") throws {
        port = LoopbackPort.free(udp: true)
        self.password = password
        let dir = try Repository.temporaryDirectory("kamailio")
        let template = try String(contentsOf: Repository.root.appendingPathComponent("Tests/Peers/kamailio.cfg"), encoding: .utf8)
        let cfg = dir.appendingPathComponent("kamailio.cfg")
        try template.replacingOccurrences(of: "__PORT__", with: String(port)).replacingOccurrences(of: "__PASSWORD__", with: password)
            .write(to: cfg, atomically: true, encoding: .utf8)
        log = dir.appendingPathComponent("kamailio.log")
        let binary = FileManager.default.isExecutableFile(atPath: "/usr/sbin/kamailio") ? "/usr/sbin/kamailio" : "kamailio"
        process = try ChildProcess(binary, ["-f", cfg.path, "-DD", "-E", "-Y", dir.path, "-P", dir.appendingPathComponent("k.pid").path],
                                   environment: ProcessInfo.processInfo.environment, output: log.path)
    }

    func waitReady() async throws {
        try await eventually(20, "kamailio listening") {
            (try? String(contentsOf: self.log, encoding: .utf8))?.contains("INFO") == true || self.listening
        }
        try await Task.sleep(for: .milliseconds(300))
    }

    private var listening: Bool {
        (try? String(contentsOf: URL(fileURLWithPath: "/proc/net/udp"), encoding: .utf8))?.contains(String(format: ":%04X", port)) == true
    }

    deinit { process.signal(SIGTERM); process.wait(seconds: 5) }
}
