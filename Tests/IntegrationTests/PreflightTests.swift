import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SiphonCore

/// `siphon preflight` against a live local stack: redis-server (AOF), Kamailio as the SIP trunk
/// (digest REGISTER), a LiveKit Twirp stand-in that checks tokens with LiveKit's own verifier, and
/// the loopback barge-in rehearsal. Then one check made to fail on purpose.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PreflightTests {
    func run(_ redis: RedisServer, _ env: [String: String], skip: [String] = []) throws -> (Int32, [[String: Any]], String) {
        let (status, out, err) = try SiphonProcess.run(["preflight", "--json", "--env-file", ""] + skip.flatMap { ["--skip", $0] },
                                                       redis: redis.urlString, environment: env)
        let line = out.split(separator: "\n").last.map(String.init) ?? ""
        let checks = ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["checks"] as? [[String: Any]] ?? []
        return (status, checks, out + err)
    }

    func status(_ checks: [[String: Any]], _ name: String) -> String? {
        checks.first { $0["check"] as? String == name }?["status"] as? String
    }

    @Test func aHealthyStackPassesAndAWrongTrunkPasswordFails() async throws {
        let redis = try RedisServer()
        let kamailio = try KamailioPeer()
        try await kamailio.waitReady()
        let lkPort = LoopbackPort.free()
        let lkSecret = "preflight-secret-\(UUID().uuidString)"
        let livekit = try ChildProcess(Repository.python, [Repository.root.appendingPathComponent("Tests/Peers/livekit_server.py").path,
                                                           String(lkPort), "APIpreflight", lkSecret],
                                       environment: ProcessInfo.processInfo.environment, output: nil)
        try await eventually(20, "the LiveKit stand-in") { (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(lkPort)/")!)) != nil }
        var env = [
            "SIPHON_API_TOKEN": "preflight-token-0123456789abcdef", "SIPHON_PUBLIC_IP": "127.0.0.1",
            "SIP_TRUNK_ADDRESS": "127.0.0.1:\(kamailio.port)", "SIP_USERNAME": "siphon", "SIP_PASSWORD": kamailio.password,
            "FROM_NUMBER": "+15550100000",
            "LIVEKIT_URL": "http://127.0.0.1:\(lkPort)", "LIVEKIT_API_KEY": "APIpreflight", "LIVEKIT_API_SECRET": lkSecret,
        ]
        let (ok, checks, output) = try run(redis, env)
        #expect(ok == 0, "\(output)")
        for name in ["redis", "redis persistence", "sip trunk", "livekit", "webrtc", "vad", "codecs offline-receptionist", "barge-in"] {
            #expect(status(checks, name) == "pass", "\(name): \(output)")
        }

        // On purpose: a wrong trunk password, and a LiveKit secret the server does not know.
        env["SIP_PASSWORD"] = "wrong-password-1234"
        env["LIVEKIT_API_SECRET"] = "not-the-servers-secret-0123456789"
        let (bad, badChecks, badOutput) = try run(redis, env, skip: ["vad", "barge-in"])
        #expect(bad == 1, "\(badOutput)")
        #expect(status(badChecks, "sip trunk") == "fail" && badOutput.contains("REGISTER refused"), "\(badOutput)")
        #expect(status(badChecks, "livekit") == "fail" && badOutput.contains("refused the token"), "\(badOutput)")
        #expect(status(badChecks, "redis") == "pass")
        #expect(!badOutput.contains("wrong-password-1234") && !badOutput.contains("not-the-servers-secret"))
        _ = livekit
    }

    /// The WebRTC check finds the seed's "silent media" before a call does: LiveKit's media on a
    /// veth address, coturn as its advertised TURN server. A worker that advertises addresses
    /// LiveKit can reach connects directly, and through the relay alone; one that advertises only
    /// loopback (an address LiveKit cannot use) fails with the fix — and connects once LiveKit
    /// offers TURN, which the check then reports as the path.
    @Test func theWebRTCCheckFindsASilentPathAndTheRelay() async throws {
        let redis = try RedisServer()
        let ns = try NetworkNamespace()
        let livekit = try await LiveKitPeer(mediaIP: ns.hostAddress)
        let turn = try await TURNServer(listen: ["127.0.0.1", ns.hostAddress], relayIP: ns.hostAddress)
        let others = ["environment", "redis", "sip", "livekit", "providers", "vad", "codecs", "barge-in"]
        func preflight(hosts: String) throws -> ([[String: Any]], String) {
            let (_, checks, output) = try run(redis, livekit.environment.merging(["SIPHON_WEBRTC_HOSTS": hosts]) { $1 }, skip: others)
            return (checks, output)
        }
        func detail(_ checks: [[String: Any]], _ name: String) -> String { checks.first { $0["check"] as? String == name }?["detail"] as? String ?? "" }

        let (unreachable, out1) = try preflight(hosts: "127.0.0.1")
        #expect(status(unreachable, "webrtc") == "fail" && out1.contains("calls would be silent"), "\(out1)")
        #expect(status(unreachable, "webrtc relay") == "skip", "\(out1)")

        try await livekit.post("/_test/ice", ["servers": [["urls": ["turn:127.0.0.1:\(turn.port)?transport=udp"], "username": turn.username,
                                                          "credential": turn.password]]])
        let (good, out2) = try preflight(hosts: ns.hostAddress)
        print("preflight webrtc: \(detail(good, "webrtc")) | relay: \(detail(good, "webrtc relay"))")
        #expect(status(good, "webrtc") == "pass" && detail(good, "webrtc").contains("over host → "), "\(out2)")
        #expect(status(good, "webrtc relay") == "pass" && detail(good, "webrtc relay").contains("relay"), "\(out2)")
        // A LiveKit with /rtc/v1: the probe joins the way the worker then does, and connects the same.
        try await livekit.post("/_test/signalling", ["v1": true])
        let (single, out4) = try preflight(hosts: ns.hostAddress)
        #expect(status(single, "webrtc") == "pass" && detail(single, "webrtc").contains("over host → "), "\(out4)")
        let joins = try await livekit.get("/_test/events") as? [[String: Any]] ?? []
        #expect(joins.contains { $0["event"] as? String == "join_request" && $0["sdk"] as? String == "SWIFT" }, "\(joins)")
        try await livekit.post("/_test/signalling", ["v1": false])
        let (relayed, out3) = try preflight(hosts: "127.0.0.1")
        print("preflight webrtc, loopback only but TURN: \(detail(relayed, "webrtc"))")
        #expect(status(relayed, "webrtc") == "pass" && detail(relayed, "webrtc").contains("over relay → "), "\(out3)")
        #expect(!(out1 + out2 + out3 + out4).contains(turn.password) && !(out1 + out2 + out3 + out4).contains(livekit.secret))
        // Each probe deleted its room (seven probes: the relay check is skipped where direct failed).
        let rooms = try await livekit.requests().filter { $0["method"] as? String == "RoomService/DeleteRoom" }
        #expect(rooms.count == 7, "\(rooms)")
    }

    @Test func configCheckNamesWhatIsWrong() throws {
        let dir = try Repository.temporaryDirectory("config-check")
        let envFile = dir.appendingPathComponent(".env")
        try """
            REDIS_URL=redis://127.0.0.1:notaport/0
            SIPHON_API_TOKEN=change-me
            SIPHON_SECRET_KEY=tooshort
            FROM_NUMBER=12345
            SIP_INBOUND_ALLOW=10.0.0.0/33
            SIP_TRUNK_ADRESS=sip.example.net
            SIPHON_WEBRTC_HOSTS=10.0.0.5, livekit.example
            SIPHON_LIVEKIT_SIGNALLING=v2
            SIPHON_MEDIA_NICE=-30
            SIPHON_WEBRTC_RELAY_ONLY=true
            SIPHON_AGENT_CONFIG=\(dir.path)/agents.yaml
            SIP_TLS_CERT=\(dir.path)/missing.pem
            SIP_REGISTER=true
            """.write(to: envFile, atomically: true, encoding: .utf8)
        try "agents:\n  - name: a\n    instructions: x\n    stt: { provider: pocketsphinx }\n    llm: { provider: openai }\n    tts: { provider: espeak, rte: 1 }\n"
            .write(to: dir.appendingPathComponent("agents.yaml"), atomically: true, encoding: .utf8)
        let (status, out, err) = try SiphonProcess.run(["config", "check", "--env-file", envFile.path], redis: nil,
                                                       environment: ["REDIS_URL": "", "SIPHON_API_TOKEN": "", "OPENAI_API_KEY": ""])
        #expect(status == 1)
        for expected in ["FAIL  REDIS_URL", "FAIL  SIPHON_API_TOKEN", "FAIL  SIPHON_SECRET_KEY", "FAIL  FROM_NUMBER", "FAIL  SIP_INBOUND_ALLOW",
                         "WARN  SIP_TRUNK_ADRESS", "FAIL  SIPHON_WEBRTC_HOSTS: not IP addresses: livekit.example",
                         "FAIL  SIPHON_LIVEKIT_SIGNALLING: 'v2' is neither auto nor v0", "agents.yaml",
                         "FAIL  SIPHON_MEDIA_NICE: SIPHON_MEDIA_NICE must be a whole number from -20 to 19",
                         "FAIL  SIPHON_WEBRTC_RELAY_ONLY: SIPHON_WEBRTC_RELAY_ONLY needs a TURN server to relay through",
                         "FAIL  SIP_TLS: SIP_TLS_CERT and SIP_TLS_KEY go together",
                         "FAIL  SIP_REGISTER: SIP_REGISTER needs a registrar: SIP_REGISTRAR or SIP_TRUNK_ADDRESS"] {
            #expect(out.contains(expected), "expected '\(expected)' in:\n\(out)\(err)")
        }
        #expect(out.contains("agents[0].llm: openai needs an API key: set OPENAI_API_KEY or api_key"), "\(out)")
    }

    /// The check judges the configuration the worker would run: keys given inline (`api_key`), an
    /// unquoted base_url (was read as the YAML 1.1 base-60 number 0), a key missing inside a fallback chain.
    @Test func configCheckJudgesWhatTheWorkerWouldRun() throws {
        let dir = try Repository.temporaryDirectory("config-check-inline")
        let envFile = dir.appendingPathComponent(".env")
        let leaf = TestCertificates.loopback
        try """
            SIPHON_AGENT_CONFIG=\(dir.path)/agents.yaml
            SIP_TLS_CERT=\(leaf.certificate)
            SIP_TLS_KEY=\(leaf.key)
            SIP_TLS_CA=\(TestCertificates.authority)
            SIP_REGISTER=yes
            SIP_REGISTRAR=pbx.example:5080
            SIP_USERNAME=201
            SIP_PASSWORD=extension-secret-201

            """.write(to: envFile, atomically: true, encoding: .utf8)
        let agents = """
            agents:
              - name: inline
                instructions: x
                stt: { provider: deepgram, api_key: dg-inline-key }
                llm: { provider: openai, model: m, base_url: http://127.0.0.1:8000/v1 }
                tts: { provider: cartesia, voice: v, api_key: ca-inline-key }
              - name: local
                instructions: x
                stt: { provider: pocketsphinx }
                llm: { provider: ollama, model: llama3, base_url: http://localhost:11434/v1 }
                tts: { provider: espeak }
            """
        try agents.write(to: dir.appendingPathComponent("agents.yaml"), atomically: true, encoding: .utf8)
        let clean = ["DEEPGRAM_API_KEY": "", "CARTESIA_API_KEY": "", "OPENAI_API_KEY": "", "REDIS_URL": ""]
        let (status, out, err) = try SiphonProcess.run(["config", "check", "--role", "worker", "--env-file", envFile.path], redis: nil, environment: clean)
        #expect(out.contains("PASS  \(dir.path)/agents.yaml: inline"), "\(out)\(err)")
        #expect(out.contains("PASS  \(dir.path)/agents.yaml: local"), "\(out)\(err)")
        #expect(out.contains("PASS  SIP_TLS: certificate and key load"), "\(out)\(err)")
        #expect(out.contains("PASS  SIP_REGISTER: registers sip:201@pbx.example at pbx.example:5080 over udp, asking 600 s"), "\(out)\(err)")
        #expect(out.contains("WARN  SIP_REGISTER_NUMBER: not set"), "\(out)\(err)")
        #expect(!out.contains("dg-inline-key") && !out.contains("ca-inline-key") && !out.contains("extension-secret-201"))
        #expect(!out.contains("FAIL"), "\(out)")
        #expect(status == 0, "\(out)\(err)")

        // A fallback chain's second voice without a key is found (the old check looked only at `provider:`).
        try agents.replacingOccurrences(of: "tts: { provider: cartesia, voice: v, api_key: ca-inline-key }",
                                        with: "tts: { provider: fallback, chain: [ { provider: cartesia, voice: v, api_key: k }, { provider: elevenlabs, voice: v } ] }")
            .write(to: dir.appendingPathComponent("agents.yaml"), atomically: true, encoding: .utf8)
        let (bad, badOut, _) = try SiphonProcess.run(["config", "check", "--role", "worker", "--env-file", envFile.path], redis: nil,
                                                     environment: clean.merging(["ELEVEN_API_KEY": "", "ELEVENLABS_API_KEY": ""]) { $1 })
        #expect(bad == 1)
        #expect(badOut.contains("ELEVEN_API_KEY"), "\(badOut)")
    }
}
