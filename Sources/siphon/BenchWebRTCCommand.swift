import ArgumentParser
import Foundation
import Logging
import SiphonAudio
import SiphonRTP
import SiphonSIP
import SiphonWebRTC

/// `siphon bench webrtc`: what the media transport of one call costs, the LiveKit way beside the
/// SIP way, each in a fresh process of its own (so neither inherits the other's heap). A LiveKit
/// call's agent has two WebRTC connections — subscriber (hears the phone: ICE, DTLS, SRTP, Opus
/// decode) and publisher (speaks: Opus encode, SRTP, plus the SCTP data channel); a SIP call's has
/// one RTP session, G.711 both ways — and, to tell the codec from the transport, the same session
/// with Opus. Both ends run in the process and do mirror work, so a call's agent side is half of
/// what is measured. Speech-like audio flows both ways the whole time.
struct BenchWebRTCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webrtc", abstract: "Per-call media cost of a LiveKit call's WebRTC connections beside a SIP call's RTP (CPU, memory, connect time).")

    @Option(help: "Calls held at once.") var calls: Int = 20
    @Option(help: "Seconds of audio both ways.") var seconds: Double = 10
    @Option(help: "Share of each 5 s in which each side talks (the rest it is silent, as a call's parties take turns).") var talk: Double = 1
    @Option(help: "Measure one transport in this process (sip, sip-srtp, sip-opus or webrtc); without it, each in a child process.") var only: String?
    @Flag(help: "JSON output.") var json = false

    struct Phase: Codable {
        var transport: String
        var calls: Int
        /// Agent side: CPU milliseconds per second of call (1000 = a whole core).
        var cpuMsPerCallSecond: Double
        /// Agent side: resident memory the calls added, per call.
        var mbPerCall: Double
        /// WebRTC: offer → both connections' DTLS up, per call.
        var connectMsP50: Double?
        var connectMsP95: Double?
        var framesReceived: Int

        enum CodingKeys: String, CodingKey {
            case transport, calls, cpuMsPerCallSecond = "cpu_ms_per_call_second", mbPerCall = "mb_per_call"
            case connectMsP50 = "connect_ms_p50", connectMsP95 = "connect_ms_p95", framesReceived = "frames_received"
        }
    }

    func run() async throws {
        guard calls > 0, seconds > 0, (0...1).contains(talk) else { throw ValidationError("--calls and --seconds must be positive, --talk 0…1") }
        if let only {
            guard Self.transports.contains(only) else { throw ValidationError("--only: sip, sip-srtp, sip-opus or webrtc") }
            printJSON(only == "webrtc" ? try await measureWebRTC() : try await measureSIP(codec: only == "sip-opus" ? "opus" : "PCMU", srtp: only == "sip-srtp"))
            return
        }
        var phases: [Phase] = []
        for transport in Self.transports {
            let pipe = Pipe()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: DemoProcesses.executable)
            p.arguments = ["bench", "webrtc", "--only", transport, "--calls", String(calls), "--seconds", String(seconds), "--talk", String(talk)]
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0, let phase = try? JSONDecoder().decode(Phase.self, from: data) else {
                throw CleanExit.message("the \(transport) measurement failed: \(String(decoding: data, as: UTF8.self).suffix(400))")
            }
            phases.append(phase)
        }
        if json { printJSON(phases); return }
        let (sip, srtp, opus, webrtc) = (phases[0], phases[1], phases[2], phases[3])
        print(String(format: "SIP RTP, G.711:          %5.1f ms CPU per call-second, %.2f MB per call", sip.cpuMsPerCallSecond, sip.mbPerCall))
        print(String(format: "SIP SRTP, G.711 (TLS):   %5.1f ms CPU per call-second, %.2f MB per call", srtp.cpuMsPerCallSecond, srtp.mbPerCall))
        print(String(format: "SIP RTP, Opus:           %5.1f ms CPU per call-second, %.2f MB per call", opus.cpuMsPerCallSecond, opus.mbPerCall))
        print(String(format: "LiveKit WebRTC (2 PCs):  %5.1f ms CPU per call-second, %.2f MB per call; offer → both DTLS up p50 %.0f ms, p95 %.0f ms",
                     webrtc.cpuMsPerCallSecond, webrtc.mbPerCall, webrtc.connectMsP50 ?? 0, webrtc.connectMsP95 ?? 0))
        func ratio(_ a: Phase, _ b: Phase) -> Double { a.cpuMsPerCallSecond / max(b.cpuMsPerCallSecond, 0.001) }
        print(String(format: "SRTP / RTP (G.711): CPU x%.2f, memory %+.2f MB per call", ratio(srtp, sip), srtp.mbPerCall - sip.mbPerCall))
        print(String(format: "WebRTC / RTP with the same codec (Opus): CPU x%.2f, memory %+.2f MB per call; WebRTC / G.711 RTP: CPU x%.2f, memory %+.2f MB per call",
                     ratio(webrtc, opus), webrtc.mbPerCall - opus.mbPerCall, ratio(webrtc, sip), webrtc.mbPerCall - sip.mbPerCall))
        print(String(format: "(%d calls held for %.0f s; a call's agent side is half of both ends)", calls, seconds))
    }

    /// Speech-like audio: a 140 Hz voice with harmonics, its loudness swinging at 4 Hz.
    static func voice(rate: Int) -> [AudioFrame] {
        let n = rate / 50
        return (0..<50).map { f in
            AudioFrame(sampleRate: rate, samples: (0..<n).map { i in
                let t = Double(f * n + i) / Double(rate)
                let envelope = 0.5 + 0.5 * sin(2 * .pi * 4 * t)
                let v = (1...8).reduce(0.0) { $0 + sin(2 * .pi * 140 * Double($1) * t) / Double($1) }
                return Int16(max(-32767, min(32767, v * 6000 * envelope)))
            })
        }
    }

    /// Calls set up and audio flowing: what to feed, what to drain, how to end them.
    struct Running {
        var senders: [@Sendable (AudioFrame) -> Void] = []
        var queued: [@Sendable () -> Int] = []
        var incoming: [AsyncStream<AudioFrame>] = []
        var connectMs: [Double] = []
        var stop: () -> Void = {}
    }

    /// Sets the calls up with `start`, keeps every sender two frames ahead and every receiver
    /// drained for `seconds`, and reports the process's cost with its idle rate taken off — halved,
    /// both ends being in the process.
    private func measure(_ transport: String, start: (Logger) async throws -> Running) async throws -> Phase {
        var logger = Logger(label: "siphon.bench")
        logger.logLevel = .critical
        let cost = ProcessCost(pid: getpid())
        try await cost.measureIdle(seconds: 0.5)
        let before = cost.rssKB
        cost.start()
        let running = try await start(logger)
        let received = Counter()
        let drains = running.incoming.map { stream in Task { for await _ in stream { received.add() } } }
        let frames = Self.voice(rate: 16000)
        let end = ContinuousClock.now + .seconds(seconds)
        var tick = 0
        while ContinuousClock.now < end {
            let talking = Double(tick % 250) < talk * 250
            for (i, send) in running.senders.enumerated() where talking && running.queued[i]() < 2 { send(frames[(tick + i) % frames.count]) }
            tick += 1
            try await Task.sleep(for: .milliseconds(20))
        }
        let rss = cost.rssKB
        let spent = cost.stop()
        running.stop()
        for d in drains { d.cancel() }
        let sorted = running.connectMs.sorted()
        return Phase(transport: transport, calls: calls,
                     cpuMsPerCallSecond: max(0, spent.cpuMs - spent.idleCPUMsPerSecond * spent.seconds) / 2 / (Double(calls) * seconds),
                     mbPerCall: Double(max(rss, spent.peakRSSKB) - before) / 1024 / 2 / Double(calls),
                     connectMsP50: sorted.isEmpty ? nil : sorted[sorted.count / 2],
                     connectMsP95: sorted.isEmpty ? nil : sorted[min(sorted.count - 1, sorted.count * 95 / 100)],
                     framesReceived: received.value)
    }

    static let transports = ["sip", "sip-srtp", "sip-opus", "webrtc"]

    /// With `srtp`, each pair is keyed as an SDES offer/answer would key it (SRTP's 80-bit tag).
    private func measureSIP(codec: String, srtp: Bool = false) async throws -> Phase {
        try await measure(codec == "PCMU" ? (srtp ? "sip-srtp" : "sip") : "sip-opus") { logger in
            var config = RTPSession.Configuration()
            config.bindHost = "127.0.0.1"
            var sessions: [RTPSession] = []
            for _ in 0..<calls {
                let a = RTPSession(configuration: config, logger: logger), b = RTPSession(configuration: config, logger: logger)
                let (pa, pb) = (try await a.open(), try await b.open())
                let pt: UInt8 = codec == "PCMU" ? 0 : 111
                let (ka, kb) = (SDESCrypto.generate(tag: 1, suite: .aes128SHA1_80).keyAndSalt, SDESCrypto.generate(tag: 1, suite: .aes128SHA1_80).keyAndSalt)
                let keys = { (local: [UInt8], remote: [UInt8]) in srtp ? SRTPParameters(profile: .aes128CMSHA1_80, local: local, remote: remote) : nil }
                try a.configure(RTPMediaParameters(codec: codec, payloadType: pt, dtmfPayloadType: 101, remoteHost: "127.0.0.1", remotePort: pb, srtp: keys(ka, kb)))
                try b.configure(RTPMediaParameters(codec: codec, payloadType: pt, dtmfPayloadType: 101, remoteHost: "127.0.0.1", remotePort: pa, srtp: keys(kb, ka)))
                sessions += [a, b]
            }
            let clocks = sessions.map { s in Task { await s.run() } }
            return Running(senders: sessions.map { s in { s.enqueue($0) } }, queued: sessions.map { s in { s.queuedFrames } },
                           incoming: sessions.map(\.incoming), stop: {
                               for s in sessions { s.stop() }
                               for c in clocks { c.cancel() }
                           })
        }
    }

    /// Per call, as LiveKit has it: the subscriber connection (the far end offers and sends, the
    /// agent answers and hears) and the publisher connection (the agent offers, with the data
    /// channel, and speaks).
    private func measureWebRTC() async throws -> Phase {
        try await measure("webrtc") { logger in
            var running = Running()
            var peers: [WebRTCPeer] = []
            for _ in 0..<calls {
                let started = ContinuousClock.now
                var agents: [WebRTCPeer] = []
                for agentSends in [false, true] {
                    var offering = WebRTCPeer.Configuration(role: .controlling)
                    offering.hostAddresses = ["127.0.0.1"]
                    var answering = WebRTCPeer.Configuration(role: .controlled)
                    answering.hostAddresses = ["127.0.0.1"]
                    let offerer = try await WebRTCPeer.start(offering, logger: logger), answerer = try await WebRTCPeer.start(answering, logger: logger)
                    if agentSends { offerer.openDataChannel("_reliable") }
                    try await answerer.setRemoteDescription(try await offerer.createOffer(audioDirection: .sendonly, dataChannel: agentSends), isOffer: true)
                    try await offerer.setRemoteDescription(try await answerer.createAnswer(audioDirection: .recvonly, dataChannel: agentSends), isOffer: false)
                    // The offerer sends in both: the far end on the subscriber connection, the agent on the publisher one.
                    running.senders.append { offerer.enqueue($0) }
                    running.queued.append { offerer.queuedFrames }
                    running.incoming.append(answerer.incoming)
                    agents.append(agentSends ? offerer : answerer)
                    peers += [offerer, answerer]
                }
                for agent in agents {
                    for await e in agent.events {
                        if case .connected = e { break }
                        if case .failed(let why) = e { throw CleanExit.message("a WebRTC connection failed: \(why)") }
                    }
                }
                running.connectMs.append(Double((ContinuousClock.now - started).wholeMilliseconds))
            }
            running.stop = { for p in peers { p.close() } }
            return running
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.withLock { n += 1 } }
        var value: Int { lock.withLock { n } }
    }
}
