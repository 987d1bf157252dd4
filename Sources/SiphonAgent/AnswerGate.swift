import SiphonAudio
import SiphonCore

/// Answering-machine detection's part of an outbound call: keeps the agent silent until it is
/// known who answered, then says what the conversation does — talk, leave a message after the
/// beep, announce the call to a screener and wait for the person, navigate a menu, or hang up.
/// Sans-IO and frame-clocked like `Conversation`, which owns the speaking and the hanging up.
final class AnswerGate {
    enum Action: Equatable {
        /// A person (or an open line, or no decision in time): the conversation starts as usual.
        case converse
        /// A menu to navigate: what it said stays the caller's first words, no greeting.
        case navigate
        /// Speak the message now; hang up after it unless the callee talks back.
        case leaveMessage(String)
        /// Speak the announcement now, then wait for the person (`announced()` when it has played).
        case announce(String)
        case hangup(String)
    }

    enum Phase: Equatable {
        case detecting
        /// A machine: waiting for the end of its greeting (its beep, or its silence) to leave the
        /// message or hang up.
        case awaitingGreetingEnd(sinceMs: Int)
        /// A screener to announce to: waiting for it to stop talking.
        case awaitingScreenerPause(sinceMs: Int)
        /// The announcement is playing.
        case announcing
        /// Announced to a screener: listening for the person to pick up.
        case awaitingPerson(sinceMs: Int)
        case done
    }

    let settings: AMDSettings
    let sampleRate: Int
    private var classifier: AnswerClassifier
    private(set) var phase = Phase.detecting
    /// The first decision (what is recorded on the call).
    private(set) var decision: AnswerClassifier.Decision?
    /// A cadence's "machine" that the greeting's words showed to be a screener, a menu or a person.
    private(set) var revision: AnswerClassifier.Decision?
    private(set) var elapsedMs = 0
    /// When the message was started, and why then (for the call's timeline).
    private(set) var greetingEnd: String?
    /// The greeting ended with its beep (not with silence: a beep may still come).
    private(set) var endedOnBeep = false
    /// How a greeting must end, without a beep, before the message: longer than its own pauses.
    static let greetingEndSilenceMs = 1500
    /// After an announcement, how long the screener and the person may take.
    static let personTimeoutMs = 45_000

    init(settings: AMDSettings, sampleRate: Int) {
        self.settings = settings
        self.sampleRate = sampleRate
        classifier = AnswerClassifier(sampleRate: sampleRate, configuration: Self.classifierConfiguration(settings))
    }

    /// A resumed call's gate, at the stage the call had reached (what was heard before is lost:
    /// the greeting's end, the screener's pause, the person are listened for afresh).
    convenience init(settings: AMDSettings, sampleRate: Int, resuming stage: AnswerStage) {
        self.init(settings: settings, sampleRate: sampleRate)
        switch stage {
        case .awaitingGreetingEnd: phase = .awaitingGreetingEnd(sinceMs: 0)
        case .awaitingScreenerPause: phase = .awaitingScreenerPause(sinceMs: 0)
        case .announcing: phase = .announcing
        case .awaitingPerson:
            phase = .announcing
            announced()
        case .detecting, .message, .messageLeft, .conversation: break
        }
    }

    /// A person decided by cadence alone or by a phrase as it was said, whose words may still show
    /// a recording (for the classifier's `recordingWatchMs`): "Hello? … leave a message after the beep".
    var isWatching: Bool { phase == .done && classifier.isWatching }

    /// One frame while `isWatching`, with the callee's words when they changed: the revision when
    /// they showed a recording after all, and what to do now (nil: follow the greeting to its end).
    func watch(_ frame: [Int16], words: String?) -> (revised: AnswerClassifier.Decision, action: Action?)? {
        elapsedMs += 20
        classifier.process(frame)
        guard let words else { return nil }
        classifier.heard(words, isFinal: false)
        guard let revised = classifier.revision else { return nil }
        revision = revised
        return (revised, act(revised, first: false))
    }

    /// The stage to keep in the call's context for the phase the gate is in (`.detecting` until
    /// decided; the conversation says what follows `.done`).
    var stage: AnswerStage? {
        switch phase {
        case .detecting: .detecting
        case .awaitingGreetingEnd: .awaitingGreetingEnd
        case .awaitingScreenerPause: .awaitingScreenerPause
        case .announcing: .announcing
        case .awaitingPerson: .awaitingPerson
        case .done: nil
        }
    }

    static func classifierConfiguration(_ s: AMDSettings) -> AnswerClassifier.Configuration {
        var c = AnswerClassifier.Configuration()
        c.initialSilenceMs = Int(s.initialSilence * 1000)
        c.longGreetingMs = Int(s.greeting * 1000)
        c.afterGreetingSilenceMs = Int(s.afterGreetingSilence * 1000)
        c.totalAnalysisMs = Int(s.timeout * 1000)
        return c
    }

    var isActive: Bool { phase != .done }

    /// What the recogniser has heard so far (while detecting or waiting for the person).
    func heard(_ words: String) -> Action? {
        switch phase {
        case .detecting:
            return classifier.heard(words, isFinal: false).flatMap(act)
        case .awaitingGreetingEnd:
            // The greeting's words may still show a screener, a menu or a person (`revision`).
            classifier.heard(words, isFinal: false)
            guard revision == nil, let revised = classifier.revision else { return nil }
            revision = revised
            return act(revised, first: false)
        case .awaitingPerson:
            // Only what was said since the classifier last started over.
            lastWords = words
            let fresh = words.hasPrefix(consumedWords) ? String(words.dropFirst(consumedWords.count)) : words
            return classifier.heard(fresh, isFinal: false).flatMap(afterAnnouncement)
        default:
            return nil
        }
    }

