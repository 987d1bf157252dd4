/// Who answered an outbound call, from the first seconds of its audio: the cadence of speech and
/// silence (as Asterisk's app_amd times it, on Siphon's VAD rather than an amplitude threshold)
/// and tones (`ToneDetector`: a beep, fax CNG). Sans-IO: 20 ms frames in, one decision out.
///
/// Words are not used yet: a screener or an IVR menu sounds like a long greeting here (machine);
/// telling them apart needs the transcript (issue 16).
public final class AnswerClassifier {
    public enum Kind: String, Sendable, CaseIterable { case human, machine, fax, silence }

    public struct Decision: Sendable, Equatable {
        public var kind: Kind
        /// Why: `short greeting then silence`, `long greeting`, `beep`, `fax tone`, `no speech`, `timeout`.
        public var cause: String
        /// Milliseconds from the answer.
        public var atMs: Int
    }

    public struct Configuration: Sendable {
        /// No speech this long after the answer: an open line (app_amd: initial_silence 2500).
        public var initialSilenceMs = 3000
        /// Speech this long before a pause that ends it: a recorded greeting (app_amd: greeting 1500).
        public var longGreetingMs = 1800
        /// A pause this long after a short greeting: a person waiting for an answer (app_amd: 800).
        public var afterGreetingSilenceMs = 700
        /// Undecided this long after the answer: decide on what was heard.
        public var totalAnalysisMs = 5000
        public init() {}
    }

    public let configuration: Configuration
    private let vad: VoiceActivityDetector
    private let tones: ToneDetector
    private var elapsedMs = 0
    private var speechMs = 0
    private var silenceRunMs = 0
    private var heardSpeech = false
    public private(set) var decision: Decision?

    public init(sampleRate: Int, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        vad = VoiceActivityDetector(sampleRate: sampleRate)
        tones = ToneDetector(sampleRate: sampleRate)
    }

    /// One 20 ms frame; the decision once made (then the same decision for every later frame).
    @discardableResult
    public func process(_ frame: [Int16]) -> Decision? {
        if let decision { return decision }
        elapsedMs += 20
        let tone = tones.process(frame)
        let speech = vad.process(frame).isSpeech
        switch tone {
        case .ended(_, _, _, true)?:
            return decide(.fax, "fax tone")
        case .ended?:
            return decide(.machine, "beep")
        case .started(let f, _)? where abs(f - 1100) > 40:
            // A beep: a voicemail system inviting the message (people do not beep). A tone at
            // 1100 Hz may be fax CNG: its length decides, at its end.
            return decide(.machine, "beep")
        default:
            break
        }
        if speech {
            heardSpeech = true
            speechMs += 20
            silenceRunMs = 0
            if speechMs >= configuration.longGreetingMs { return decide(.machine, "long greeting") }
        } else {
            silenceRunMs += 20
            if !heardSpeech, elapsedMs >= configuration.initialSilenceMs { return decide(.silence, "no speech") }
            if heardSpeech, silenceRunMs >= configuration.afterGreetingSilenceMs { return decide(.human, "short greeting then silence") }
        }
        if elapsedMs >= configuration.totalAnalysisMs {
            return decide(heardSpeech ? .human : .silence, "timeout")
        }
        return nil
    }

    private func decide(_ kind: Kind, _ cause: String) -> Decision {
        let d = Decision(kind: kind, cause: cause, atMs: elapsedMs)
        decision = d
        return d
    }
}
