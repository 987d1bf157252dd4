import ArgumentParser
import Foundation
import Logging
import NIOCore
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonOffline
import SiphonRedis

/// `siphon bench capacity`: how many calls one worker holds while keeping every call's 20 ms clock.
/// Steps of N concurrent real SIP calls (the worker dials Siphon's load phones, `LoadPhones`: each
/// answers, says one line at 7 s, listens; all N hang up together once the last has been up 22 s),
/// N ramped until the worker misses its clock. Per step: calls completed, the worker's CPU and
/// resident memory per call, the worker's outbound inter-packet delta p50/p99/max on the wire, by
/// the kernel's arrival stamps at the phones (and p95 of each call's largest gap), caller frames
/// the worker dropped, enqueue → answer time; a step holds when p99 ≤ 25 ms and nothing was
/// dropped. Draws calls against CPU, memory and p99 as an SVG. `--transport livekit` places the
/// calls through the LiveKit server in LIVEKIT_URL instead (the agent in each call's room over
/// WebRTC; the phones are the server's SIP participants, which say what it gives them); the calls
/// are canceled through the API after `hold`, and the delta is read from a `tcpdump` capture of the
/// worker's outbound UDP, whose kernel stamps do not depend on the far end.
struct BenchCapacityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity", abstract: "Concurrent SIP (or LiveKit) calls one worker holds on its 20 ms clock: CPU, memory and packet timing per step, and a chart.")

    @Option(help: "Comma-separated numbers of concurrent calls, ramped in order.") var steps: String = "10,50,100"
    @Option(help: "sip (the worker dials Siphon's load phones) or livekit (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, SIP_TRUNK_ADDRESS, FROM_NUMBER; needs tcpdump).")
    var transport: String = "sip"
    @Option(help: "The agent the calls run (from --config, else the built-in offline receptionist).") var agent: String = "offline-receptionist"
    @Option(help: "Agent configuration for the worker (agent_config.yaml).") var config: String?
    @Option(help: "Seconds each call lasts (the phone hangs up).") var hold: Double = 22
    @Option(help: "Seconds after the answer the phone says its line.") var speakAt: Double = 7
    @Option(help: "Milliseconds between call arrivals.") var spacingMs: Int = 100
    @Option(help: "Another siphon binary to run the worker with (a before/after comparison).") var workerBinary: String?
    @Flag(help: "Run every step even after one missed the clock.") var allSteps = false
    @OptionGroup(title: "Common options (a Redis of its own is started unless --redis is given; $REDIS_URL is not read)")
    var common: CommonOptions
    @Option(help: "Directory for logs and the chart (capacity.svg).") var out: String = "out/bench-capacity"
    @Flag(help: "JSON output.") var json = false

    struct Step: Codable {
        var calls: Int
        var completed: Int
        var cpuPercentOfCore: Double
        var cpuMsPerCallSecond: Double
        var rssMBPerCall: Double
        var deltaP50Ms: Double
        var deltaP99Ms: Double
        var deltaMaxMs: Double
        /// p95 over calls of each call's largest inter-packet gap.
        var largestGapP95Ms: Double
        var framesDropped: Int
        var answerP50Ms: Double
        var answerP95Ms: Double
        var held: Bool

        enum CodingKeys: String, CodingKey {
            case calls, completed, cpuPercentOfCore = "cpu_percent_of_core", cpuMsPerCallSecond = "cpu_ms_per_call_second"
            case rssMBPerCall = "rss_mb_per_call", deltaP50Ms = "delta_p50_ms", deltaP99Ms = "delta_p99_ms", deltaMaxMs = "delta_max_ms"
            case largestGapP95Ms = "largest_gap_p95_ms", framesDropped = "frames_dropped", answerP50Ms = "answer_p50_ms", answerP95Ms = "answer_p95_ms", held
        }
    }

    struct Result: Codable {
        var agent: String
        var transport: String
        var steps: [Step]
        /// The largest N that held (nil: none did).
        var held: Int?
    }

    func run() async throws {
        let plan = steps.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !plan.isEmpty, plan.allSatisfy({ (1...2000).contains($0) }), hold > speakAt + 3, speakAt >= 1, spacingMs >= 0 else {
            throw ValidationError("--steps: numbers 1…2000; --hold must leave the line time to be said after --speak-at")
        }
        guard let kind = Transport(rawValue: transport), kind == .sip || kind == .livekit else { throw ValidationError("--transport: sip or livekit") }
        let livekit = kind == .livekit
        if livekit, ProcessInfo.processInfo.environment["LIVEKIT_URL"]?.isEmpty ?? true {
            throw ValidationError("--transport livekit: set LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, SIP_TRUNK_ADDRESS and FROM_NUMBER")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var logger = Logger(label: "siphon.bench")
        logger.logLevel = .critical
        let processes = DemoProcesses(out: out)
        defer { processes.stopAll() }
        let (queue, store) = try await processes.cluster(common, logger: logger)

        let phones = livekit ? nil : try await LoadPhones.start(hold: hold, speakAt: speakAt, line: try await Self.line(), logger: logger)
        defer { if let phones { Task { await phones.stop() } } }
        let capacity = (plan.max() ?? 1) + 10
        let ports = "20000-\(min(65000, 20000 + capacity * 4 + 200))"
        let media = livekit ? ["--no-sip"] : ["--sip-port", "0", "--bind", "127.0.0.1", "--sip-host", "127.0.0.1"]
        try processes.siphon("worker", ["worker", "--id", "capacity-worker", "--capacity", String(capacity), "--rtp-ports", ports, "--metrics-port", "0"] + media
                                       + (config.map { ["--config", $0] } ?? []) + common.childArguments(envFile: ""),
                             executable: workerBinary)
        try await waitUntil("the worker to register", seconds: 60) { try await queue.liveWorkers().count >= 1 }
        let cost = ProcessCost(pid: processes.pid(of: "worker") ?? 0)
        try await cost.measureIdle(seconds: 2)

        var results: [Step] = []
        for (index, n) in plan.enumerated() {
            _ = phones?.collect()
            // All N calls up together for at least --hold: they hang up at once after the last arrived.
            let lastsMs = Int64(n * spacingMs) + Int64(hold * 1000) + 2000
            phones?.hangUp(at: NIODeadline.now() + TimeAmount.milliseconds(lastsMs))
            let capture = livekit ? try await PacketCapture(file: "\(out)/step-\(n).pcap", log: "\(out)/tcpdump-\(n).log", ports: ports) : nil
            cost.start()
            var ids: [String] = []
            for i in 0..<n {
                // Numbers ending 1000–8999: LiveKit's stand-in gives some endings below a meaning (0000 rings out).
                let to = try PhoneNumber("+1555030\(1000 + (index * 2000 + i) % 8000)")
                let job = try phones.map { try CallJob(agent: agent, to: to, transport: .sip, trunk: TrunkSpec(address: "127.0.0.1:\($0.port)")) }
                    ?? CallJob(agent: agent, to: to, transport: .livekit)
                ids.append(try await queue.enqueue(job).id)
                if spacingMs > 0 { try await Task.sleep(for: .milliseconds(spacingMs)) }
            }
            if livekit {
                // LiveKit's phones do not hang up on cue: once every call is up (or over), each is
                // canceled after --hold, as an operator would.
                try await waitUntil("\(n) LiveKit calls to be answered", seconds: 120) {
                    for id in ids {
                        guard let r = try await store.call(id), r.answeredAt != nil || r.status.isTerminal else { return false }
                    }
                    return true
                }
                try await Task.sleep(for: .seconds(hold))
                for id in ids { _ = try await queue.cancel(id) }
            }
            try await waitUntil("\(n) calls to end", seconds: hold + Double(n * spacingMs) / 1000 + 120) {
                for id in ids where !(try await store.call(id)?.status.isTerminal ?? false) { return false }
                return true
            }
            let spent = cost.stop()
            try await Task.sleep(for: .milliseconds(300))  // the phones' last hang-ups
            let heard = try capture?.stop() ?? phones?.collect() ?? LoadPhones.Figures()
            var completed = 0, dropped = 0, answer: [Double] = [], callSeconds = 0.0
            for id in ids {
                guard let record = try await store.call(id) else { continue }
                // A LiveKit call held to the end is one canceled after its answer (or one its agent ended).
                if record.status == .ended || livekit && record.status == .canceled && record.answeredAt != nil { completed += 1 }
                if let a = record.answeredAt { answer.append(Double(a - record.createdAt)) }
                if let a = record.answeredAt, let e = record.endedAt { callSeconds += Double(e - a) / 1000 }
                dropped += Int(try await store.context(id)["rtp.frames_dropped"] ?? "") ?? 0
            }
            let deltas = heard.deltasMicros.sorted().map { Double($0) / 1000 }, gaps = heard.maxDeltaMs.sorted(), answers = answer.sorted()
            func pct(_ v: [Double], _ q: Double) -> Double { v.isEmpty ? 0 : v[min(v.count - 1, Int(q * Double(v.count - 1)))] }
            let busy = max(0, spent.cpuMs - spent.idleCPUMsPerSecond * spent.seconds)
            let p99 = pct(deltas, 0.99)
            let step = Step(calls: n, completed: completed, cpuPercentOfCore: spent.seconds > 0 ? busy / (spent.seconds * 10) : 0,
                            cpuMsPerCallSecond: busy / max(1, callSeconds),
                            rssMBPerCall: Double(max(0, spent.peakRSSKB - spent.idleRSSKB)) / 1024 / Double(n),
                            deltaP50Ms: pct(deltas, 0.5), deltaP99Ms: p99, deltaMaxMs: pct(deltas, 1), largestGapP95Ms: pct(gaps, 0.95),
                            framesDropped: dropped, answerP50Ms: pct(answers, 0.5), answerP95Ms: pct(answers, 0.95),
                            held: completed == n && p99 <= 25 && dropped == 0 && !deltas.isEmpty)
            results.append(step)
            if !json { print(Self.row(step)) }
            if !step.held && !allSteps { break }
        }
        let result = Result(agent: agent, transport: transport, steps: results, held: results.filter(\.held).map(\.calls).max())
        let chart = "\(out)/capacity.svg"
        try CapacityChart(title: "siphon bench capacity: \(agent)\(livekit ? " over LiveKit" : "")", steps: results).svg().write(toFile: chart, atomically: true, encoding: .utf8)
        if json { printJSON(result); return }
        print(result.held.map { "held: \($0) concurrent calls (p99 inter-packet delta ≤ 25 ms, no caller frame dropped)" } ?? "held: none of the steps")
        print("chart: \(chart)")
    }

    static func row(_ s: Step) -> String {
        String(format: "%4d calls: %d completed | worker %.0f %% of a core, %.1f ms CPU per call-second, %.2f MB per call | "
               + "outbound delta p50 %.1f, p99 %.1f, max %.0f ms (p95 of each call's largest gap %.0f ms) | %d caller frames dropped | answer p50 %.0f, p95 %.0f ms | %@",
               s.calls, s.completed, s.cpuPercentOfCore, s.cpuMsPerCallSecond, s.rssMBPerCall, s.deltaP50Ms, s.deltaP99Ms, s.deltaMaxMs,
               s.largestGapP95Ms, s.framesDropped, s.answerP50Ms, s.answerP95Ms, s.held ? "held" : "MISSED")
    }

    /// The phones' line, μ-law frames: what the offline receptionist's grammar expects first.
    static func line() async throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for try await f in try await EspeakTTS(sampleRate: 8000).synthesize("I would like to book a cleaning") {
            frames.append(f.samples.map(G711.ulawEncode))
        }
        return frames
    }
}