    /// Words the recogniser had given when the classifier last started over, and its latest.
    private var consumedWords = ""
    private var lastWords = ""

    /// One 20 ms caller frame (pipeline rate).
    func process(_ frame: [Int16]) -> Action? {
        elapsedMs += 20
        switch phase {
        case .detecting:
            return classifier.process(frame).flatMap(act)
        case .awaitingGreetingEnd(let since):
            let end = classifier.followGreeting(frame, silenceMs: Self.greetingEndSilenceMs)
            if end != nil || elapsedMs - since >= Int(settings.beepTimeout * 1000) {
                if case .beep? = end { endedOnBeep = true }
                greetingEnd = switch end {
                case .beep(let at)?: "after the beep (\(at) ms)"
                case .silence(let at)?: "after the greeting and its silence (\(at) ms)"
                case nil: "no beep within beep_timeout"
                }
                phase = .done
                guard settings.onMachine == .leaveMessage, let message = settings.message else { return .hangup("answering machine") }
                return .leaveMessage(message)
            }
            return nil
        case .awaitingScreenerPause(let since):
            let paused = classifier.followGreeting(frame, silenceMs: Int(settings.afterGreetingSilence * 1000)) != nil
            guard paused || elapsedMs - since >= Int(settings.beepTimeout * 1000) else { return nil }
            phase = .announcing
            return .announce(settings.announcement ?? "")
        case .awaitingPerson(let since):
            if elapsedMs - since >= Self.personTimeoutMs {
                phase = .done
                return .hangup("the call screener's person did not pick up")
            }
            return classifier.process(frame).flatMap(afterAnnouncement)
        case .announcing, .done:
            return nil
        }
    }

    /// The announcement has played: listen for the person.
    func announced() {
        guard phase == .announcing else { return }
        var c = Self.classifierConfiguration(settings)
        // Whoever speaks next (the person, or the screener again) gets all the time it needs.
        c.initialSilenceMs = Self.personTimeoutMs
        c.totalAnalysisMs = Self.personTimeoutMs
        classifier = AnswerClassifier(sampleRate: sampleRate, configuration: c)
        phase = .awaitingPerson(sinceMs: elapsedMs)
    }

    /// The first decision (`decision` records it), and what to do now; nil: keep waiting.
    private func act(_ d: AnswerClassifier.Decision) -> Action? { act(d, first: true) }

    /// What the gate will do about its decision (recorded with it).
    var plan: String {
        switch (decision?.kind, revision?.kind ?? decision?.kind) {
        case (nil, _): "detecting"
        case (_, .human?), (_, .silence?): "converse"
        case (_, .machine?): settings.onMachine.rawValue
        case (_, .screener?): settings.onScreener.rawValue
        case (_, .ivr?): settings.onIVR.rawValue
        case (_, .fax?), (_, nil): "hangup"
        }
    }

    private func act(_ d: AnswerClassifier.Decision, first: Bool) -> Action? {
        if first { decision = d }
        switch d.kind {
        case .human, .silence:
            phase = .done
            return .converse
        case .machine:
            if settings.onMachine == .hangup, d.cause != "long greeting" {
                phase = .done  // a beep or the greeting's own words: nothing left to learn
                return .hangup("answering machine")
            }
            // Silent until the greeting ends — with its beep (which may have ended already: the
            // next frame says so) or its silence — listening to its words meanwhile.
            phase = .awaitingGreetingEnd(sinceMs: elapsedMs)
            return nil
        case .screener:
            guard settings.onScreener == .announce else {
                phase = .done
                return .hangup("call screener")
            }
            // Announced once the screener has asked its question and paused.
            phase = .awaitingScreenerPause(sinceMs: elapsedMs)
            return nil
        case .ivr:
            phase = .done
            return settings.onIVR == .navigate ? .navigate : .hangup("phone menu")
        case .fax:
            phase = .done
            return .hangup("fax machine")
        }
    }

    /// A decision on whoever spoke after the announcement.
    private func afterAnnouncement(_ d: AnswerClassifier.Decision) -> Action? {
        switch d.kind {
        case .human:
            phase = .done
            return .converse
        case .machine where d.cause == "beep":
            // The screener sent the call to voicemail.
            phase = .done
            if settings.onMachine == .leaveMessage, let message = settings.message { return .leaveMessage(message) }
            return .hangup("answering machine after the call screener")
        case .silence:
            phase = .done
            return .hangup("the call screener's person did not pick up")
        default:
            // The screener talking again ("please stay on the line"): keep listening.
            let since = if case .awaitingPerson(let s) = phase { s } else { elapsedMs }
            var c = Self.classifierConfiguration(settings)
            c.initialSilenceMs = max(1000, Self.personTimeoutMs - (elapsedMs - since))
            c.totalAnalysisMs = c.initialSilenceMs
            classifier = AnswerClassifier(sampleRate: sampleRate, configuration: c)
            consumedWords = lastWords
            return nil
        }
    }
}
