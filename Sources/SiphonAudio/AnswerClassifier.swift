/// Who answered an outbound call, from the first seconds of its audio: the cadence of speech and
/// silence (as Asterisk's app_amd times it, on Siphon's VAD rather than an amplitude threshold),
/// tones (`ToneDetector`: a beep, fax CNG) and, when the recogniser has words, what was said
/// (`AnswerPhrases`: greeting, screener and menu phrases). Sans-IO: 20 ms frames and transcripts
/// in, one decision out.
public final class AnswerClassifier {
    public enum Kind: String, Sendable, CaseIterable, Codable { case human, machine, screener, ivr, fax, silence }

    public struct Decision: Sendable, Equatable {
        public var kind: Kind
        /// Why: `short greeting then silence`, `long greeting`, `beep`, `fax tone`, `no speech`,
        /// `timeout`, or `words: "…"` (the phrase that decided).
        public var cause: String
        /// 0…1: how sure the rule that decided is (words and tones are surer than cadence alone).
        public var confidence: Double
        /// Milliseconds from the answer.
        public var atMs: Int

        public init(kind: Kind, cause: String, confidence: Double, atMs: Int) {
            (self.kind, self.cause, self.confidence, self.atMs) = (kind, cause, confidence, atMs)
        }
    }

    public struct Configuration: Sendable, Equatable {
        /// No speech this long after the answer: an open line (app_amd: initial_silence 2500).
        public var initialSilenceMs = 3000
        /// Speech this long before a pause that ends it: a recorded greeting (app_amd: greeting 1500).
        public var longGreetingMs = 1800
        /// A pause this long after a short greeting: a person waiting for an answer (app_amd: 800;
        /// 600 scored the same on the tuning corpus but answers "Leave a message." and a beep
        /// 400 ms later with "human").
        public var afterGreetingSilenceMs = 700
        /// The same pause when the words were only "hello" (or "yeah", "hi"): longer than a greeting
        /// pauses after its opening "Hello," or "Hey," (up to 320 ms in the corpus's voices).
        public var afterBareAnswerSilenceMs = 450
        /// The same pause after a business's opening ("Thank you for calling Acme."): a menu or an
        /// office's voicemail pauses after it for up to 1.8 s in the corpus before going on, and a
        /// greeting followed after a "long greeting" decision is not over before this either.
        public var afterBusinessOpeningSilenceMs = 2000
        /// After a person decided by cadence alone (an answer and a pause, an open line), words only a
        /// recording says — a voicemail's, a menu's, a screener's — revise it for this long: "Hello?
        /// … Sorry I can't come to the phone, leave a message", a menu that pauses after its welcome.
        public var recordingWatchMs = 6000
        /// After a person decided by a phrase while they spoke ("Hi, who's calling?"), the pause that
        /// ends the watch on their words: by then the words said before it have come (the VAD's 100
        /// ms hang-over, a streaming recogniser's ~240 ms), so a recording that said the phrase is
        /// caught ("Hi, Mark speaking, leave a message") as when the decision waited for the pause,
        /// and a person's later words ("leave a message with my assistant") are a conversation's.
        public var personPhraseWatchSilenceMs = 400
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
    /// What the recogniser said so far: finals, and the latest interim after them.
    private var finals = ""
    private var interim = ""
    /// Whether the words so far are only what people say picking up ("hello?").
    private var bareAnswer = false
    /// Whether the words so far open as a business answers ("thank you for calling").
    private var businessOpening = false
    public private(set) var decision: Decision?
    /// A "long greeting" decision that the words showed to be a screener, a menu or a person
    /// before the greeting ended (`followGreeting`): a recogniser without interim results has
    /// the words only after the first pause, when the cadence has long decided.
    public private(set) var revision: Decision?
    private var greetingOver = false
    /// A beep has sounded and stopped (what a voicemail message waits for).
    private var beepEnded = false

    public init(sampleRate: Int, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        vad = VoiceActivityDetector(sampleRate: sampleRate)
        tones = ToneDetector(sampleRate: sampleRate)
    }

    /// The words heard so far (finals, then the current interim).
    public var words: String { (finals + " " + interim).trimmingCharacters(in: .whitespaces) }

