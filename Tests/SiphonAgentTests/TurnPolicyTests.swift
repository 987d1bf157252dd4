import Testing
@testable import SiphonAgent

/// The turn-taking policies on synthetic frame sequences: no audio, no tasks — a frame is a call.
@Suite struct TurnPolicyTests {
    // MARK: backchannel lexicon

    @Test func acknowledgementsAreBackchannelsAndRequestsAreNot() {
        let en = BackchannelLexicon.english
        for text in ["uh-huh", "Uh huh.", "Mm-hmm", "mhm", "yeah", "Yeah, okay.", "OK", "right right", "I see", "got it", "yeah yeah sure"] {
            #expect(en.isBackchannel(text), "\(text)")
        }
        for text in ["", "wait", "yeah but", "no", "stop", "okay so what about Tuesday", "hold on", "yeah I need Thursday instead",
                     "uh huh uh huh uh huh right okay yes"] {
            #expect(!en.isBackchannel(text), "\(text)")
        }
        #expect(en.mayBeBackchannel("I") && en.mayBeBackchannel("yeah got") && !en.isBackchannel("I"))
        #expect(!en.mayBeBackchannel("I need") && !en.mayBeBackchannel("wait"))
        #expect(BackchannelLexicon(BackchannelLexicon.builtIn["es"]!).isBackchannel("Sí, claro"))
        #expect(!BackchannelLexicon([]).isBackchannel("uh-huh"))
    }

    // MARK: interruption

    func policy(_ configure: (inout TurnConfiguration) -> Void = { _ in }) -> InterruptionPolicy {
        var t = TurnConfiguration()
        configure(&t)
        return InterruptionPolicy(turn: t)
    }

    /// Feeds `frames` voiced frames with the words the recogniser has at each; returns the frame
    /// (1-based) and verdict of the first decision.
    func run(_ p: inout InterruptionPolicy, frames: Int, words: (Int) -> String, streaming: Bool = true, then quiet: Int = 10) -> (Int, InterruptionPolicy.Verdict)? {
        for i in 1...frames {
            let v = p.frame(heard: true, speech: true, words: { words(i) }, wordsExpected: { streaming })
            if v != .none { return (i, v) }
        }
        for i in 1...quiet {
            let v = p.frame(heard: false, speech: false, words: { words(frames) }, wordsExpected: { streaming })
            if v != .none { return (frames + i, v) }
        }
        return nil
    }

    @Test func anAcknowledgementIsABackchannelWhenItEnds() throws {
        var p = policy()
        let (at, verdict) = try #require(run(&p, frames: 28, words: { $0 >= 12 ? "uh-huh" : "" }))
        #expect(verdict == .backchannel("uh-huh"))
        #expect(at == 29)  // the frame its speech ended
    }

    @Test func wordsOutsideTheLexiconInterruptAtMinInterruption() throws {
        var p = policy()
        let (at, verdict) = try #require(run(&p, frames: 60, words: { $0 >= 10 ? "wait" : "" }))
        #expect(verdict == .interrupt && at == 15)
    }

    @Test func noWordsFromARecogniserWithoutInterimsInterruptsAtMinInterruptionAsBefore() throws {
        var p = policy()
        let (at, verdict) = try #require(run(&p, frames: 60, words: { _ in "" }, streaming: false))
        #expect(verdict == .interrupt && at == 15)
    }

    @Test func noWordsYetFromAStreamingRecogniserWaitsForTheFirstOnes() throws {
        var p = policy()
        let (at, verdict) = try #require(run(&p, frames: 60, words: { $0 < 20 ? "" : "wait" }))
        #expect(verdict == .interrupt && at == 20)
        var q = policy()
        let (at2, verdict2) = try #require(run(&q, frames: 30, words: { $0 < 20 ? "" : $0 < 25 ? "I" : "I see" }))
        #expect(verdict2 == .backchannel("I see") && at2 == 31)
        var r = policy()
        let (at3, verdict3) = try #require(run(&r, frames: 80, words: { _ in "" }))  // words never come: the maximum
        #expect(verdict3 == .interrupt && at3 == 50)
    }

