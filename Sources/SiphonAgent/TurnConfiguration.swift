import Foundation
import SiphonAudio
import SiphonCore

/// Turn-taking knobs (`turn:` in agent configuration). Durations in seconds.
public struct TurnConfiguration: Sendable, Equatable, Codable {
    /// Silence after the caller stops before the turn may end (with a final transcript).
    public var minEndpointingDelay: Double = 0.2
    /// The longest to wait for a final transcript after the caller stops; then the turn ends with
    /// whatever was heard.
    public var maxEndpointingDelay: Double = 0.8
    /// The caller must talk this long over the agent to interrupt it.
    public var minInterruption: Double = 0.3
    public var allowInterruptions = true
    /// After an interruption without any words (a cough, a door), the agent resumes after this long.
    public var falseInterruptionTimeout: Double = 1.5
    /// Caller silence after the agent finished before it checks in; a second one ends the call.
    public var silenceTimeout: Double = 15
    public var maxCallDuration: Double = 1800
    /// How the end of the caller's turn is found (`EndpointingPolicy`).
    public var endpointing: Endpointing = .semantic
    /// Acknowledgements that neither stop the agent nor take the turn (`InterruptionPolicy`); empty: off.
    public var backchannels: [String] = BackchannelLexicon.builtIn["en"]!
    /// A caller's speech over the agent longer than this is an interruption whatever its words.
    public var backchannelMaxDuration: Double = 1.0
    /// When the model's first words or a tool take longer than this, the agent says a filler; 0: never.
    public var fillerDelay: Double = 1.5
    /// Fillers, said in turn.
    public var fillers: [String] = ["One moment.", "Let me check that.", "Just a second."]
    /// A sound played instead of the spoken fillers (`filler_sound:`, a WAV file read at load).
    public var fillerSound: FillerSound?

    /// A short recording (keyboard clicks, a soft chime): at most 5 s, any rate the resampler takes.
    public struct FillerSound: Sendable, Equatable, Codable {
        public var path: String
        public var sampleRate: Int
        public var samples: [Int16]

        public static let maxSeconds = 5.0

        /// Reads and checks the file; errors say what is wrong with it.
        public static func load(_ path: String) throws -> FillerSound {
            let wav = try WAVFile.read(path)
            guard Resampler.supportedRates.contains(wav.sampleRate) else {
                throw SiphonError.invalid("\(wav.sampleRate) Hz: use 8, 16, 22.05, 24, 44.1 or 48 kHz")
            }
            guard !wav.samples.isEmpty, wav.duration <= maxSeconds else {
                throw SiphonError.invalid(String(format: "%.1f s long: a filler sound is at most %.0f s", wav.duration, maxSeconds))
            }
            return FillerSound(path: path, sampleRate: wav.sampleRate, samples: wav.samples)
        }
    }

    public enum Endpointing: String, Sendable, Codable, CaseIterable {
        /// The words decide between the two delays (mid-thought, short answers).
        case semantic
        /// A final transcript and silence only.
        case silence
    }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case minEndpointingDelay = "min_endpointing_delay", maxEndpointingDelay = "max_endpointing_delay"
        case minInterruption = "min_interruption", allowInterruptions = "allow_interruptions"
        case falseInterruptionTimeout = "false_interruption_timeout", silenceTimeout = "silence_timeout"
        case maxCallDuration = "max_call_duration"
        case endpointing, backchannels, backchannelMaxDuration = "backchannel_max_duration"
        case fillerDelay = "filler_delay", fillers, fillerSound = "filler_sound"
    }

    public func validate() -> [String] {
        var p: [String] = []
        if !(0...5).contains(minEndpointingDelay) { p.append("min_endpointing_delay must be 0 to 5 seconds") }
        if !(minEndpointingDelay...10).contains(maxEndpointingDelay) { p.append("max_endpointing_delay must be at least min_endpointing_delay and at most 10") }
        if !(0.02...5).contains(minInterruption) { p.append("min_interruption must be 0.02 to 5 seconds") }
        if !(0.1...30).contains(falseInterruptionTimeout) { p.append("false_interruption_timeout must be 0.1 to 30 seconds") }
        if !(1...3600).contains(silenceTimeout) { p.append("silence_timeout must be 1 to 3600 seconds") }
        if !(1...86_400).contains(maxCallDuration) { p.append("max_call_duration must be 1 to 86400 seconds") }
        if !(minInterruption...10).contains(backchannelMaxDuration) { p.append("backchannel_max_duration must be at least min_interruption and at most 10 seconds") }
        if !(0...30).contains(fillerDelay) { p.append("filler_delay must be 0 to 30 seconds") }
        if fillerDelay > 0, fillerSound == nil, fillers.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            p.append("fillers must have a phrase (or filler_sound a file) when filler_delay is set")
        }
        if backchannels.contains(where: { BackchannelLexicon.normalise($0).split(separator: " ").count > 3 }) { p.append("backchannels are phrases of one to three words") }
        return p
    }
}