    /// A transcript from the call's recogniser. A greeting, screener or menu phrase decides at once;
    /// after a "long greeting", a screener's, menu's or person's phrase revises it. Returns the
    /// decision as it stands (the revision if any).
    @discardableResult
    public func heard(_ text: String, isFinal: Bool) -> Decision? {
        if let decision, isWatching {
            take(text, isFinal: isFinal)
            if let (kind, phrase) = AnswerPhrases.recordingPhrase(words) {
                revision = Decision(kind: kind, cause: "words after it: \"\(phrase)\"", confidence: 0.9, atMs: elapsedMs)
                silenceRunMs = 0  // a greeting followed from here ends on a silence of its own
            }
            return revision ?? decision
        }
        if let decision, decision.cause != "long greeting" || revision != nil || greetingOver { return revision ?? decision }
        take(text, isFinal: isFinal)
        bareAnswer = AnswerPhrases.isBareAnswer(words)
        businessOpening = AnswerPhrases.opensAsABusiness(words)
        // Words are speech, even when it was too short or too early for the VAD (an "Allô ?" of
        // 300 ms at the answer): the pause after them counts from now on, not "no speech".
        if !words.isEmpty, !heardSpeech {
            heardSpeech = true
            silenceRunMs = 0
        }
        if let decision {
            switch AnswerPhrases.match(words) {
            case (let kind, let phrase)? where kind != .machine:
                revision = Decision(kind: kind, cause: "words: \"\(phrase)\"", confidence: 0.95, atMs: elapsedMs)
            case nil where AnswerPhrases.soundsLikeAPerson(words):
                revision = Decision(kind: .human, cause: "words: a person's", confidence: 0.85, atMs: elapsedMs)
            default:
                break
            }
            return revision ?? decision
        }
        switch AnswerPhrases.match(words) {
        case (.machine, let phrase)?: return decide(.machine, "words: \"\(phrase)\"", 0.95)
        case (.screener, let phrase)?: return decide(.screener, "words: \"\(phrase)\"", 0.95)
        case (.ivr, let phrase)?: return decide(.ivr, "words: \"\(phrase)\"", 0.95)
        case nil where AnswerPhrases.opensLikeAPerson(words):
            // "Yes?", "Yeah, this is Ann": no recording starts so. Decided while they may still be
            // talking (and watched, as a phrase is, until they pause); when to speak is the
            // conversation's turn-taking, not this.
            return decide(.human, "words: a person's answer", 0.85)
        case nil:
            // "Good morning, Acme Dental…", "Hi, who's calling?", "… how can I help?": decided as
            // the phrase is said, not after the pause that ends it. A recording that says one
            // ("Hi, Mark speaking, leave a message") shows itself by its own phrases before it
            // pauses, which the watch that follows the decision takes it back on (`isWatching`).
            guard let phrase = AnswerPhrases.personPhrase(words) else { return nil }
            return decide(.human, "words: \"\(phrase)\"", 0.85)
        default: return nil
        }
    }

    private func take(_ text: String, isFinal: Bool) {
        let normalized = AnswerPhrases.normalize(text)
        if isFinal {
            finals = (finals + " " + normalized).trimmingCharacters(in: .whitespaces)
            interim = ""
        } else {
            interim = normalized
        }
    }

    /// The cadence's person decisions: no word said it was one.
    private static let cadenceCauses: Set<String> = ["short greeting then silence", "a hello then silence", "timeout", "no speech"]

    /// How a person decision is watched for a recording's words, worked out once when it is made
    /// (`isWatching` is asked every frame of the call).
    private enum Watch {
        /// Decided by cadence alone: for `recordingWatchMs`.
        case cadence
        /// Decided by their words as they said them: until the pause after them.
        case words
    }

    private var watch: Watch?

    /// A person (or an open line) decided by cadence alone, within `recordingWatchMs` of it, or by
    /// their words as they were said (an opening "yes", a person's phrase), until the pause after
    /// them (`personPhraseWatchSilenceMs`); not yet revised: their words may still show a
    /// recording (`heard`; `process` keeps the time).
    public var isWatching: Bool {
        guard let watch, let decision, revision == nil else { return false }
        switch watch {
        case .words: return !phraseHeardOut
        case .cadence: return elapsedMs - decision.atMs < configuration.recordingWatchMs
        }
    }

