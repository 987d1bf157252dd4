import SiphonCore

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
    /// The rate frames come in at; the estimator works at 8 or 16 kHz, other rates are resampled
    /// to 16 kHz frame by frame (into `resampled`, allocation-free).
    public let sampleRate: Int
    private let resampler: Resampler?
    private var resampled: [Int16]
    private let minSpeechFrames: Int
    private let minSilenceFrames: Int
    private let prefixFrames: Int
    private var speaking = false
    private var run = 0
    /// With the tone guard, a start on a narrow-band frame waits one frame: a tone's first frame is
    /// only half a tone (narrow, but too short to be predicted as one), and if the next frame is a
    /// tone the start never happened. Speech rarely starts that narrow, so it rarely waits.
    private var pendingStart = false

    /// Rates the detector takes: the estimator's own 8 and 16 kHz, and every rate the resampler
    /// converts (a 24 or 48 kHz pipeline, a 44.1 kHz recording).
    public static func supports(sampleRate: Int) -> Bool { Resampler.supportedRates.contains(sampleRate) }

    /// For rates from outside (a WAV file): an unsupported one is an error, not a trap.
    public static func make(sampleRate: Int, configuration: VADConfiguration = VADConfiguration()) throws -> VoiceActivityDetector {
        guard supports(sampleRate: sampleRate) else {
            throw SiphonError.invalid("\(sampleRate) Hz audio: the VAD takes 8, 16, 22.05, 24, 44.1 or 48 kHz (convert it: sox in.wav -r 16000 out.wav)")
        }
        return VoiceActivityDetector(sampleRate: sampleRate, configuration: configuration)
    }

    /// `sampleRate` must be one `supports(sampleRate:)` accepts (`make` checks it for outside input).
    public init(sampleRate: Int, configuration: VADConfiguration = VADConfiguration()) {
        self.configuration = configuration
        self.sampleRate = sampleRate
        let native = sampleRate == 8000 || sampleRate == 16000
        resampler = native ? nil : try? Resampler(from: sampleRate, to: 16000)
        precondition(native || resampler != nil, "the VAD takes 8, 16, 22.05, 24, 44.1 or 48 kHz audio, not \(sampleRate) Hz")
        estimator = SpeechProbabilityEstimator(sampleRate: native ? sampleRate : 16000)
        resampled = Array(repeating: 0, count: native ? 0 : 320 + 32)
        estimator.energyFloorDB = configuration.energyFloorDB
        estimator.guardsTones = configuration.toneGuard
        estimator.followsSwells = configuration.followNoiseSwells
        minSpeechFrames = max(1, Int((configuration.minSpeechDuration * 50).rounded()))
        minSilenceFrames = max(1, Int((configuration.minSilenceDuration * 50).rounded()))
        prefixFrames = Int((configuration.prefixPadding * 50).rounded())
    }

    /// Samples per 20 ms frame at `sampleRate`.
    public var frameSamples: Int { sampleRate / 50 }
    public var isSpeech: Bool { speaking }

    public func reset() {
        estimator.reset()
        resampler?.reset()
        speaking = false
        run = 0
        pendingStart = false
    }

    public func process(_ samples: UnsafeBufferPointer<Int16>) -> Decision {
        let p: Double
        if let resampler {
            let n = resampled.withUnsafeMutableBufferPointer { resampler.process(samples, into: $0) }
            p = resampled.withUnsafeBufferPointer { estimator.process(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        } else {
            p = estimator.process(samples)
        }
        var event: Event?
        if pendingStart {
            pendingStart = false
            if estimator.lastFrameWasTone {
                run = 0
            } else {
                speaking = true
                event = .speechStarted(prefixFrames: prefixFrames + run)
                run = 0
            }
        } else if speaking {
            run = p < configuration.deactivationThreshold ? run + 1 : 0
            if run >= minSilenceFrames {
                speaking = false
                run = 0
                event = .speechEnded
            }
        } else {
            run = p >= configuration.activationThreshold && !estimator.creptUp ? run + 1 : 0
            if run >= minSpeechFrames, configuration.toneGuard, estimator.toneGuard.purity >= ToneGuard.minimumPurity {
                pendingStart = true
            } else if run >= minSpeechFrames {
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
