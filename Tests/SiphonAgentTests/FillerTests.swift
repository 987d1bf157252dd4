import Foundation
import Testing
@testable import SiphonAgent
import SiphonAudio
import SiphonCore
import Synchronization

/// Fillers while the model or a tool is slow: heard before the answer, never a turn, cut at once by
/// a barge-in. Wall-clock waits (the model's and the tool's) against a short filler delay.
@Suite(.timeLimit(.minutes(1)))
struct FillerTests {
    /// A model whose first event comes `delay` after the request.
    final class SlowLLM: LanguageModel, @unchecked Sendable {
        let name = "slow-llm"
        let delay: Duration
        let replies: Mutex<[[LLMEvent]]>
        init(delay: Duration, _ replies: [[LLMEvent]]) {
            self.delay = delay
            self.replies = Mutex(replies)
        }
        func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error> {
            let events = replies.withLock { $0.isEmpty ? [.text("Okay.")] : $0.removeFirst() }
            let delay = self.delay
            return AsyncThrowingStream { c in
                let t = Task {
                    try? await Task.sleep(for: delay)
                    for e in events { c.yield(e) }
                    c.finish()
                }
                c.onTermination = { _ in t.cancel() }
            }
        }
    }

    func turn(delay: Double = 0.1) -> TurnConfiguration {
        var t = TurnConfiguration()
        t.fillerDelay = delay
        t.fillers = ["One moment."]
        return t
    }

    /// Frames the line sent while the agent had no words of its own to say yet.
    @Test func aSlowModelGetsAFillerThatIsNeverATurn() async throws {
        let llm = SlowLLM(delay: .milliseconds(600), [[.text("Tuesday at ten is free.")]])
        let a = Agent(name: "T", llm: llm, tts: ToneTTS(), stt: ScriptedSTT(["any slot on Tuesday"]), instructions: "x", greeting: "Hi.", turn: turn())
        let run = ConversationTests.Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        let before = run.line.sentFrames
        await run.feed(Caller.speech(30))
        await run.feedSilence(until: { run.store.all.count == 3 }, limit: 3000)
        let turns = run.store.all
        #expect(turns.map(\.role) == [.agent, .user, .agent])
        #expect(turns[2].text == "Tuesday at ten is free.")  // the filler is not part of the turn
        // The filler (2 words, 20 frames) and the answer (5 words, 50) both went out.
        #expect(run.line.sentFrames - before == 70, "\(run.line.sentFrames - before) frames")
        // Voice-to-voice is the answer's: it includes the model's 600 ms, not just the time to the filler.
        let v2v = try #require(Int(turns[2].extra["latency.voice_to_voice_ms"] ?? ""), "\(turns[2].extra)")
        let modelMs = try #require(Int(turns[2].extra["latency.llm_ms"] ?? ""))
        #expect(modelMs >= 550 && v2v >= modelMs, "\(turns[2].extra)")
        _ = await run.finish()
    }

    /// A filler is synthesised once for the agent: the next one plays without asking the provider.
    @Test func theSecondFillerComesFromTheCache() async throws {
        let llm = SlowLLM(delay: .milliseconds(400), [[.text("Tuesday at ten is free.")], [.text("Booked.")]])
        let tts = CountingTTS()
        let a = Agent(name: "T", llm: llm, tts: tts, stt: ScriptedSTT(["any slot on Tuesday", "book it"]), instructions: "x", greeting: "Hi.", turn: turn())
        let run = ConversationTests.Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        for turns in [3, 5] {
            let before = run.line.sentFrames
            await run.feed(Caller.speech(30))
            await run.feedSilence(until: { run.store.all.count == turns }, limit: 3000)
            // The filler (2 words, 20 frames) and the answer (5 words, then 1).
            #expect(run.line.sentFrames - before == 20 + (turns == 3 ? 50 : 10), "\(run.line.sentFrames - before) frames")
        }
        #expect(tts.count("One moment.") == 1, "\(tts.requests)")
        _ = await run.finish()
    }