    @Test func aBackchannelThatTurnsIntoWordsInterruptsOnTheFirstOtherWord() throws {
        var p = policy()
        let (at, verdict) = try #require(run(&p, frames: 60, words: { $0 < 10 ? "" : $0 < 30 ? "yeah" : "yeah but Thursday" }))
        #expect(verdict == .interrupt && at == 30)
    }

    @Test func aLongAcknowledgementInterruptsAtTheMaximum() throws {
        var p = policy { $0.backchannelMaxDuration = 0.8 }
        let (at, verdict) = try #require(run(&p, frames: 80, words: { $0 >= 5 ? "yeah yeah yeah" : "" }))
        #expect(verdict == .interrupt && at == 40)
    }

    @Test func withoutALexiconEveryVoiceInterrupts() throws {
        var p = policy { $0.backchannels = [] }
        let (at, verdict) = try #require(run(&p, frames: 60, words: { _ in "uh-huh" }))
        #expect(verdict == .interrupt && at == 15)
    }

    @Test func echoHeldBackByTheGuardDoesNotCount() {
        var p = policy()
        for _ in 0..<100 { #expect(p.frame(heard: false, speech: true, words: { "" }, wordsExpected: { true }) == .none) }
    }

    // MARK: endpointing

    func endpointing(_ mode: TurnConfiguration.Endpointing) -> EndpointingPolicy {
        var t = TurnConfiguration()
        t.endpointing = mode
        return EndpointingPolicy(turn: t)
    }

    /// The first quiet frame (counted from the last voiced one, the VAD's hang-over 5) at which the turn ends.
    func endsAt(_ p: EndpointingPolicy, finals: String, interim: String = "") -> (Int, EndpointingPolicy.Decision)? {
        for sinceEnd in 0...95 {
            if let d = p.decide(sinceSpeechEnd: sinceEnd, vadHangover: 5, finals: finals, interim: interim) { return (sinceEnd + 5, d) }
        }
        return nil
    }

    @Test func whatTheWordsSay() {
        #expect(EndpointingPolicy.shape("I'd like to book it for") == .incomplete)
        #expect(EndpointingPolicy.shape("um") == .incomplete)
        #expect(EndpointingPolicy.shape("my number is five five five") == .incomplete)
        #expect(EndpointingPolicy.shape("it's 555 1234") == .incomplete)
        #expect(EndpointingPolicy.shape("it's 555 123 4567") == .complete)
        #expect(EndpointingPolicy.shape("I'm 42") == .complete)
        #expect(EndpointingPolicy.shape("Tuesday works, and") == .incomplete)
        #expect(EndpointingPolicy.shape("Well, let me think,") == .incomplete)
        #expect(EndpointingPolicy.shape("Yes.") == .shortAnswer)
        #expect(EndpointingPolicy.shape("no thanks") == .shortAnswer)
        #expect(EndpointingPolicy.shape("I need a cleaning next week") == .complete)
    }

    @Test func semanticWaitsOutAThoughtThatStoppedMidway() throws {
        let (quiet, d) = try #require(endsAt(endpointing(.semantic), finals: "I'd like to book it for"))
        #expect(quiet == 40 && d.text == "I'd like to book it for")  // max_endpointing_delay
        let (quiet2, _) = try #require(endsAt(endpointing(.silence), finals: "I'd like to book it for"))
        #expect(quiet2 == 15)  // the VAD's hang-over plus min_endpointing_delay
    }

    @Test func semanticEndsAShortAnswerOnItsInterimAtTheMinimum() throws {
        let (quiet, d) = try #require(endsAt(endpointing(.semantic), finals: "", interim: "yes"))
        #expect(quiet == 10 && d == EndpointingPolicy.Decision(text: "yes", fromInterim: true))
        let (quiet2, d2) = try #require(endsAt(endpointing(.silence), finals: "", interim: "yes"))
        #expect(quiet2 == 45 && !d2.fromInterim)  // no final: the maximum
    }

    @Test func aCompleteFinalEndsAtTheMinimumFromTheLastVoicedFrame() throws {
        let (quiet, d) = try #require(endsAt(endpointing(.semantic), finals: "I need a cleaning next week"))
        #expect(quiet == 10 && !d.fromInterim)
        #expect(endsAt(endpointing(.semantic), finals: "", interim: "") == nil)
    }
}

/// The rest of the loop's small policies: late finals and false interruptions.
@Suite struct LateFinalAndFalseInterruptionTests {
    @Test func theFinalOfATurnEndedOnItsInterimIsDroppedOrTrimmed() {
        var late = LateFinals()
        late.expect(.turn, words: "yes", at: 100)
        var finals: [String] = []
        #expect(late.take(from: &finals, tick: 101, lexicon: .english) == nil && !late.isEmpty)  // not there yet
        finals = ["Yes."]
        _ = late.take(from: &finals, tick: 120, lexicon: .english)
        #expect(finals.isEmpty && late.isEmpty)
        late.expect(.turn, words: "yes", at: 200)
        finals = ["yes I would like that"]
        _ = late.take(from: &finals, tick: 210, lexicon: .english)
        #expect(finals == ["i would like that"])  // what it adds
        late.expect(.turn, words: "yes", at: 300)
        finals = ["Yeah."]
        _ = late.take(from: &finals, tick: 310, lexicon: .english)
        #expect(finals.isEmpty)  // the recogniser revised the word: still that utterance's final
        late.expect(.turn, words: "yes", at: 400)
        finals = ["yes"]
        _ = late.take(from: &finals, tick: 400 + LateFinals.windowFrames + 1, lexicon: .english)
        #expect(finals == ["yes"] && late.isEmpty)  // too late to be that one
    }

