/// After a barge-in, whether it was a false one — no words came (a cough, a door), or only an
/// acknowledgement — so the agent picks up where it was cut off.
struct FalseInterruption: Equatable {
    /// The frame of the barge-in.
    let tick: Int
    /// What the agent had still to say.
    let remaining: String

    enum Step: Equatable {
        case wait
        /// Words came: a real interruption, the caller has the turn.
        case wordsCame
        /// Only an acknowledgement came ("uh-huh"): resume, storing it as a backchannel.
        case acknowledged(String)
        /// Nothing came within the timeout: resume.
        case silent
    }

    /// One frame. `finals`/`interim`: the caller's words since the barge-in; `quietFrames`: since
    /// the caller's speech ended. Silent means both `timeoutFrames` since the barge-in and
    /// `finalGraceFrames` since the speech ended: a recogniser's final may be on its way (the demo's
    /// caller stopped just as the timeout ran out, and the agent resumed over their words).
    func step(tick now: Int, userSpeaking: Bool, quietFrames: Int, finals: String, interim: String, lexicon: BackchannelLexicon,
              timeoutFrames: Int, finalGraceFrames: Int) -> Step {
        if !userSpeaking, interim.isEmpty, lexicon.isBackchannel(finals) { return .acknowledged(finals) }
        if !(finals + interim).trimmingCharacters(in: .whitespaces).isEmpty { return .wordsCame }
        return !userSpeaking && now - tick >= timeoutFrames && quietFrames >= finalGraceFrames ? .silent : .wait
    }
}
