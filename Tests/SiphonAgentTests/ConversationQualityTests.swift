import Foundation
import Testing
@testable import SiphonAgent
import SiphonAudio
import SiphonCore

/// Turn-taking measured side by side on a scripted corpus of calls: callers synthesised by eSpeak NG
/// (several voices and rates), a streaming recogniser on the caller's timeline (interims 240 ms
/// behind, finals 400 ms after the speech), the frame-clocked conversation. Each call runs twice:
/// `before` (silence endpointing, no backchannel lexicon — the behaviour before issue 17) and `after`
/// (the defaults); the backchannels and interruptions once more with a recogniser that has finals
/// only. Prints the table and writes `out/conversation/table.txt` and `figures.json`.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ConversationQualityTests {
    enum Behaviour: String, CaseIterable {
        case before, after
        /// The defaults with a recogniser that sends finals only (PocketSphinx, batch transcription).
        case afterFinalsOnly = "after, finals only"
    }

    static func turn(_ b: Behaviour) -> TurnConfiguration {
        var t = TurnConfiguration()
        t.fillerDelay = 0  // the scripted model answers at once
        if b == .before {
            t.endpointing = .silence
            t.backchannels = []
        }
        return t
    }

    static let longGreeting = (1...40).map { "word\($0)" }.joined(separator: " ")  // 8 s of agent speech
    static let voices: [(String, Int)] = [("en-us", 160), ("en-us+f3", 175), ("en+m3", 145), ("en-gb+f2", 185), ("en-us+m1", 150)]

    struct Call {
        let run: ConversationTests.Run
        let stt: TimelineSTT
    }

    static func call(_ b: Behaviour, greeting: String, replies: Int = 4) -> Call {
        let stt = b == .afterFinalsOnly ? TimelineSTT(interims: false) : TimelineSTT()
        let llm = ScriptedLLM(Array(repeating: [.text("All right.")], count: replies))
        let agent = Agent(name: "Test", llm: llm, tts: ToneTTS(), stt: stt, instructions: "Be brief.", greeting: greeting, turn: turn(b))
        return Call(run: ConversationTests.Run(agent: agent), stt: stt)
    }

    /// The caller says `text` from the next frame; the recogniser's timeline follows the voiced part.
    /// Returns the tick of the last voiced frame.
    @discardableResult
    static func say(_ c: Call, _ text: String, voice: (String, Int)) async throws -> Int {
        let frames = try voiced(text, voice: voice)
        let (first, last) = (c.run.fed + 1 + 3, c.run.fed + frames.count - 3)
        c.stt.schedule(text, start: first, end: last)
        await c.run.feed(frames)
        return last
    }

    /// eSpeak's audio of `text` trimmed to its voiced part and three frames either side, so that
    /// the pauses the corpus puts between utterances are the pauses the caller makes.
    static func voiced(_ text: String, voice: (String, Int)) throws -> [AudioFrame] {
        let frames = try Caller.spoken(text, voice: voice.0, rate: voice.1)
        let loud = frames.indices.filter { i in frames[i].samples.reduce(0.0) { $0 + Double($1) * Double($1) } / 320 > 300 * 300 }
        guard let a = loud.first, let b = loud.last else { return frames }
        return Array(frames[max(0, a - 3)...min(frames.count - 1, b + 3)])
    }

    /// Feeds quiet line until the agent's next frame goes out; returns that tick.
    static func untilAgentSpeaks(_ c: Call, limit: Int = 300) async -> Int? {
        let sent = c.run.line.sentFrames
        for _ in 0..<limit {
            await c.run.feed(Caller.silence(1))
            if c.run.line.sentFrames > sent { return c.run.fed }
        }
        return nil
    }

    static func greeted(_ c: Call) async {
        await c.run.feedSilence(until: { c.run.store.all.count >= 1 })
        await c.run.feed(Caller.silence(10))
    }

    struct Figures: Codable {
        var falseBargeIns = 0, backchannels = 0
        /// Backchannels that became a user turn (the model answered "uh-huh"), and those stored on the agent's turn.
        var backchannelTurns = 0, backchannelsRecorded = 0
        /// Barged-in agent turns that resumed once the words turned out to be an acknowledgement.
        var resumedAfterBackchannel = 0
        var missedInterruptions = 0, interruptions = 0
        var interruptionDecisionFrames: [Int] = []
        var prematureCutoffs = 0, pausedTurns = 0
        var responseDelayMs: [Int] = []
        var shortAnswerDelayMs: [Int] = []
        /// Short answers whose late final became a second user turn.
        var lateFinalTurns = 0
        var stoppedWithinOneFrame = true

        static func percentile(_ xs: [Int], _ p: Double) -> Int {
            let s = xs.sorted()
            return s.isEmpty ? -1 : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
        }
    }

    static let backchannelWords = ["uh-huh", "mm-hmm", "yeah", "okay", "right", "yeah yeah", "I see"]
    static let interruptions = ["wait, actually I need Thursday instead", "sorry, can you repeat the price",
                                "no no, that's the wrong address", "hold on a second please"]
    static let paused: [[String]] = [
        ["I'd like to book a cleaning for", "next Tuesday morning"],
        ["my new address is", "twelve Elm Street"],
        ["um", "I think it was last March"],
        ["can you tell me the price and", "whether insurance covers it"],
        ["my number is five five five", "one two three", "four five six seven"],
        ["the card ends in four one", "one one"],
    ]
    static let shortAnswers = ["yes", "no", "sure", "yeah", "no thanks", "correct", "okay"]

    static func measure(_ b: Behaviour) async throws -> Figures {
        var f = Figures()
        for (i, words) in backchannelWords.enumerated() {
            let c = call(b, greeting: longGreeting)
            await c.run.feedSilence(until: { c.run.line.sentFrames >= 60 })
            try await say(c, words, voice: voices[i % voices.count])
            await c.run.feedSilence(until: { c.run.store.all.contains { $0.role == .agent } }, limit: 600)
            if !c.run.line.flushes.isEmpty {  // stopped: the rest of the turn, if it resumes, plays out
                await c.run.feedSilence(until: { c.run.store.all.contains { $0.extra["resumed_after_false_interruption"] != nil } }, limit: 600)
            }
            await c.run.feed(Caller.silence(60))
            f.backchannels += 1
            if c.run.store.all.contains(where: { $0.role == .user }) { f.backchannelTurns += 1 }
            if c.run.store.all.contains(where: { $0.role == .agent && $0.extra["backchannels"] != nil }) { f.backchannelsRecorded += 1 }
            if c.run.store.all.contains(where: { $0.extra["resumed_after_false_interruption"] != nil && $0.extra["backchannels"] != nil }) {
                f.resumedAfterBackchannel += 1
            }
            if !c.run.line.flushes.isEmpty {
                f.falseBargeIns += 1
                if ProcessInfo.processInfo.environment["QUALITY_DEBUG"] != nil { print("barge-in (\(b)) on '\(words)': \(c.run.store.all.map { "\($0.role): \($0.text) \($0.extra["backchannels"] ?? "")" })") }
            }
            _ = await c.run.finish()
        }
        for (i, words) in interruptions.enumerated() {
            let c = call(b, greeting: longGreeting)
            await c.run.feedSilence(until: { c.run.line.sentFrames >= 60 })
            let frames = try voiced(words, voice: voices[i % voices.count])
            c.stt.schedule(words, start: c.run.fed + 4, end: c.run.fed + frames.count - 3)
            var stoppedAt: Int?
            for (k, frame) in frames.enumerated() {
                await c.run.feed([frame])
                if stoppedAt == nil, !c.run.line.flushes.isEmpty {
                    stoppedAt = k + 1 - 3  // frames of the caller's voice before the agent stopped
                    // Stopped within one frame of the decision: the queue is empty, the next slot is quiet.
                    if c.run.line.queuedFrames != 0 { f.stoppedWithinOneFrame = false }
                }
            }
            f.interruptions += 1
            if let s = stoppedAt { f.interruptionDecisionFrames.append(s) } else { f.missedInterruptions += 1 }
            _ = await c.run.finish()
        }
        if b == .afterFinalsOnly { return f }  // its turn ends are the finals': measured by the two above
        for (i, parts) in paused.enumerated() {
            let c = call(b, greeting: "Hello, dental office.")
            await greeted(c)
            var last = 0
            for (k, part) in parts.enumerated() {
                if k > 0 { await c.run.feed(Caller.silence(25 + 5 * (i % 3))) }  // pauses of 500-600 ms
                last = try await say(c, part, voice: voices[i % voices.count])
            }
            let spoken = await untilAgentSpeaks(c)
            f.pausedTurns += 1
            let firstUser = c.run.store.all.first { $0.role == .user }?.text ?? ""
            if firstUser != parts.joined(separator: " ") {
                f.prematureCutoffs += 1
                if ProcessInfo.processInfo.environment["QUALITY_DEBUG"] != nil { print("cut off (\(b)): \(c.run.store.all.map { "\($0.role): \($0.text)" })") }  // swiftlint:disable:this line_length
            }
            else if let s = spoken { f.responseDelayMs.append((s - last) * 20) }
            _ = await c.run.finish()
        }
        for (i, answer) in shortAnswers.enumerated() {
            let c = call(b, greeting: "Hello, dental office.")
            await greeted(c)
            let last = try await say(c, answer, voice: voices[i % voices.count])
            if let s = await untilAgentSpeaks(c) {
                f.shortAnswerDelayMs.append((s - last) * 20)
                f.responseDelayMs.append((s - last) * 20)
            }
            // The answer's final comes after the turn ended on its interim: it is not a second turn.
            await c.run.feed(Caller.silence(60))
            if c.run.store.all.filter({ $0.role == .user }).count > 1 { f.lateFinalTurns += 1 }
            _ = await c.run.finish()
        }
        return f
    }

    @Test func backchannelsSemanticEndpointingAndShortAnswersSideBySide() async throws {
        var figures: [String: Figures] = [:]
        for b in Behaviour.allCases { figures[b.rawValue] = try await Self.measure(b) }
        let (before, after, finalsOnly) = (figures["before"]!, figures["after"]!, figures[Behaviour.afterFinalsOnly.rawValue]!)
        var table = "behaviour   false barge-ins  backchannels as turns  missed interruptions  premature cut-offs  response delay med/p95  short answers med/p95  decision frames\n"
        for (name, f) in [("before", before), ("after", after), ("finals only", finalsOnly)] {
            table += name.padding(toLength: 12, withPad: " ", startingAt: 0)
                + "\(f.falseBargeIns)/\(f.backchannels)".padding(toLength: 17, withPad: " ", startingAt: 0)
                + "\(f.backchannelTurns)/\(f.backchannels)".padding(toLength: 23, withPad: " ", startingAt: 0)
                + "\(f.missedInterruptions)/\(f.interruptions)".padding(toLength: 22, withPad: " ", startingAt: 0)
                + "\(f.prematureCutoffs)/\(f.pausedTurns)".padding(toLength: 20, withPad: " ", startingAt: 0)
                + "\(Figures.percentile(f.responseDelayMs, 0.5))/\(Figures.percentile(f.responseDelayMs, 0.95)) ms".padding(toLength: 25, withPad: " ", startingAt: 0)
                + "\(Figures.percentile(f.shortAnswerDelayMs, 0.5))/\(Figures.percentile(f.shortAnswerDelayMs, 0.95)) ms".padding(toLength: 23, withPad: " ", startingAt: 0)
                + "\(f.interruptionDecisionFrames)\n"
        }
        table += "finals only: \(finalsOnly.resumedAfterBackchannel) of \(finalsOnly.falseBargeIns) stopped turns resumed when the final was an acknowledgement\n"
        print(table)
        let out = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("out/conversation")
        try? FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? encoder.encode(figures).write(to: out.appendingPathComponent("figures.json"))
        try? table.write(to: out.appendingPathComponent("table.txt"), atomically: true, encoding: .utf8)

        // The corpus shows the problems before (so the goals below can fail)…
        #expect(before.falseBargeIns >= before.backchannels - 2, "before: \(before.falseBargeIns) false barge-ins")
        #expect(before.backchannelTurns >= before.backchannels - 2, "before: \(before.backchannelTurns) backchannels answered as turns")
        #expect(before.prematureCutoffs >= 3, "before: \(before.prematureCutoffs) premature cut-offs")
        // …and the goals after.
        #expect(after.falseBargeIns == 0)
        #expect(after.backchannelTurns == 0 && after.backchannelsRecorded == after.backchannels, "\(after)")
        #expect(after.missedInterruptions == 0 && before.missedInterruptions == 0)
        #expect(after.prematureCutoffs * 2 <= before.prematureCutoffs)
        let minimum = Int(TurnConfiguration().minEndpointingDelay * 1000)
        #expect(Figures.percentile(after.shortAnswerDelayMs, 0.5) <= minimum + 100, "\(after.shortAnswerDelayMs)")
        #expect(after.stoppedWithinOneFrame && before.stoppedWithinOneFrame)
        #expect(after.lateFinalTurns == 0 && before.lateFinalTurns == 0)
        // A recogniser with finals only has no words at min_interruption: the agent stops, then resumes
        // when the final is an acknowledgement — never a turn the model answers.
        #expect(finalsOnly.backchannelTurns == 0 && finalsOnly.resumedAfterBackchannel == finalsOnly.falseBargeIns, "\(finalsOnly)")
        #expect(finalsOnly.missedInterruptions == 0)
    }
}
