import Foundation
import Testing
import SiphonAgent
import SiphonAudio
@testable import SiphonOffline
import SiphonWebRTC

/// Siphon's WebRTC stack against aiortc (an independent implementation: aioice, pyOpenSSL,
/// pylibsrtp, PyAV's libopus) on loopback, one test case per cell of the interop matrix: who
/// offers (and so who controls ICE), each DTLS role, each SRTP profile, candidates in the SDP or
/// trickled. Each side speaks a phrase; what the other heard is transcribed by PocketSphinx.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct WebRTCInteropTests {
    struct Cell: Sendable, CustomStringConvertible {
        var siphonOffers: Bool
        var answerSetup: DTLSEndpoint.Role = .client
        var profiles: [DTLSEndpoint.SRTPProfile] = DTLSEndpoint.SRTPProfile.allCases
        var trickle = false
        var description: String {
            "\(siphonOffers ? "Siphon offers (ICE controlling)" : "the peer offers (Siphon ICE controlled)"), "
                + "Siphon DTLS \(siphonOffers ? "server" : answerSetup == .client ? "client" : "server"), "
                + "\(profiles.count == 1 ? "\(profiles[0])" : "any profile"), \(trickle ? "trickled" : "candidates in the SDP")"
        }
    }

    static let cells: [Cell] = [
        Cell(siphonOffers: true),
        Cell(siphonOffers: true, profiles: [.aes128CMSHA1_80]),
        Cell(siphonOffers: true, trickle: true),
        Cell(siphonOffers: false, answerSetup: .client),
        Cell(siphonOffers: false, answerSetup: .client, profiles: [.aeadAES128GCM]),
        Cell(siphonOffers: false, answerSetup: .client, profiles: [.aeadAES256GCM]),
        Cell(siphonOffers: false, answerSetup: .client, profiles: [.aes128CMSHA1_80], trickle: true),
        Cell(siphonOffers: false, answerSetup: .server),
    ]

    static let phrases = ["I would like to book a cleaning", "Tuesday please", "In the morning", "No that is all thank you", "Yes please"]

    @Test(arguments: cells)
    func audioCrossesBothWays(cell: Cell) async throws {
        let r = try await Self.converse(cell, hostAddresses: ["127.0.0.1"])
        print("interop \(cell) | SRTP \(r.profile) | Siphon heard '\(r.siphonHeard)' | aiortc heard '\(r.aiortcHeard)'")
        #expect(r.siphonHeard == "in the morning", "\(cell): Siphon heard '\(r.siphonHeard)'")
        #expect(r.aiortcHeard == "tuesday please", "\(cell): aiortc heard '\(r.aiortcHeard)'")
        if cell.profiles.count == 1 { #expect(r.profile == cell.profiles[0], "\(cell)") }
    }

    /// Media only through a TURN relay: aiortc in a namespace of its own, Siphon's host candidates
    /// on loopback (unreachable from there), coturn relaying on the namespace's link.
    @Test func mediaThroughATURNRelayOnly() async throws {
        let ns = try NetworkNamespace()
        let turn = try await TURNServer(listen: ["127.0.0.1", ns.hostAddress], relayIP: ns.hostAddress)
        let server = ICEAgent.TURNServer(address: try TransportAddress(ip: "127.0.0.1", port: turn.port), username: turn.username, password: turn.password)
        let r = try await Self.converse(Cell(siphonOffers: true, trickle: true), hostAddresses: ["127.0.0.1"], turn: [server], namespace: ns)
        print("interop TURN relay | local \(r.local) | Siphon heard '\(r.siphonHeard)' | aiortc heard '\(r.aiortcHeard)'")
        #expect(r.local == .relay, "the pair was not relayed: \(r.local)")
        #expect(r.siphonHeard == "in the morning" && r.aiortcHeard == "tuesday please", "\(r)")
    }

    /// The same through TURN over TCP, with coturn taking no UDP from clients at all: the path of a
    /// worker behind a firewall that lets only TCP out.
    @Test func mediaThroughATURNRelayOverTCP() async throws {
        let ns = try NetworkNamespace()
        let turn = try await TURNServer(listen: ["127.0.0.1", ns.hostAddress], relayIP: ns.hostAddress, udp: false)
        let server = ICEAgent.TURNServer(address: try TransportAddress(ip: "127.0.0.1", port: turn.port), username: turn.username,
                                         password: turn.password, transport: .tcp)
        let r = try await Self.converse(Cell(siphonOffers: true, trickle: true), hostAddresses: ["127.0.0.1"], turn: [server], namespace: ns)
        print("interop TURN relay over TCP | local \(r.local) | Siphon heard '\(r.siphonHeard)' | aiortc heard '\(r.aiortcHeard)'")
        #expect(r.local == .relay, "the pair was not relayed: \(r.local)")
        #expect(r.siphonHeard == "in the morning" && r.aiortcHeard == "tuesday please", "\(r)")
    }

    /// 5 % of the UDP packets lost both ways (nftables' random drop in the namespace: tc netem is
    /// not in this kernel): ICE and DTLS retransmit, Opus conceals, the words still get through.
    @Test func speechSurvivesFivePercentLoss() async throws {
        let ns = try NetworkNamespace(loss: 0.05)
        let r = try await Self.converse(Cell(siphonOffers: false, answerSetup: .client), hostAddresses: [ns.hostAddress], namespace: ns)
        print("interop 5% loss | Siphon heard '\(r.siphonHeard)' | aiortc heard '\(r.aiortcHeard)' | received \(r.received) RTP packets, concealed \(r.concealed) frames")
        #expect(r.siphonHeard == "in the morning" && r.aiortcHeard == "tuesday please", "\(r)")
    }

    struct Result: CustomStringConvertible {
        var siphonHeard: String
        var aiortcHeard: String
        var profile: DTLSEndpoint.SRTPProfile
        var local: ICECandidate.Kind
        var remote: ICECandidate.Kind
        var concealed: Int
        var received: Int
        /// What the far end reported: its DTLS role and cipher when connected, its packet counts.
        var theirs: [String: Any] = [:]
        var theirSDP = ""
        var description: String { "Siphon heard '\(siphonHeard)', aiortc heard '\(aiortcHeard)', \(profile), local \(local), received \(received) RTP packets, concealed \(concealed)" }
    }

    /// One call with aiortc: each side says its phrase, each transcribes what it heard.
    static func converse(_ cell: Cell, hostAddresses: [String], turn: [ICEAgent.TURNServer] = [], namespace: NetworkNamespace? = nil,
                         far: WebRTCTestPeer.Implementation = .aiortc, farOptions: [String] = []) async throws -> Result {
        let dir = try Repository.temporaryDirectory("webrtc-interop")
        // aiortc says "In the morning"; Siphon says "Tuesday please".
        let theirs = dir.appendingPathComponent("aiortc-says.wav")
        try Repository.run("espeak-ng", ["-v", "en-us", "-s", "150", "-w", theirs.path, "In the morning"])
        let tts = try EspeakTTS(wordsPerMinute: 150)
        var ours: [AudioFrame] = []
        for try await f in try await tts.synthesize("Tuesday please") { ours.append(f) }

        var config = WebRTCPeer.Configuration(role: cell.siphonOffers ? .controlling : .controlled)
        config.hostAddresses = hostAddresses
        config.answerSetup = cell.answerSetup
        config.srtpProfiles = cell.profiles
        config.turnServers = turn
        let peer = try await WebRTCPeer.start(config)
        defer { peer.close() }
        // aiortc plays on cue, once both ends are connected (on a lossy path it may be connected, and
        // would play, a second before Siphon can decrypt: its last DTLS flight lost and resent).
        let aiortc = try WebRTCTestPeer(far, mode: cell.siphonOffers ? "answer" : "offer", play: theirs,
                                        extra: farOptions + (far == .aiortc ? ["--cue"] : []), namespace: namespace)

        func stripped(_ sdp: WebRTCSessionDescription) -> WebRTCSessionDescription {
            var s = sdp
            for i in s.media.indices { s.media[i].attributes.removeAll { $0.name == "candidate" || $0.name == "end-of-candidates" } }
            return s
        }
        // Heard from the first frame on: a far end that starts speaking before its "connected" reaches
        // this harness (a DTLS flight lost and resent, a loaded machine) is not cut by `incoming`'s
        // one-second buffer.
        let heard = Task { () -> [AudioFrame] in
            var frames: [AudioFrame] = []
            for await f in peer.incoming { frames.append(f) }
            return frames
        }
        let events = peer.events
        let ourDescription: WebRTCSessionDescription
        let theirSDP: String
        if cell.siphonOffers {
            ourDescription = try await peer.createOffer(audioDirection: .sendrecv)
            try aiortc.send(["sdp": (cell.trickle ? stripped(ourDescription) : ourDescription).description])
            theirSDP = try await aiortc.next("sdp")["sdp"] as! String
            try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: theirSDP), isOffer: false)
        } else {
            theirSDP = try await aiortc.next("sdp")["sdp"] as! String
            try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: theirSDP), isOffer: true)
            ourDescription = try await peer.createAnswer(audioDirection: .sendrecv)
            try aiortc.send(["sdp": (cell.trickle ? stripped(ourDescription) : ourDescription).description])
        }
        if cell.trickle {
            for c in ourDescription.media[0].candidates { try aiortc.send(["candidate": c.description]) }
        }
        // Connected on our side (ICE, DTLS, SRTP); candidates gathered later (relayed) trickle out.
        var connected: (DTLSEndpoint.SRTPProfile, ICECandidate.Kind, ICECandidate.Kind)?
        for await e in events {
            if case .candidate(let c) = e, c.kind != .host { try aiortc.send(["candidate": c.description]) }
            if case .connected(let p, let local, let remote) = e { connected = (p, local.kind, remote.kind); break }
            if case .failed(let why) = e { throw HarnessError("\(cell): \(why)") }
        }
        guard let (profile, local, remote) = connected else { throw HarnessError("\(cell): never connected") }
        let theirState = try await aiortc.next("event", seconds: 30)
        guard theirState["event"] as? String == "connected" else { throw HarnessError("\(cell): \(far) \(theirState)") }

        // aiortc speaks now, Siphon after half a second; both listen for five seconds.
        if far == .aiortc { try aiortc.play() }
        try await Task.sleep(for: .milliseconds(500))
        for f in ours { peer.enqueue(f) }
        try await Task.sleep(for: .milliseconds(4500))
        heard.cancel()
        let siphonHeard = await heard.value
        try aiortc.stop()
        let theirStats = try await aiortc.next("packets_received", seconds: 30)
        aiortc.process.waitUntilExit()

        let stt = try PocketSphinxSTT(phrases: Self.phrases)
        let siphonText = try await Self.transcribe(siphonHeard, stt: stt)
        let aiortcText = try await Self.transcribe(wav: aiortc.recording.path, stt: stt)
        return Result(siphonHeard: siphonText, aiortcHeard: aiortcText, profile: profile, local: local, remote: remote, concealed: peer.statistics.framesConcealed, received: peer.statistics.packetsReceived,
                      theirs: theirState.merging(theirStats) { a, _ in a }, theirSDP: theirSDP)
    }

    /// A recording (any rate; the first `seconds` of it when given), transcribed.
    static func transcribe(wav path: String, seconds: Int? = nil, stt: PocketSphinxSTT, joiningPauses: Int? = nil) async throws -> String {
        let wav = try WAVFile.read(path)
        let samples = seconds.map { Array(wav.samples.prefix(wav.sampleRate * $0)) } ?? wav.samples
        let down = try Resampler(from: wav.sampleRate, to: 16000).process(samples)
        return try await transcribe(stride(from: 0, to: down.count - 319, by: 320).map { AudioFrame(sampleRate: 16000, samples: Array(down[$0..<$0 + 320])) }, stt: stt,
                                    joiningPauses: joiningPauses)
    }

    /// PocketSphinx with the phrase grammar, utterances cut where the VAD says speech ended or,
    /// with `joiningPauses`, after that many frames of silence (so a phrase spoken with pauses — a
    /// whole turn — stays one utterance). One stream, so the decoder's normalisation carries over;
    /// fed a second at a time, each once the decoder has taken the one before: a stream that falls
    /// ten seconds behind drops frames (as it would on a call), and a loaded machine must not
    /// change what is heard.
    static func transcribe(_ frames: [AudioFrame], stt: PocketSphinxSTT, joiningPauses: Int? = nil) async throws -> String {
        let stream = try await stt.open()
        let paced = try #require(stream as? PocketSphinxStream)
        let vad = VoiceActivityDetector(sampleRate: 16000)
        var quiet = 0, speaking = false
        for (i, f) in (frames + [AudioFrame](repeating: .silence(sampleRate: 16000), count: 40)).enumerated() {
            let d = vad.process(f.samples)
            try await stream.send(f, speech: d.isSpeech)
            quiet = d.isSpeech ? 0 : quiet + 1
            speaking = speaking || d.isSpeech
            if speaking, joiningPauses.map({ quiet >= $0 }) ?? (d.event == .speechEnded) {
                try await stream.flush()
                speaking = false
            }
            if i % 50 == 49 { await paced.settle() }
        }
        await stream.close()
        var out: [String] = []
        for try await t in stream.transcripts where t.isFinal { out.append(t.text) }
        return out.joined(separator: " ")
    }
}

