/// Finals that arrive for words already acted on: a turn that ended on its interim, a backchannel
/// decided on its interim, or a sound over the agent too short to interrupt. None may become a
/// turn of its own. Holds at most one expectation, for 3 s (150 frames).
struct LateFinals {
    enum Kind: Equatable {
        /// The turn ended on this interim.
        case turn
        /// A backchannel decided on its interim.
        case backchannel
        /// Speech over the agent too short to interrupt: an acknowledgement if its words are one.
        case overTheAgent
    }

    private(set) var pending: (tick: Int, words: String, kind: Kind)?
    static let windowFrames = 150

    var isEmpty: Bool { pending == nil }

    mutating func expect(_ kind: Kind, words: String, at tick: Int) { pending = (tick, words, kind) }

    /// Applies the expectation to the first of `finals` once one has come: dropped when it says
    /// what was acted on (or less), trimmed to what it adds when it says more; for `overTheAgent`,
    /// dropped only when it is an acknowledgement. Returns those acknowledged words (to store as a
    /// backchannel).
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
        let said = BackchannelLexicon.normalise(late.words), heard = BackchannelLexicon.normalise(first)
        if heard == said || said.hasPrefix(heard) || (late.kind == .backchannel && lexicon.isBackchannel(first)) {
            finals.removeFirst()
        } else if heard.hasPrefix(said + " ") {
            finals[0] = String(heard.dropFirst(said.count + 1))  // the words it adds
        }
        return nil
    }
}
