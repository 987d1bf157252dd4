import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SiphonCore
import SiphonLiveKit

/// The LiveKit stand-in (Tests/Peers/livekit_server.py) on a free port: the Twirp API (official
/// protobuf parsing of every request, livekit-api's token verifier, LiveKit's error shapes) and
/// `/rtc` with aiortc peer connections (livekit_sfu.py).
final class LiveKitPeer: @unchecked Sendable {
    let port: Int
    let key = "APIsiphontest"
    let secret = "livekit-test-secret-\(UUID().uuidString)"
    private let process: ChildProcess

    /// `mediaIP`: where its peer connections listen (loopback unless given: libwebrtc clients never
    /// pair loopback with their own addresses).
    init(mediaIP: String? = nil) async throws {
        port = LoopbackPort.free()
        var environment = ProcessInfo.processInfo.environment
        if let mediaIP { environment["LIVEKIT_STANDIN_MEDIA_IP"] = mediaIP }
        process = try ChildProcess(Repository.python, [Repository.root.appendingPathComponent("Tests/Peers/livekit_server.py").path,
                                                       String(port), key, secret],
                                   environment: environment, output: ProcessInfo.processInfo.environment["SIPHON_PEER_LOG"])
        try await eventually(20, "the LiveKit stand-in") { (try? await self.get("/_test/failures")) != nil }
    }

    deinit { process.wait(seconds: 0) }

    var url: String { "http://127.0.0.1:\(port)" }
    var credentials: LiveKitCredentials { try! LiveKitCredentials(url: url, apiKey: key, apiSecret: secret) }
    var environment: [String: String] { ["LIVEKIT_URL": url, "LIVEKIT_API_KEY": key, "LIVEKIT_API_SECRET": secret] }

    func get(_ path: String) async throws -> Any {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + path)!)
        return try JSONSerialization.jsonObject(with: data)
    }

    func post(_ path: String, _ body: [String: Any]) async throws {
        var request = URLRequest(url: URL(string: url + path)!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        _ = try await URLSession.shared.data(for: request)
    }

    /// Every request the server parsed: `method` (`Service/Method`), `request`, `grants`.
    func requests() async throws -> [[String: Any]] { try await get("/_test/requests") as? [[String: Any]] ?? [] }
    /// Bodies that did not parse into the official protobuf message.
    func failures() async throws -> [[String: Any]] { try await get("/_test/failures") as? [[String: Any]] ?? [] }
    func hangups() async throws -> [[String: Any]] { try await get("/_test/hangups") as? [[String: Any]] ?? [] }
    func count(_ method: String) async throws -> Int { try await requests().filter { $0["method"] as? String == method }.count }
}