extension WebRTCInteropTests {
    /// SCTP over DTLS (usrsctp) and DCEP against aiortc's own SCTP: a channel either side opens,
    /// messages both ways.
    @Test(arguments: [true, false])
    func dataChannelsCarryMessagesBothWays(siphonOffers: Bool) async throws {
        let dir = try Repository.temporaryDirectory("webrtc-data")
        let quiet = dir.appendingPathComponent("quiet.wav")
        try WAVFile(sampleRate: 16000, samples: [Int16](repeating: 0, count: 16000)).write(quiet.path)
        var config = WebRTCPeer.Configuration(role: siphonOffers ? .controlling : .controlled)
        config.hostAddresses = ["127.0.0.1"]
        let peer = try await WebRTCPeer.start(config)
        defer { peer.close() }
        let aiortc = try WebRTCTestPeer(mode: siphonOffers ? "answer" : "offer", play: quiet, extra: ["--datachannel"])
        if siphonOffers {
            peer.openDataChannel("chat")
            try aiortc.send(["sdp": try await peer.createOffer(audioDirection: .sendrecv, dataChannel: true).description])
            let answer = try await aiortc.next("sdp")
            try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: answer["sdp"] as! String), isOffer: false)
        } else {
            let offer = try await aiortc.next("sdp")
            try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: offer["sdp"] as! String), isOffer: true)
            try aiortc.send(["sdp": try await peer.createAnswer(audioDirection: .sendrecv, dataChannel: true).description])
        }
        var got: [String] = []
        let deadline = ContinuousClock.now + .seconds(15)
        for await e in peer.events {
            switch e {
            case .channelOpened(let label):
                #expect(label == "chat")
                if !siphonOffers { peer.send(Array("hello from siphon".utf8), channel: "chat", binary: false) }
            case .channelMessage(let label, let data, _):
                let text = String(decoding: data, as: UTF8.self)
                got.append("\(label): \(text)")
                if text == "hello from aiortc" { peer.send(Array("hello from siphon".utf8), channel: "chat", binary: false) }
            case .failed(let why): Issue.record("\(why)")
            default: break
            }
            if got.contains("chat: echo: hello from siphon") || ContinuousClock.now > deadline { break }
        }
        #expect(got.contains("chat: hello from aiortc") && got.contains("chat: echo: hello from siphon"), "\(got)")
        let heard = try await aiortc.next("text")
        #expect(heard["text"] as? String == "hello from siphon")
        try aiortc.stop()
    }
}

