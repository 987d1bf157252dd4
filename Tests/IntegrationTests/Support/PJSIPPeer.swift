import Foundation
import SiphonCore

/// The PJSIP test peer (Tests/Peers/pjsip_peer.py) as a child process, with its JSON-line events.
final class PJSIPPeer: @unchecked Sendable {
    let port: Int
    let rtpPort: Int
    let log: URL
    let recording: URL
    private let process: ChildProcess

    init(play: String?, record: Bool = true, call: String? = nil, actions: String = "", answerCode: Int = 200, ringMs: Int = 0,
         tcp: Bool = false, codec: String = "PCMU/8000", timeout: Double = 30, auth: (String, String)? = nil, minSE: Int? = nil,
         delayedOffer: Bool = false, tls: TestCertificates.Leaf? = nil, srtp: Bool = false) throws {
        port = LoopbackPort.free(udp: !tcp && tls == nil)
        rtpPort = LoopbackPort.free(udp: true) & ~1
        let dir = try Repository.temporaryDirectory("pjsip")
        log = dir.appendingPathComponent("events.jsonl")
        recording = dir.appendingPathComponent("heard.wav")
        var args = [Repository.root.appendingPathComponent("Tests/Peers/pjsip_peer.py").path, "--port", String(port), "--rtp-port", String(rtpPort),
                    "--answer-code", String(answerCode), "--ring-ms", String(ringMs), "--codec", codec, "--timeout", String(timeout)]
        if let play { args += ["--play", play] }
        if record { args += ["--record", recording.path] }
        if let call { args += ["--call", call] }
        if !actions.isEmpty { args += ["--actions", actions] }
        if tcp { args.append("--tcp") }
        if let (user, password) = auth { args += ["--auth-user", user, "--auth-password", password] }
        if let minSE { args += ["--min-se", String(minSE)] }
        if delayedOffer { args.append("--no-sdp-offer") }
        if let tls { args += ["--tls", "--tls-cert", tls.certificate, "--tls-key", tls.key] }
        if srtp { args.append("--srtp") }
        process = try ChildProcess(Repository.python, args, environment: ProcessInfo.processInfo.environment, output: log.path)
    }

    var events: [[String: Any]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func has(_ event: String, where match: ([String: Any]) -> Bool = { _ in true }) -> Bool {
        events.contains { $0["event"] as? String == event && match($0) }
    }

    func waitReady() async throws { try await eventually(20, "PJSIP ready") { self.has("ready") } }

    func waitExit(_ seconds: Double = 30) async throws { try await eventually(seconds, "PJSIP exit") { self.has("exit") || !self.process.isRunning } }

    var digits: String { events.filter { $0["event"] as? String == "dtmf" }.compactMap { $0["digit"] as? String }.joined() }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}
