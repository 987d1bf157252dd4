import ArgumentParser
import Foundation
import Logging
import SiphonCluster
import SiphonCore
import SiphonRedis

/// `siphon bench calls`: whole calls, as in the demo (the offline receptionist and `siphon caller`,
/// one barge-in per call), several at a time; percentiles of what the turns and the RTP statistics
/// recorded, and what the worker process spent per call (CPU, resident memory, idle subtracted).
/// The providers here are local (PocketSphinx's tail, eSpeak NG), so what is not provider time is
/// the framework's own: frame clocking, endpointing policy aside. `--transport livekit` places the
/// calls through the LiveKit server in LIVEKIT_URL (its SIP dials SIP_TRUNK_ADDRESS; with the
/// LiveKit stand-in of scripts/bench-livekit.sh, its phone speaks the caller's lines), with the
/// agent in the room over WebRTC.
struct BenchCallsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls", abstract: "Turn latency, barge-in reaction and per-call cost over whole calls (SIP or LiveKit).")

    @Option(help: "Calls to place.") var calls: Int = 6
    @Option(help: "Calls at once.") var concurrency: Int = 2
    @Option(help: "sip (the worker dials `siphon caller` processes) or livekit (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, SIP_TRUNK_ADDRESS, FROM_NUMBER).")
    var transport: String = "sip"
    @OptionGroup(title: "Common options (a Redis of its own is started unless --redis is given; $REDIS_URL is not read)")
    var common: CommonOptions
    @Option(help: "Directory for the processes' logs.") var out: String = "out/bench-calls"
    @Flag(help: "JSON output.") var json = false

    struct Percentiles: Encodable {
        var n: Int
        var p50: Double
        var p95: Double

        init(_ values: [Double]) {
            let v = values.sorted()
            n = v.count
            func at(_ q: Double) -> Double { v.isEmpty ? 0 : v[min(v.count - 1, Int((q * Double(v.count - 1)).rounded()))] }
            (p50, p95) = (at(0.5), at(0.95))
        }
    }

    struct Result: Encodable {
        var calls: Int
        var ended: Int
        var voiceToVoiceMs: Percentiles
        var frameworkMs: Percentiles
        var frameworkShareOfVoiceToVoice: Double
        var bargeInDetectMs: Percentiles
        var bargeInReactionFrames: Percentiles
        var transport: String
        /// LiveKit: join start → ICE and DTLS up on the subscriber connection.
        var connectMs: Percentiles
        var cost: ProcessCost.Figures

        enum CodingKeys: String, CodingKey {
            case calls, ended, voiceToVoiceMs = "voice_to_voice_ms", frameworkMs = "framework_ms"
            case frameworkShareOfVoiceToVoice = "framework_share_of_voice_to_voice"
            case bargeInDetectMs = "barge_in_detect_ms", bargeInReactionFrames = "barge_in_reaction_frames"
            case transport, connectMs = "webrtc_connect_ms", cost = "worker"
        }
    }

    func run() async throws {
        guard calls > 0, (1...16).contains(concurrency) else { throw ValidationError("--calls > 0 and --concurrency 1…16") }
        guard let kind = Transport(rawValue: transport), kind == .sip || kind == .livekit else { throw ValidationError("--transport: sip or livekit") }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var logger = Logger(label: "siphon.bench")
        logger.logLevel = .critical
        let processes = DemoProcesses(out: out)
        defer { processes.stopAll() }
        let (queue, store) = try await processes.cluster(common, logger: logger)
        let media = kind == .sip ? ["--sip-port", "0", "--bind", "127.0.0.1", "--sip-host", "127.0.0.1"] : ["--no-sip"]
        try processes.siphon("worker", ["worker", "--id", "bench-worker", "--capacity", String(concurrency), "--rtp-ports", "41000-42999",
                                        "--metrics-port", "0"] + media + common.childArguments(envFile: ""))
        try await waitUntil("the worker to register") { try await queue.liveWorkers().count >= 1 }
        // The worker's idle cost (heartbeats, metrics) is measured first and taken off.
        let cost = ProcessCost(pid: processes.pid(of: "worker") ?? 0)
        try await cost.measureIdle(seconds: 2)
        cost.start()

        var ids: [String] = []
        for batch in stride(from: 0, to: calls, by: concurrency) {
            var running: [String] = []
            for i in batch..<min(calls, batch + concurrency) {
                if kind == .livekit {
                    running.append(try await queue.enqueue(CallJob(agent: "offline-receptionist", to: PhoneNumber("+1555020\(String(format: "%04d", 100 + i))"),
                                                                   transport: .livekit)).id)
                    continue
                }
                let name = "caller-\(i)"
                try processes.siphon(name, ["caller", "--port", "0"] + DemoCommand.lines.flatMap { ["--line", $0] })
                let port = try await processes.waitForPort(of: name)
                let job = try CallJob(agent: "offline-receptionist", to: PhoneNumber("+15550200123"), transport: .sip,
                                      trunk: TrunkSpec(address: "127.0.0.1:\(port)"))
                running.append(try await queue.enqueue(job).id)
            }
            try await waitUntil("calls to end", seconds: 120) {
                for id in running where !(try await store.call(id)?.status.isTerminal ?? false) { return false }
                return true
            }
            ids += running
            if !json { print("calls \(ids.count)/\(calls) done") }
        }

        let spent = cost.stop()
        var v2v: [Double] = [], framework: [Double] = [], detect: [Double] = [], reaction: [Double] = [], connect: [Double] = []
        var ended = 0, callSeconds = 0.0
        for id in ids {
            let record = try await store.call(id)
            if record?.status == .ended { ended += 1 }
            if let r = record, let start = r.answeredAt ?? r.claimedAt, let end = r.endedAt { callSeconds += Double(end - start) / 1000 }
            if let c = try await store.context(id)["webrtc.connect_ms"].flatMap(Double.init) { connect.append(c) }
            for t in try await store.turns(id) where t.role == .agent {
                if let v = t.extra["latency.voice_to_voice_ms"].flatMap(Double.init) { v2v.append(v) }
                if let f = t.extra["latency.framework_ms"].flatMap(Double.init) { framework.append(f) }
                if let d = t.extra["barge_in.detect_ms"].flatMap(Double.init) { detect.append(d) }
            }
            let frames = try await store.context(id)["rtp.barge_in_reaction_frames"] ?? ""
            reaction += frames.split(separator: ",").compactMap { Double($0) }
        }
        let result = Result(calls: calls, ended: ended, voiceToVoiceMs: .init(v2v), frameworkMs: .init(framework),
                            frameworkShareOfVoiceToVoice: v2v.isEmpty ? 0 : ((framework.reduce(0, +) / v2v.reduce(0, +)) * 1000).rounded() / 1000,
                            bargeInDetectMs: .init(detect), bargeInReactionFrames: .init(reaction), transport: transport,
                            connectMs: .init(connect), cost: spent.figures(callSeconds: callSeconds, concurrency: concurrency))
        if json { printJSON(result); return }
        print("\(ended)/\(calls) \(transport) calls ended normally")
        print(String(format: "voice-to-voice: p50 %.0f ms, p95 %.0f ms over %d agent turns", result.voiceToVoiceMs.p50, result.voiceToVoiceMs.p95, v2v.count))
        print(String(format: "framework's own share: p50 %.0f ms, p95 %.0f ms (%.1f %% of voice-to-voice; the rest is STT tail, endpointing policy, LLM, TTS)",
                     result.frameworkMs.p50, result.frameworkMs.p95, result.frameworkShareOfVoiceToVoice * 100))
        print(String(format: "barge-in: detected p50 %.0f ms, p95 %.0f ms after the caller's speech onset (min_interruption 300 ms); line silent p50 %.0f, p95 %.0f frames after the decision (%d barge-ins)",
                     result.bargeInDetectMs.p50, result.bargeInDetectMs.p95, result.bargeInReactionFrames.p50, result.bargeInReactionFrames.p95, reaction.count))
        let c = result.cost
        print(String(format: "worker per call: %.1f %% of a core while it runs (%.0f ms CPU per call-second, idle taken off); +%.2f MB resident per concurrent call (peak %.1f MB, idle %.1f MB)",
                     c.cpuMsPerCallSecond / 10, c.cpuMsPerCallSecond, c.rssMBPerCall, c.peakRSSMB, c.idleRSSMB))
        if kind == .livekit {
            print(String(format: "WebRTC: join → ICE and DTLS up p50 %.0f ms, p95 %.0f ms", result.connectMs.p50, result.connectMs.p95))
        }
    }
}
