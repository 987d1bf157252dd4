/// Finals that arrive for words already acted on: a turn that ended on its interim, a backchannel
/// decided on its interim, a sound over the agent too short to interrupt, or what a person said
/// picking up. None may become a turn of its own. Holds at most one expectation, for 3 s (150 frames).
struct LateFinals {
    enum Kind: Equatable {
        /// The turn ended on this interim.
        case turn
        /// A backchannel decided on its interim.
        case backchannel
        /// Speech over the agent too short to interrupt: an acknowledgement if its words are one.
        case overTheAgent
        /// What a person said picking up, before the greeting (answering-machine detection heard
        /// it): never a turn, whatever the final says.
        case answer
    }

    private(set) var pending: (tick: Int, words: String, kind: Kind)?
    static let windowFrames = 150

    var isEmpty: Bool { pending == nil }

    mutating func expect(_ kind: Kind, words: String, at tick: Int) { pending = (tick, words, kind) }

    /// Applies the expectation to the first of `finals` once one has come: dropped when it has no
    /// more words than what was acted on (the same words, or the recogniser's revision of them:
    /// "yes" → "yeah"), trimmed to the words it adds when it has more; for `overTheAgent`, dropped
    /// only when it is an acknowledgement. Returns those acknowledged words (to store as a backchannel).
    mutating func take(from finals: inout [String], tick: Int, lexicon: BackchannelLexicon) -> String? {
        guard let late = pending else { return nil }
        if tick - late.tick > Self.windowFrames {
            pending = nil
            return nil
        }
        guard let first = finals.first else { return nil }
        pending = nil
        if late.kind == .overTheAgent {
            guard lexicon.isBackchannel(first) else { return nil }  // words over the agent: they stay
            finals.removeFirst()
            return first
        }
        let said = BackchannelLexicon.normalise(late.words).split(separator: " ")
        let heard = BackchannelLexicon.normalise(first).split(separator: " ")
        if heard.count <= said.count || late.kind == .answer || (late.kind == .backchannel && lexicon.isBackchannel(first)) {
            finals.removeFirst()
        } else {
            finals[0] = heard.dropFirst(said.count).joined(separator: " ")  // the words it adds
        }
        return nil
    }
}
