import ArgumentParser
import Foundation
import SiphonAudio

/// `siphon bench media`: one call's full per-frame audio work (both directions), timed over many
/// calls on one core, with allocations counted when the malloc interposer is preloaded
/// (`scripts/bench-media.sh` does that) and CPython's audioop doing comparable work as the baseline.
struct BenchMediaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Per-frame media cost: G.711 decode, VAD, 8→16 kHz and 16→8 kHz resampling, G.711 encode.")

    @Option(help: "Calls processed side by side.") var calls: Int = 200
    @Option(help: "Seconds of audio per call.") var seconds: Int = 10
    @Option(help: "Pipeline (STT/TTS) sample rate.") var pipelineRate: Int = 16000
    @Flag(help: "Skip the audioop baseline.") var noBaseline = false
    @Flag(help: "JSON output.") var json = false

    struct Result: Encodable {
        var calls: Int
        var framesPerCall: Int
        var usPerCallFrame: Double
        var realtimeCallsPerCore: Double
        var allocationsPerCallFrame: Double?
        var audioopUsPerFrame: Double?
        var ratioToAudioop: Double?
        var baselineNote: String

        enum CodingKeys: String, CodingKey {
            case calls, framesPerCall = "frames_per_call", usPerCallFrame = "us_per_call_frame"
            case realtimeCallsPerCore = "realtime_calls_per_core", allocationsPerCallFrame = "allocations_per_call_frame"
            case audioopUsPerFrame = "audioop_us_per_frame", ratioToAudioop = "ratio_to_audioop", baselineNote = "baseline"
        }
    }

    func run() async throws {
        guard calls > 0, seconds > 0 else { throw ValidationError("--calls and --seconds must be positive") }
        let pipelines = try (0..<calls).map { _ in try TelephonyMediaPipeline(pipelineRate: pipelineRate) }
        let (inbound, outbound) = Self.testAudio(pipelineRate: pipelineRate)
        let frames = seconds * 50
        let wide = pipelineRate / 50
        var payload = [UInt8](repeating: 0, count: 160)
        var sink = 0

        func pass(_ frameRange: Range<Int>) {
            inbound.withUnsafeBufferPointer { inb in
                outbound.withUnsafeBufferPointer { outb in
                    payload.withUnsafeMutableBufferPointer { out in
                        for f in frameRange {
                            let i = (f % 50) * 160, o = (f % 50) * wide
                            let inFrame = UnsafeBufferPointer(rebasing: inb[i..<i + 160])
                            let outFrame = UnsafeBufferPointer(rebasing: outb[o..<o + wide])
                            for p in pipelines {
                                sink &+= p.inbound(inFrame) { pcm, decision in Int(pcm[0]) &+ (decision.isSpeech ? 1 : 0) }
                                p.outbound(outFrame, into: out)
                                sink &+= Int(out[0])
                            }
                        }
                    }
                }
            }
        }

        pass(0..<50)  // warm up: buffers sized, tables built
        var counter = AllocationCounter()
        if let c = counter, !c.verify() { counter = nil }
        counter?.start()
        let start = DispatchTime.now().uptimeNanoseconds
        pass(0..<frames)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        let allocations = counter?.stop()
        let callFrames = Double(calls * frames)
        let perFrame = elapsed / callFrames
        var result = Result(
            calls: calls, framesPerCall: frames, usPerCallFrame: (perFrame * 1000).rounded() / 1000,
            realtimeCallsPerCore: (20_000 / perFrame).rounded(), allocationsPerCallFrame: allocations.map { Double($0) / callFrames },
            baselineNote: "audioop: ulaw2lin + ratecv 8→\(pipelineRate / 1000)k + ratecv \(pipelineRate / 1000)→8k + lin2ulaw per frame (no VAD)")
        if !noBaseline, let baseline = Self.audioopBaseline(pipelineRate: pipelineRate, frames: 5000) {
            result.audioopUsPerFrame = (baseline * 1000).rounded() / 1000
            result.ratioToAudioop = (perFrame / baseline * 1000).rounded() / 1000
        }
        if sink == 42 { print("") }  // keep the work observable
        if json { printJSON(result); return }
        print(String(format: "%d calls × %d frames: %.3f µs per call-frame → %.0f real-time calls per core", calls, frames, perFrame, 20_000 / perFrame))
        if let a = result.allocationsPerCallFrame { print(String(format: "allocations per call-frame in steady state: %.4f", a)) } else {
            print("allocations: not counted (run through scripts/bench-media.sh, which preloads the malloc interposer)")
        }
        if let b = result.audioopUsPerFrame, let r = result.ratioToAudioop {
            print(String(format: "audioop baseline: %.3f µs per frame (%@); ratio %.3f", b, result.baselineNote, r))
        }
    }

    /// One second of looped test audio: a voiced buzz with pauses plus noise, as G.711 payload
    /// inbound and as pipeline-rate PCM outbound.
    static func testAudio(pipelineRate: Int) -> ([UInt8], [Int16]) {
        func signal(_ rate: Int) -> [Int16] {
            (0..<rate).map { i in
                let t = Double(i) / Double(rate)
                let voiced = (Int(t * 4) % 2 == 0) ? (1...6).reduce(0.0) { $0 + sin(2 * .pi * 130 * Double($1) * t) / Double($1) } * 4000 : 0
                let noise = Double((i &* 1_103_515_245 &+ 12345) % 601) - 300
                return Int16(voiced + noise)
            }
        }
        return (signal(8000).map(G711.ulawEncode), signal(pipelineRate))
    }

    /// The same conversions with CPython's audioop (C code), per 20 ms frame, in µs.
    static func audioopBaseline(pipelineRate: Int, frames: Int) -> Double? {
        let script = """
            import audioop, math, time, warnings
            warnings.simplefilter('ignore')
            rate = \(pipelineRate)
            frame = audioop.lin2ulaw(bytes(320), 2)
            tts = bytes(rate // 50 * 2)
            up = down = None
            n = \(frames)
            t0 = time.perf_counter()
            for _ in range(n):
                pcm = audioop.ulaw2lin(frame, 2)
                wide, up = audioop.ratecv(pcm, 2, 1, 8000, rate, up)
                narrow, down = audioop.ratecv(tts, 2, 1, rate, 8000, down)
                out = audioop.lin2ulaw(narrow, 2)
            print((time.perf_counter() - t0) / n * 1e6)
            """
        return PythonBaseline.measure(script)
    }
}

