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

    /// Lets the stand-in answer the requests it holds (model `mock-held`).
    func releaseHeld() async throws {
        _ = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/_release")!)
    }

    /// The ElevenLabs multi-context stand-in's counters: sockets opened, the most contexts one
    /// socket held, and the messages it refused (each with the SDK model it failed).
    func elevenLabs() async throws -> (sockets: Int, maxContexts: Int, refused: [String]) {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/_stats/elevenlabs")!)
        let o = (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (o["sockets"] as? Int ?? -1, o["max_contexts"] as? Int ?? -1, o["refused"] as? [String] ?? ["unreadable stats"])
    }
}