extension WebRTCInteropTests {
    /// Headless Chromium (Debian's) as the far end: the WebRTC stack users' browsers and LiveKit's
    /// SDKs run — its own ICE, BoringSSL DTLS, SRTP and Opus — in an ordinary RTCPeerConnection
    /// page speaking through its fake microphone (a WAV). Either side offers, so Siphon is DTLS
    /// client once and server once. With `mdns`, a page without microphone permission: Chromium
    /// then hides its addresses behind .local names, which Siphon cannot resolve and must learn as
    /// peer-reflexive candidates from Chromium's own checks.
    @Test(arguments: [(siphonOffers: false, mdns: false), (siphonOffers: true, mdns: false), (siphonOffers: true, mdns: true)])
    func audioCrossesBothWaysWithChromium(siphonOffers: Bool, mdns: Bool) async throws {
        let cell = Cell(siphonOffers: siphonOffers, answerSetup: .client)
        let r = try await Self.converse(cell, hostAddresses: ["127.0.0.1"], far: .chromium, farOptions: mdns ? ["--mdns"] : [])
        print("interop Chromium, \(cell)\(mdns ? ", mDNS candidates" : "") | SRTP \(r.profile) | Chromium: DTLS \(r.theirs["dtls_role"] ?? "?"), "
              + "\(r.theirs["srtp"] ?? "?"), TLS \(r.theirs["tls"] ?? "?") | Siphon heard '\(r.siphonHeard)' | Chromium heard '\(r.aiortcHeard)'")
        #expect(r.siphonHeard == "in the morning", "Siphon heard '\(r.siphonHeard)'")
        #expect(r.aiortcHeard == "tuesday please", "Chromium heard '\(r.aiortcHeard)'")
        // Roles as negotiated: the answerer's a=setup:active makes it the DTLS client.
        #expect(r.theirs["dtls_role"] as? String == (siphonOffers ? "client" : "server"), "\(r.theirs)")
        // With mDNS its SDP names no address at all: the path exists only because Siphon learned
        // Chromium's address from its checks (a peer-reflexive remote candidate).
        let hostCandidates = r.theirSDP.split(separator: "\r\n").filter { $0.hasPrefix("a=candidate:") && $0.contains(" typ host") }
        #expect(!hostCandidates.isEmpty && hostCandidates.allSatisfy { $0.contains(".local ") } == mdns, "\(hostCandidates)")
        if mdns { #expect(r.remote == .prflx, "\(r.remote)") }
    }
}

extension WebRTCInteropTests {
    /// Handshakes with aiortc over a path that loses 20 % of packets each way: every one connects,
    /// and what ICE and then DTLS took is printed (DTLS flights retransmitted after twice ICE's
    /// round trip, not RFC 6347's fixed second), figures, never a threshold. More of them:
    /// `LOSSY_ROUNDS=40 [LOSSY_SHARE=0.1] … --filter handshakesCompleteOverALossyPath`.
    @Test func handshakesCompleteOverALossyPath() async throws {
        let loss = Double(ProcessInfo.processInfo.environment["LOSSY_SHARE"] ?? "") ?? 0.2
        let rounds = Int(ProcessInfo.processInfo.environment["LOSSY_ROUNDS"] ?? "") ?? 8
        let ns = try NetworkNamespace(loss: loss)
        let dir = try Repository.temporaryDirectory("webrtc-lossy")
        let quiet = dir.appendingPathComponent("quiet.wav")
        try WAVFile(sampleRate: 16000, samples: [Int16](repeating: 0, count: 16000)).write(quiet.path)
        var ice: [Double] = [], dtls: [Double] = []
        for _ in 0..<rounds {
            var config = WebRTCPeer.Configuration(role: .controlled)
            config.hostAddresses = [ns.hostAddress]
            config.answerSetup = .client
            let peer = try await WebRTCPeer.start(config)
            defer { peer.close() }
            let aiortc = try WebRTCTestPeer(mode: "offer", play: quiet, namespace: ns)
            let offer = try await aiortc.next("sdp")["sdp"] as! String
            let events = peer.events
            try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: offer), isOffer: true)
            let start = ContinuousClock.now
            try aiortc.send(["sdp": try await peer.createAnswer(audioDirection: .sendrecv).description])
            var iceUp: Duration?
            var connected = false
            for await e in events {
                if case .iceState(.connected) = e, iceUp == nil { iceUp = start.duration(to: .now) }
                if case .connected = e { connected = true; break }
                if case .failed(let why) = e { Issue.record("\(why)"); break }
            }
            #expect(connected, "handshake \(dtls.count + 1) of \(rounds) never connected")
            func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
            let up = start.duration(to: .now)
            ice.append(ms(iceUp ?? up))
            dtls.append(ms(up - (iceUp ?? up)))
            try aiortc.stop()
            aiortc.process.waitUntilExit()
        }
        func summary(_ v: [Double]) -> String {
            let s = v.sorted()
            return "p50 \(Int(s[s.count / 2])) ms, p90 \(Int(s[s.count * 9 / 10])) ms, mean \(Int(s.reduce(0, +) / Double(s.count))) ms, "
                + "over 900 ms \(s.filter { $0 > 900 }.count) of \(s.count)"
        }
        print("lossy handshakes (\(Int(loss * 100)) % each way, \(dtls.count)) | ICE \(summary(ice)) | DTLS after ICE \(summary(dtls))")
    }
}
