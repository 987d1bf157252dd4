import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonOffline
import SiphonTelephony
import SiphonWebRTC
import Synchronization
import Testing

/// Browser calls through the HTTP API, with Siphon's own WebRTC peer in the browser's seat:
/// web client tokens and what they open, offers refused clearly, the console's headers.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BrowserCallAPITests {
    typealias API = DispatcherAPITests.API

    @Test func webClientTokensAreSignedScopedAndExpire() throws {
        let key = WebClientToken.key(apiToken: "api-token")
        let token = try WebClientToken(agent: "receptionist", lifetimeSeconds: 600, now: 1_000)
        let text = token.encoded(key: key)
        #expect(WebClientToken.verify(text, key: key, now: 1_500) == token)
        #expect(WebClientToken.verify(text, key: key, now: 1_601) == nil, "expired")
        #expect(WebClientToken.verify(text, key: WebClientToken.key(apiToken: "another"), now: 1_500) == nil, "another API token's")
        // Any change to the payload breaks the MAC.
        var bytes = Array(text.utf8)
        bytes[8] = bytes[8] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(WebClientToken.verify(String(decoding: bytes, as: UTF8.self), key: key, now: 1_500) == nil)
        #expect(WebClientToken.verify("swt1.", key: key) == nil && WebClientToken.verify("", key: key) == nil)
        #expect(throws: SiphonError.self) { try WebClientToken(agent: "receptionist", lifetimeSeconds: 7200) }
        #expect(throws: SiphonError.self) { try WebClientToken(agent: "a/b", lifetimeSeconds: 60) }
    }

    /// Offers a browser could not have made, each refused before a call is queued, and thousands
    /// of seeded mutations of a real one: an answer or a clear error, never a crash.
    @Test func offersThatAreNotWebRTCAreRefusedClearly() async throws {
        let peer = try await WebRTCPeer.start(WebRTCPeer.Configuration(role: .controlling))
        defer { peer.close() }
        let offer = try await peer.createOffer(audioDirection: .sendrecv).description
        #expect(try BrowserCallRunner.parseOffer(offer).media.count == 1)
        for (sdp, expected) in [("hello", "not valid SDP"), (offer.replacingOccurrences(of: "m=audio", with: "m=video"), "no audio section"),
                                (offer.components(separatedBy: "\r\n").filter { !$0.hasPrefix("a=fingerprint") }.joined(separator: "\r\n"), "fingerprint")] {
            #expect(throws: SiphonError.self, "\(expected)") { try BrowserCallRunner.parseOffer(sdp) }
            do { try BrowserCallRunner.parseOffer(sdp) } catch let e as SiphonError { #expect(e.message.contains(expected), "\(e.message)") }
        }
        var random = SeededRandom(seed: 15)
        var accepted = 0
        for _ in 0..<3000 {
            let mutated = String(decoding: random.mutated(Array(offer.utf8)), as: UTF8.self)
            do {
                try BrowserCallRunner.parseOffer(mutated)
                accepted += 1
            } catch is SiphonError {}
        }
        #expect(accepted > 0 && accepted < 3000, "\(accepted) of 3000 mutations accepted")
    }

    @Test func aWebClientPlacesAndFollowsOnlyItsOwnBrowserCall() async throws {
        let stack = try await ConsoleTests.Stack(workers: ["w1"])
        let api = API(base: "http://127.0.0.1:\(stack.port)", token: ConsoleTests.token)

        let (minted, mint) = try await api.request("POST", "/v1/webrtc/tokens", body: #"{"agent":"offline-receptionist","ttl_seconds":120}"#)
        #expect(minted == 201)
        let web = try #require(mint["token"] as? String)
        #expect(!web.contains(ConsoleTests.token))
        // What a web client may not do.
        #expect(try await api.request("POST", "/v1/webrtc/tokens", body: #"{"agent":"offline-receptionist"}"#, token: web).0 == 403)
        #expect(try await api.request("GET", "/v1/calls", token: web).0 == 403)
        #expect(try await api.request("GET", "/v1/workers", token: web).0 == 403)
        #expect(try await api.request("POST", "/v1/calls", body: #"{"agent":"offline-receptionist","to":"+15550100000"}"#, token: web).0 == 403)
        #expect(try await api.request("GET", "/v1/activity", token: web).0 == 403)
        #expect(try await api.request("GET", "/v1/calls", token: web + "x").0 == 401)

        let peer = try await WebRTCPeer.start({ var c = WebRTCPeer.Configuration(role: .controlling); c.hostAddresses = ["127.0.0.1"]; return c }())
        defer { peer.close() }
        let offer = try await peer.createOffer(audioDirection: .sendrecv).description
        let body = { (agent: String, sdp: String) in
            String(decoding: try! JSONSerialization.data(withJSONObject: ["agent": agent, "sdp": sdp]), as: UTF8.self)
        }
        let (other, otherBody) = try await api.request("POST", "/v1/webrtc/calls", body: body("someone-else", offer), token: web)
        #expect(other == 403, "\(otherBody)")
        let (bad, badBody) = try await api.request("POST", "/v1/webrtc/calls", body: body("offline-receptionist", "v=0 nonsense"), token: web)
        #expect(bad == 400 && ((badBody["error"] as? [String: Any])?["message"] as? String ?? "").hasPrefix("sdp:"), "\(badBody)")
        #expect(try await stack.harness.client.send("XLEN", stack.harness.keys.calls).int == 0, "a refused offer queues nothing")

        // The call: queued, claimed, answered through Redis; the agent's greeting arrives.
        let (created, answer) = try await api.request("POST", "/v1/webrtc/calls", body: body("offline-receptionist", offer), token: web)
        #expect(created == 201, "\(answer)")
        let id = try #require(answer["id"] as? String)
        try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: try #require(answer["sdp"] as? String)), isOffer: false)
        var loud = 0
        for await frame in peer.incoming {
            if frame.samples.map({ abs(Int($0)) }).max() ?? 0 > 1000 { loud += 1 }
            if loud >= 25 { break }  // half a second of the greeting
        }
        #expect(loud >= 25)

        // Its own call only; the operator's sim call is "not found" to it.
        #expect(try await api.request("GET", "/v1/calls/\(id)", token: web).1["transport"] as? String == "webrtc")
        #expect(try await api.request("GET", "/v1/calls/\(id)/turns", token: web).0 == 200)
        let sim = try await api.request("POST", "/v1/calls", body: #"{"agent":"Sim","to":"+15550100000","transport":"sim","sim":{"turns":1}}"#)
        let simID = try #require(sim.1["id"] as? String)
        #expect(try await api.request("GET", "/v1/calls/\(simID)", token: web).0 == 404)
        #expect(try await api.request("DELETE", "/v1/calls/\(simID)", token: web).0 == 404)
        let events = try Self.curl(["-sN", "--max-time", "1", "-H", "Authorization: Bearer \(web)", "http://127.0.0.1:\(stack.port)/v1/activity?call=\(id)"])
        #expect(events.hasPrefix(": siphon activity"), "\(events)")

        #expect([200, 202].contains(try await api.request("DELETE", "/v1/calls/\(id)", token: web).0))
        try await eventually(10, "the call hung up") { try await stack.harness.store.call(id)?.status.isTerminal == true }
        let (late, lateBody) = try await api.request("POST", "/v1/webrtc/calls/\(id)/offer", body: body("offline-receptionist", offer), token: web)
        #expect(late == 409, "\(lateBody)")
        // No secret in what the call left in Redis.
        let keys = (try await stack.harness.client.send("KEYS", "*").array ?? []).compactMap(\.string)
        for key in keys where try await stack.harness.client.send("TYPE", key).string == "hash" {
            let fields = try await stack.harness.client.send("HGETALL", key).fieldMap
            #expect(!fields.values.contains { $0.contains(web) || $0.contains(ConsoleTests.token) }, "\(key)")
        }
    }

    /// A page whose connection drops right after the caller spoke ("no that is all thank you",
    /// gone 300 ms later, inside this receptionist's 2 s endpointing): the words are in the
    /// transcript at once, marked as a drop (they used to be lost). A page that never comes back
    /// is canceled here and nothing answers them; one that offers again is answered: the resumed
    /// conversation's history ends with the caller's words.
    @Test(arguments: [false, true])
    func aBrowserThatDropsRightAfterSpeakingLeavesItsWordsInTheTranscript(offersAgain: Bool) async throws {
        let stack = try await ConsoleTests.Stack(workers: ["w1"], config: try AgentCallTests.patientReceptionist())
        let api = API(base: "http://127.0.0.1:\(stack.port)", token: ConsoleTests.token)
        let (_, mint) = try await api.request("POST", "/v1/webrtc/tokens", body: #"{"agent":"offline-receptionist","ttl_seconds":120}"#)
        let web = try #require(mint["token"] as? String)
        let peer = try await WebRTCPeer.start({ var c = WebRTCPeer.Configuration(role: .controlling); c.hostAddresses = ["127.0.0.1"]; return c }())
        defer { peer.close() }
        let offer = try await peer.createOffer(audioDirection: .sendrecv).description
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["agent": "offline-receptionist", "sdp": offer]), as: UTF8.self)
        let (created, answer) = try await api.request("POST", "/v1/webrtc/calls", body: body, token: web)
        #expect(created == 201, "\(answer)")
        let id = try #require(answer["id"] as? String)
        try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: try #require(answer["sdp"] as? String)), isOffer: false)

        // The greeting, to its end (0.6 s of quiet after half a second of it).
        let heard = Mutex((loud: 0, quiet: 0))
        let listening = Task {
            for await frame in peer.incoming {
                let voiced = frame.samples.map({ abs(Int($0)) }).max() ?? 0 > 1000
                heard.withLock { h in if voiced { (h.loud, h.quiet) = (h.loud + 1, 0) } else { h.quiet += 1 } }
            }
        }
        defer { listening.cancel() }
        try await eventually(30, "the greeting said") { heard.withLock { $0.loud >= 25 && $0.quiet >= 30 } }
        for try await f in try await EspeakTTS(wordsPerMinute: 150).synthesize("No that is all thank you") { peer.enqueue(f) }
        try await eventually(10, "the words sent") { peer.queuedFrames == 0 }
        try await Task.sleep(for: .milliseconds(300))
        peer.close()

        try await eventually(40, "the last words stored\n\(stack.logs)") {
            try await stack.harness.store.turns(id).last?.extra["said_as_the_line_dropped"] == "true"
        }
        let turns = try await stack.harness.store.turns(id)
        let texts = turns.map { "\($0.role.rawValue): \($0.text) \($0.extra)" }
        #expect(turns.count == 2 && turns.first?.role == .agent, "\(texts)")
        #expect(turns.last?.role == .user && turns.last?.text.contains("thank you") == true, "\(texts)")
        #expect(try await stack.harness.store.call(id)?.status == .active, "the page may still offer again")
        if offersAgain {
            let again = try await WebRTCPeer.start({ var c = WebRTCPeer.Configuration(role: .controlling); c.hostAddresses = ["127.0.0.1"]; return c }())
            defer { again.close() }
            let reoffer = String(decoding: try JSONSerialization.data(withJSONObject: ["agent": "offline-receptionist",
                                                                                       "sdp": try await again.createOffer(audioDirection: .sendrecv).description]), as: UTF8.self)
            let (status, reanswer) = try await api.request("POST", "/v1/webrtc/calls/\(id)/offer", body: reoffer, token: web)
            #expect(status == 200, "\(reanswer)")
            try await again.setRemoteDescription(try WebRTCSessionDescription(parsing: try #require(reanswer["sdp"] as? String)), isOffer: false)
            let hearing = Task { for await _ in again.incoming {} }
            defer { hearing.cancel() }
            try await eventually(30, "the words answered\n\(stack.logs)") { try await stack.harness.store.turns(id).count >= 3 }
            let resumed = try await stack.harness.store.turns(id)
            #expect(resumed[2].role == .agent, "\(resumed.map { "\($0.role.rawValue): \($0.text)" })")
            #expect(try await stack.harness.store.events(id).contains { $0.type == "webrtc_reconnected" })
        } else {
            #expect([200, 202].contains(try await api.request("DELETE", "/v1/calls/\(id)", token: web).0))
            try await eventually(10, "the call hung up") { try await stack.harness.store.call(id)?.status.isTerminal == true }
            #expect(try await stack.harness.store.turns(id).count == 2, "nothing answered the words")
        }
    }

    /// The console's page and assets carry a policy without inline script, and refuse framing.
    @Test func theConsoleIsServedWithSecurityHeaders() async throws {
        let stack = try await ConsoleTests.Stack(workers: [])
        for path in ["", "console.js", "console.css", "v1/workers"] {
            var request = URLRequest(url: URL(string: stack.base + path)!)
            request.setValue("Bearer \(ConsoleTests.token)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 200, "\(path)")
            let csp = http.value(forHTTPHeaderField: "Content-Security-Policy") ?? ""
            #expect(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"), "\(path): \(csp)")
            #expect(http.value(forHTTPHeaderField: "X-Content-Type-Options") == "nosniff")
            if path.isEmpty {
                let page = String(decoding: data, as: UTF8.self)
                #expect(page.contains("<script src=\"console.js\"") && !page.contains("<script>"), "no inline script")
                #expect(!page.contains("href=\"/") && !page.contains("src=\"/"), "relative paths only (a proxy's prefix)")
            }
        }
    }

    static func curl(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
