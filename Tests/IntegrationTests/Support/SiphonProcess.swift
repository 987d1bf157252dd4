import Foundation
import SiphonCore

/// A `siphon` process (worker, supervisor, dispatcher) started by a test; its output goes to a log
/// file the test can read. Stopped (SIGKILL if needed) when released.
final class SiphonProcess: @unchecked Sendable {
    let process: ChildProcess
    let log: URL
    let name: String

    /// `redis`: nil for commands without Redis (`siphon caller`).
    init(_ arguments: [String], redis: String?, environment: [String: String] = [:], name: String) throws {
        self.name = name
        log = FileManager.default.temporaryDirectory.appendingPathComponent("siphon-\(name)-\(UUID().uuidString.prefix(8)).log")
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        if let dir = ProcessInfo.processInfo.environment["SIPHON_TEST_RECORDINGS"] { env["SIPHON_RECORDINGS_DIR"] = dir }
        let common = redis.map { ["--redis", $0, "--env-file", "/nonexistent"] } ?? []
        process = try ChildProcess(Self.binary, arguments + common,
                                   environment: env, output: log.path)
    }

    deinit {
        process.wait(seconds: 0)
        // SIPHON_KEEP_LOGS=1 keeps /tmp/siphon-<name>-*.log for a failure's post-mortem.
        if ProcessInfo.processInfo.environment["SIPHON_KEEP_LOGS"] == nil { try? FileManager.default.removeItem(at: log) }
    }

    var pid: pid_t { process.pid }
    var isRunning: Bool { process.isRunning }
    func signal(_ s: Int32) { process.signal(s) }
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Waits for exit; SIGKILLs after `seconds`.
    @discardableResult
    func wait(seconds: Double = 30) -> Int32 { process.wait(seconds: seconds) }

    /// The built `siphon` executable: $SIPHON_BIN (set by `make test`), else the debug build next to the sources.
    static var binary: String {
        if let p = ProcessInfo.processInfo.environment["SIPHON_BIN"], !p.isEmpty { return p }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/siphon").path
    }

    /// Runs `siphon` to completion (for the CLI commands) and returns (status, stdout, stderr).
    static func run(_ arguments: [String], redis: String?, environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments + (redis.map { ["--redis", $0] } ?? [])
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