/// Counts heap allocations through ordo-one's malloc interposer when it is preloaded
/// (LD_PRELOAD=libMallocInterposerSwift.so); nil otherwise. Looked up with dlsym so the siphon
/// binary itself never carries the interposer.
struct AllocationCounter {
    private typealias Toggle = @convention(c) () -> Void
    private typealias Stats = @convention(c) (
        UnsafeMutablePointer<Int64>?, UnsafeMutablePointer<Int64>?, UnsafeMutablePointer<Int64>?,
        UnsafeMutablePointer<Int64>?, UnsafeMutablePointer<Int64>?, UnsafeMutablePointer<Int64>?) -> Void
    private let enable: Toggle
    private let disable: Toggle
    private let reset: Toggle
    private let stats: Stats

    init?() {
        let handle = dlopen(nil, RTLD_NOW)
        guard let e = dlsym(handle, "malloc_interposer_enable"), let d = dlsym(handle, "malloc_interposer_disable"),
              let r = dlsym(handle, "malloc_interposer_reset"), let s = dlsym(handle, "malloc_interposer_get_stats") else { return nil }
        enable = unsafeBitCast(e, to: Toggle.self)
        disable = unsafeBitCast(d, to: Toggle.self)
        reset = unsafeBitCast(r, to: Toggle.self)
        stats = unsafeBitCast(s, to: Stats.self)
    }

    func start() {
        reset()
        enable()
    }

    /// Proves the counter sees this thread's allocations (so a 0 later means none were made).
    func verify() -> Bool {
        start()
        var keep = 0
        for i in 0..<100 { keep &+= [Int](repeating: i, count: 64 + i).count }
        let n = stop()
        return n >= 100 && keep > 0
    }

    /// Stops counting and returns the allocations made since `start`.
    func stop() -> Int64 {
        disable()
        var count: Int64 = 0, bytes: Int64 = 0, small: Int64 = 0, large: Int64 = 0, frees: Int64 = 0, freed: Int64 = 0
        stats(&count, &bytes, &small, &large, &frees, &freed)
        return count
    }
}
