/// Voice activity for one direction of a call: speech probability per 20 ms frame (see
/// `SpeechProbabilityEstimator`) turned into speech segments by a state machine with activation
/// threshold, minimum speech and silence durations, hysteresis and prefix padding.
public final class VoiceActivityDetector {
    public enum Event: Equatable, Sendable {
        /// Speech confirmed; `prefixFrames` frames before this one belong to it (padding + confirmation).
        case speechStarted(prefixFrames: Int)
        case speechEnded
    }

    public struct Decision: Equatable, Sendable {
        public var probability: Double
        /// The state after this frame: inside a speech segment.
        public var isSpeech: Bool
        public var event: Event?
    }

    public let configuration: VADConfiguration
    public let estimator: SpeechProbabilityEstimator
    private let minSpeechFrames: Int
    private let minSilenceFrames: Int
    private let prefixFrames: Int
    private var speaking = false
    private var run = 0

    public init(sampleRate: Int, configuration: VADConfiguration = VADConfiguration()) {
        self.configuration = configuration
        estimator = SpeechProbabilityEstimator(sampleRate: sampleRate)
        estimator.energyFloorDB = configuration.energyFloorDB
        minSpeechFrames = max(1, Int((configuration.minSpeechDuration * 50).rounded()))
        minSilenceFrames = max(1, Int((configuration.minSilenceDuration * 50).rounded()))
        prefixFrames = Int((configuration.prefixPadding * 50).rounded())
    }

    public var sampleRate: Int { estimator.sampleRate }
    public var frameSamples: Int { estimator.frameSamples }
    public var isSpeech: Bool { speaking }

    public func reset() {
        estimator.reset()
        speaking = false
        run = 0
    }

    public func process(_ samples: UnsafeBufferPointer<Int16>) -> Decision {
        let p = estimator.process(samples)
        var event: Event?
        if speaking {
            run = p < configuration.deactivationThreshold ? run + 1 : 0
            if run >= minSilenceFrames {
                speaking = false
                run = 0
                event = .speechEnded
            }
        } else {
            run = p >= configuration.activationThreshold ? run + 1 : 0
            if run >= minSpeechFrames {
                speaking = true
                event = .speechStarted(prefixFrames: prefixFrames + run - 1)
                run = 0
            }
        }
        return Decision(probability: p, isSpeech: speaking, event: event)
    }

    public func process(_ samples: [Int16]) -> Decision {
        samples.withUnsafeBufferPointer { process($0) }
    }
}
