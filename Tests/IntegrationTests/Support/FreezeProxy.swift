import Foundation
import SiphonCore

/// Tests/Peers/tcp_freeze_proxy.py in front of a TCP server: `freeze()` makes a partition in which
/// the client's sockets stay open and nothing answers; `thaw()` heals it.
final class FreezeProxy: @unchecked Sendable {
    let port: Int
    private let process: ChildProcess
    private let log: URL

    init(target: Int) async throws {
        port = LoopbackPort.free()
        log = FileManager.default.temporaryDirectory.appendingPathComponent("freeze-proxy-\(UUID().uuidString.prefix(8)).log")
        process = try ChildProcess(Repository.python, [Repository.root.appendingPathComponent("Tests/Peers/tcp_freeze_proxy.py").path,
                                                       String(port), String(target)],
                                   environment: ProcessInfo.processInfo.environment, output: log.path)
        try await eventually(20, "the freeze proxy") { self.output.contains("ready") }
    }

    deinit {
        process.wait(seconds: 0)
        try? FileManager.default.removeItem(at: log)
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func freeze() async throws {
        process.signal(SIGUSR1)
        try await eventually(10, "the proxy frozen") { self.output.contains("frozen") }
    }

    func thaw() async throws {
        process.signal(SIGUSR2)
        try await eventually(10, "the proxy thawed") { self.output.contains("thawed") }
    }
}