    @Test func anAcknowledgementOverTheAgentIsTakenOtherWordsStay() {
        var late = LateFinals()
        late.expect(.overTheAgent, words: "", at: 0)
        var finals = ["mm-hmm"]
        #expect(late.take(from: &finals, tick: 10, lexicon: .english) == "mm-hmm" && finals.isEmpty)
        late.expect(.overTheAgent, words: "", at: 0)
        finals = ["no"]
        #expect(late.take(from: &finals, tick: 10, lexicon: .english) == nil && finals == ["no"])
        late.expect(.backchannel, words: "uh", at: 0)
        finals = ["uh-huh"]
        _ = late.take(from: &finals, tick: 10, lexicon: .english)
        #expect(finals.isEmpty)
    }

    @Test func aFalseInterruptionResumesOnSilenceOrAnAcknowledgement() {
        let fi = FalseInterruption(tick: 100, remaining: "and then the rest")
        func step(_ now: Int, speaking: Bool = false, quiet: Int = 100, finals: String = "", interim: String = "") -> FalseInterruption.Step {
            fi.step(tick: now, userSpeaking: speaking, quietFrames: quiet, finals: finals, interim: interim, lexicon: .english,
                    timeoutFrames: 75, finalGraceFrames: 40)
        }
        #expect(step(150) == .wait)
        #expect(step(175) == .silent)
        #expect(step(175, quiet: 10) == .wait)  // the caller only just stopped: their final may be on its way
        #expect(step(205, quiet: 40) == .silent)
        #expect(step(190, speaking: true) == .wait)
        #expect(step(120, finals: "uh-huh") == .acknowledged("uh-huh"))
        #expect(step(120, finals: "uh-huh", interim: "but") == .wordsCame)
        #expect(step(120, interim: "wait") == .wordsCame)
        #expect(step(120, speaking: true, finals: "yeah") == .wordsCame)
    }
}
