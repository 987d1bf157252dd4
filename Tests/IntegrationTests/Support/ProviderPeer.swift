import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SiphonCore

/// The provider stand-ins (Tests/Peers/provider_server.py) on a free port.
final class ProviderPeer: @unchecked Sendable {
    let port: Int
    private let process: ChildProcess

    init() async throws {
        port = LoopbackPort.free()
        process = try ChildProcess(Repository.python, [Repository.root.appendingPathComponent("Tests/Peers/provider_server.py").path, String(port)],
                                   environment: ProcessInfo.processInfo.environment, output: ProcessInfo.processInfo.environment["SIPHON_PEER_LOG"])
        try await eventually(20, "the provider stand-ins") { (try? await self.requests()) != nil }
    }

    deinit { process.wait(seconds: 0) }

    var openAIBase: String { "http://127.0.0.1:\(port)/v1" }
    var anthropicBase: String { "http://127.0.0.1:\(port)" }

    /// Requests the server has counted (for retries: how many attempts were made).
    func requests() async throws -> Int {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/_stats")!)
        return ((try JSONSerialization.jsonObject(with: data)) as? [String: Any])?["requests"] as? Int ?? -1
    }
}
