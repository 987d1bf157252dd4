/// Whether the caller talking over the agent is an interruption or a backchannel ("uh-huh",
/// "yeah"), one frame at a time.
///
/// The caller's voice (frames the echo guard admits) is counted over their speech segment; at
/// `min_interruption` the words the recogniser has of the segment decide: anything outside the
/// lexicon interrupts at once; acknowledgements are held — the agent goes on — while they stay
/// acknowledgements (or a first word of one: "I" of "I see") and the segment stays shorter than
/// `backchannel_max_duration`. A held segment that ends as acknowledgement is a backchannel.
/// No words yet: with a recogniser that streams interim results (`wordsExpected`: it has sent
/// one) the segment is held until its first words, which decide; with one that sends finals only,
/// it interrupts at once, as without a lexicon (and the conversation resumes the agent when the
/// final turns out to be an acknowledgement).
struct InterruptionPolicy {
    let minFrames: Int
    let maxBackchannelFrames: Int
    let lexicon: BackchannelLexicon

    enum Verdict: Equatable {
        case none
        case interrupt
        /// The caller acknowledged: `words` are theirs (not a turn).
        case backchannel(String)
    }

    private(set) var voiced = 0
    private var segmentFrames = 0
    private var held = false

    init(turn: TurnConfiguration) {
        minFrames = max(1, Int((turn.minInterruption * 50).rounded()))
        maxBackchannelFrames = max(minFrames, Int((turn.backchannelMaxDuration * 50).rounded()))
        lexicon = BackchannelLexicon(turn.backchannels)
    }

    mutating func reset() {
        voiced = 0
        segmentFrames = 0
        held = false
    }

    /// One frame while the agent talks. `heard`: the caller's voice got through the echo guard;
    /// `speech`: the VAD is in a speech segment; `words`: what the recogniser has of this segment;
    /// `wordsExpected`: the recogniser streams interim results. Both are asked only once the segment
    /// can be decided (most frames while the agent talks need neither).
    mutating func frame(heard: Bool, speech: Bool, words readWords: () -> String, wordsExpected: () -> Bool) -> Verdict {
        guard speech else {
            defer { reset() }
            guard held else { return .none }
            // Ended while held: an acknowledgement, or words not there yet (a short sound: no turn either).
            let words = readWords().trimmingCharacters(in: .whitespaces)
            if words.isEmpty { return .none }
            return lexicon.isBackchannel(words) ? .backchannel(words) : .interrupt
        }
        segmentFrames += 1
        if heard { voiced += 1 }
        guard voiced >= minFrames else { return .none }
        let words = readWords().trimmingCharacters(in: .whitespaces)
        let mayBeAcknowledgement = words.isEmpty ? !lexicon.isEmpty && wordsExpected() : lexicon.mayBeBackchannel(words)
        if mayBeAcknowledgement, segmentFrames < maxBackchannelFrames {
            held = true
            return .none
        }
        reset()
        return .interrupt
    }
}