    @Test func aConfiguredSoundPlaysInsteadOfWords() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chime-\(getpid()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // One second of a soft 660 Hz chime at 8 kHz: 50 frames at any pipeline rate.
        try WAVFile(sampleRate: 8000, samples: (0..<8000).map { Int16(3000 * sin(2 * .pi * 660 * Double($0) / 8000)) }).write(path)
        var t = turn()
        t.fillerSound = try TurnConfiguration.FillerSound.load(path)
        t.fillers = []
        #expect(t.validate().isEmpty)
        let llm = SlowLLM(delay: .milliseconds(600), [[.text("Tuesday at ten is free.")]])
        let a = Agent(name: "T", llm: llm, tts: ToneTTS(), stt: ScriptedSTT(["any slot on Tuesday"]), instructions: "x", greeting: "Hi.", turn: t)
        let run = ConversationTests.Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        let before = run.line.sentFrames
        await run.feed(Caller.speech(30))
        await run.feedSilence(until: { run.store.all.count == 3 }, limit: 3000)
        #expect(run.store.all.last?.text == "Tuesday at ten is free.")
        #expect(run.line.sentFrames - before == 100, "\(run.line.sentFrames - before) frames: the sound (50) and the answer (50)")
        // A sound too long, or not a WAV, is refused with what is wrong.
        try WAVFile(sampleRate: 8000, samples: [Int16](repeating: 0, count: 8000 * 6)).write(path)
        #expect(throws: SiphonError.self) { try TurnConfiguration.FillerSound.load(path) }
        _ = await run.finish()
    }

    @Test func aFastModelGetsNone() async throws {
        let llm = SlowLLM(delay: .milliseconds(1), [[.text("Tuesday at ten is free.")]])
        let a = Agent(name: "T", llm: llm, tts: ToneTTS(), stt: ScriptedSTT(["any slot on Tuesday"]), instructions: "x", greeting: "Hi.", turn: turn(delay: 2))
        let run = ConversationTests.Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        let before = run.line.sentFrames
        await run.feed(Caller.speech(30))
        await run.feedSilence(until: { run.store.all.count == 3 }, limit: 3000)
        #expect(run.line.sentFrames - before == 50)
        _ = await run.finish()
    }

    @Test func aSlowToolGetsAFillerAndABargeInCutsIt() async throws {
        let lookup = AgentTool(name: "lookup_slot", description: "Find a free slot") { _ in
            try await Task.sleep(for: .milliseconds(800))
            return #"{"slot":"Tuesday 10:00"}"#
        }
        let model = ScriptedLLM([[.toolCall(ToolCall(id: "t1", name: "lookup_slot", arguments: "{}"))], [.text("Tuesday at ten is free.")]])
        var t = turn()
        t.fillers = ["Let me check that for you, it takes a moment."]  // 10 words: long enough to talk over
        let a = Agent(name: "T", llm: model, tts: ToneTTS(), stt: ScriptedSTT(["any slot", "actually never mind"]), instructions: "x",
                      greeting: "Hi.", tools: [lookup], turn: t)
        let run = ConversationTests.Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        await run.feed(Caller.speech(30))
        let sent = run.line.sentFrames
        await run.feedSilence(until: { run.line.sentFrames > sent + 5 }, limit: 3000)  // the filler is playing
        #expect(run.line.flushes.isEmpty)
        for _ in 0..<25 {
            await run.feed(Caller.speech(1))
            if !run.line.flushes.isEmpty { break }
        }
        #expect(!run.line.flushes.isEmpty && run.line.queuedFrames == 0, "the barge-in emptied the line")
        #expect(run.line.tick() == false)
        await run.feed(Caller.speech(10))
        await run.feedSilence(until: { run.store.all.filter { $0.role == .user }.count == 2 }, limit: 3000)
        let texts = run.store.all.map(\.text)
        #expect(!texts.contains { $0.contains("Let me check") }, "\(texts)")
        _ = await run.finish()
    }
}