    /// A person decided by their words has paused after them (`personPhraseWatchSilenceMs`).
    private var phraseHeardOut = false

    /// One 20 ms frame; the decision once made (then the same decision for every later frame).
    @discardableResult
    public func process(_ frame: [Int16]) -> Decision? {
        if let decision {
            guard isWatching else { return decision }
            elapsedMs += 20
            if watch == .words {
                if vad.process(frame).isSpeech {
                    silenceRunMs = 0
                } else {
                    silenceRunMs += 20
                    phraseHeardOut = silenceRunMs >= configuration.personPhraseWatchSilenceMs
                }
            }
            return decision
        }
        elapsedMs += 20
        let tone = tones.process(frame)
        let speech = vad.process(frame).isSpeech
        switch tone {
        case .ended(_, _, _, true)?:
            return decide(.fax, "fax tone", 0.95)
        case .ended?:
            beepEnded = true
            return decide(.machine, "beep", 0.9)
        case .started(let f, _)? where abs(f - 1100) > 40:
            // A beep: a voicemail system inviting the message (people do not beep). A tone at
            // 1100 Hz may be fax CNG: its length decides, at its end.
            return decide(.machine, "beep", 0.9)
        default:
            break
        }
        if speech {
            heardSpeech = true
            speechMs += 20
            silenceRunMs = 0
            if speechMs >= configuration.longGreetingMs {
                return decide(.machine, "long greeting", 0.7)
            }
        } else {
            silenceRunMs += 20
            if !heardSpeech, elapsedMs >= configuration.initialSilenceMs { return decide(.silence, "no speech", 0.8) }
            if heardSpeech, bareAnswer, silenceRunMs >= min(configuration.afterBareAnswerSilenceMs, configuration.afterGreetingSilenceMs) {
                return decide(.human, "a hello then silence", 0.8)
            }
            let afterGreeting = businessOpening ? configuration.afterBusinessOpeningSilenceMs : configuration.afterGreetingSilenceMs
            if heardSpeech, silenceRunMs >= afterGreeting {
                return decide(.human, "short greeting then silence", 0.75)
            }
        }
        if elapsedMs >= configuration.totalAnalysisMs {
            return decide(heardSpeech ? .human : .silence, "timeout", 0.5)
        }
        return nil
    }

    /// How a recorded greeting ended: its beep stopped, or it fell silent.
    public enum GreetingEnd: Sendable, Equatable {
        case beep(atMs: Int)
        case silence(atMs: Int)
    }

    /// After a "machine" decision, follows the greeting to its end: the end of a beep, or — when
    /// none comes — `silenceMs` without speech after it (a greeting's own pauses are shorter; after
    /// a business's opening, at least `afterBusinessOpeningSilenceMs`).
    public func followGreeting(_ frame: [Int16], silenceMs: Int) -> GreetingEnd? {
        let end = greetingEnd(frame, silenceMs: businessOpening ? max(silenceMs, configuration.afterBusinessOpeningSilenceMs) : silenceMs)
        if end != nil { greetingOver = true }
        return end
    }

    private func greetingEnd(_ frame: [Int16], silenceMs: Int) -> GreetingEnd? {
        if beepEnded { return .beep(atMs: elapsedMs) }
        elapsedMs += 20
        switch tones.process(frame) {
        case .ended?:
            beepEnded = true
            return .beep(atMs: elapsedMs)
        case .started?:
            silenceRunMs = 0
            return nil
        case nil:
            break
        }
        if vad.process(frame).isSpeech {
            silenceRunMs = 0
        } else {
            silenceRunMs += 20
            if silenceRunMs >= silenceMs { return .silence(atMs: elapsedMs) }
        }
        return nil
    }

    private func decide(_ kind: Kind, _ cause: String, _ confidence: Double) -> Decision {
        let d = Decision(kind: kind, cause: cause, confidence: confidence, atMs: elapsedMs)
        decision = d
        if kind == .human, cause.hasPrefix("words: ") {
            watch = .words
        } else if [.human, .silence].contains(kind), Self.cadenceCauses.contains(cause) {
            watch = .cadence
        }
        return d
    }
}
