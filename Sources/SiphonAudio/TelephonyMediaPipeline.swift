/// One call's per-frame audio work on a G.711 line, allocation-free once built:
///
///     inbound:  G.711 payload → decode → VAD (8 kHz) → resample to the pipeline rate (STT input)
///     outbound: pipeline-rate PCM (TTS output) → resample to 8 kHz → G.711 payload
///
/// The buffers are owned here and reused every frame; results are valid until the next call.
public final class TelephonyMediaPipeline {
    public let law: G711.Law
    public let pipelineRate: Int
    public let vad: VoiceActivityDetector
    private let up: Resampler
    private let down: Resampler
    private var line: [Int16]
    private var wide: [Int16]
    private var narrow: [Int16]

    public init(law: G711.Law = .ulaw, pipelineRate: Int = 16000, vad configuration: VADConfiguration = VADConfiguration()) throws {
        self.law = law
        self.pipelineRate = pipelineRate
        vad = VoiceActivityDetector(sampleRate: 8000, configuration: configuration)
        up = try Resampler(from: 8000, to: pipelineRate)
        down = try Resampler(from: pipelineRate, to: 8000)
        line = Array(repeating: 0, count: 160)
        wide = Array(repeating: 0, count: pipelineRate / 50 + 8)
        narrow = Array(repeating: 0, count: 168)
    }

    /// The last inbound frame at 8 kHz (what the VAD and DTMF detector saw).
    public var lineFrame: UnsafeBufferPointer<Int16> { line.withUnsafeBufferPointer { $0 } }

    /// Decodes one 20 ms payload (160 bytes), runs the VAD and resamples for STT.
    /// `body` receives the pipeline-rate frame and the VAD decision.
    public func inbound<R>(_ payload: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<Int16>, VoiceActivityDetector.Decision) -> R) -> R {
        line.withUnsafeMutableBufferPointer { l in
            G711.decode(law, UnsafeBufferPointer(rebasing: payload.prefix(160)), into: l)
            let decision = vad.process(UnsafeBufferPointer(l))
            return wide.withUnsafeMutableBufferPointer { w in
                let n = up.process(UnsafeBufferPointer(l), into: w)
                return body(UnsafeBufferPointer(rebasing: w[0..<n]), decision)
            }
        }
    }

    /// Resamples one 20 ms frame of agent audio to 8 kHz and encodes it into `payload` (160 bytes).
    public func outbound(_ pcm: UnsafeBufferPointer<Int16>, into payload: UnsafeMutableBufferPointer<UInt8>) {
        narrow.withUnsafeMutableBufferPointer { n in
            let count = down.process(pcm, into: n)
            G711.encode(law, UnsafeBufferPointer(rebasing: n[0..<count]), into: payload)
            if count < 160 { for i in count..<160 { payload[i] = law.silence } }
        }
    }
}
