import Foundation
import Testing
@testable import SiphonAgent
import SiphonAudio
import SiphonCore
import Synchronization

/// Turn-taking with scripted STT/LLM/TTS at the plugin boundary. The conversation is clocked by
/// the frames the test feeds (one per 20 ms slot, the fake line sending one frame per slot), so
/// every assertion is a frame count, never a wall-clock time.
@Suite(.timeLimit(.minutes(1)))
struct ConversationTests {
    final class Run: @unchecked Sendable {
        let line = FakeLine()
        let store: MemoryStore
        let conversation: Conversation
        let continuation: AsyncStream<AudioFrame>.Continuation
        let dtmf: AsyncStream<Character>.Continuation
        let task: Task<Conversation.Outcome, Never>
        var fed = 0
        /// The conversation returned (a hang-up): frames fed after it are not processed.
        let ended = Ended()
        final class Ended: Sendable {
            private let flag = Mutex(false)
            func set() { flag.withLock { $0 = true } }
            var value: Bool { flag.withLock { $0 } }
        }

        init(agent: Agent, store: MemoryStore = MemoryStore(), resume: Bool = false, answerDetection: AMDSettings? = nil) {
            self.store = store
            conversation = Conversation(agent: agent, audio: line, store: store, answerDetection: answerDetection)
            let (frames, c) = AsyncStream<AudioFrame>.makeStream()
            let (digits, d) = AsyncStream<Character>.makeStream()
            continuation = c
            dtmf = d
            let conv = conversation
            let ended = self.ended
            task = Task {
                let outcome = await conv.run(frames: frames, dtmf: digits, resume: resume)
                ended.set()
                return outcome
            }
        }

        /// Feeds frames in lock-step: each one is processed before the line sends its slot.
        func feed(_ frames: [AudioFrame]) async {
            for f in frames {
                fed += 1
                continuation.yield(f)
                while conversation.processedFrames < fed, !task.isCancelled, !ended.value {
                    try? await Task.sleep(for: .microseconds(200))
                }
                try? await Task.sleep(for: .milliseconds(1))  // let a response task queue its audio
                line.tick()
            }
        }

        /// Feeds silence until `condition` holds (at most `limit` frames); returns frames fed.
        @discardableResult
        func feedSilence(until condition: () -> Bool, limit: Int = 500) async -> Int {
            var n = 0
            while !condition(), n < limit {
                await feed(Caller.silence(1))
                n += 1
            }
            return n
        }

        func finish() async -> Conversation.Outcome {
            continuation.finish()
            return await task.value
        }
    }

    func agent(stt: [String], llm: [[LLMEvent]], greeting: String? = "Hello, dental office.", turn: TurnConfiguration = TurnConfiguration()) -> (Agent, ScriptedLLM) {
        let model = ScriptedLLM(llm)
        return (Agent(name: "Test", llm: model, tts: ToneTTS(), stt: ScriptedSTT(stt), instructions: "Be brief.", greeting: greeting, turn: turn), model)
    }

    @Test func greetsThenAnswersAfterEndpointing() async throws {
        let (a, llm) = agent(stt: ["I need a cleaning"], llm: [[.text("Sure. "), .text("What day works for you?")]])
        let run = Run(agent: a)
        let greetFrames = await run.feedSilence(until: { run.store.all.count == 1 })
        #expect(greetFrames >= 30)  // 3 words × 10 frames played before the turn is stored
        #expect(run.store.all[0].role == .agent && run.store.all[0].text == "Hello, dental office.")
        await run.feed(Caller.speech(40))
        await run.feedSilence(until: { run.store.all.count == 3 })
        let turns = run.store.all
        #expect(turns.map(\.role) == [.agent, .user, .agent])
        #expect(turns[1].text == "I need a cleaning")
        #expect(turns[2].text == "Sure. What day works for you?")
        #expect(turns.map(\.seq) == [1, 2, 3])
        // The model saw the whole conversation so far.
        let request = try #require(llm.requests.withLock { $0.first })
        #expect(request.messages.map(\.role) == [.system, .agent2, .user].map { $0 == .agent2 ? .assistant : $0 })
        #expect(request.tools.map(\.name).contains("end_call"))
        // Wire latency marks are stored with the turn.
        for key in ["latency.speech_end_ms", "latency.first_rtp_ms", "latency.voice_to_voice_ms", "latency.framework_ms"] {
            #expect(turns[2].extra[key] != nil, "missing \(key)")
        }
        _ = await run.finish()
    }

    /// "Thanks, bye" and the caller hangs up at once, before the turn could end (mid-word, or a
    /// few frames after): the words are the transcript's last turn, and nothing answers them.
    @Test(arguments: [0, 3]) func theCallersLastWordsAreStoredWhenTheyHangUpAtOnce(silenceAfter: Int) async throws {
        let (a, llm) = agent(stt: ["thanks bye"], llm: [[.text("Goodbye.")]])
        let run = Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        await run.feed(Caller.speech(40) + Caller.silence(silenceAfter))
        #expect(await run.finish() == Conversation.Outcome(status: .ended, reason: "the line closed"))
        let turns = run.store.all
        #expect(turns.map(\.text) == ["Hello, dental office.", "thanks bye"], "\(turns.map(\.text))")
        #expect(turns.last?.role == .user && turns.last?.extra["said_as_the_line_closed"] == "true")
        #expect(llm.requests.withLock { $0.isEmpty }, "answered a caller who had hung up")
    }

    /// The caller hangs up while the agent talks: its turn is stored as far as it was heard.
    @Test func whatTheAgentWasSayingWhenTheCallerHungUpIsStoredAsHeard() async throws {
        let long = "one two three four five six seven eight nine ten eleven twelve"
        let (a, _) = agent(stt: [], llm: [], greeting: long)
        let run = Run(agent: a)
        await run.feedSilence(until: { run.line.sentFrames >= 40 })
        _ = await run.finish()
        let turn = try #require(run.store.all.first)
        #expect(run.store.all.count == 1 && turn.role == .agent && turn.interrupted && turn.extra["hung_up_during_turn"] == "true", "\(run.store.all)")
        #expect(long.hasPrefix(turn.text) && (3...5).contains(turn.text.split(separator: " ").count), "heard: \(turn.text)")
    }

    /// Stopped by its worker (a takeover, a drain, a partition): nothing more is stored, the call
    /// goes on elsewhere from the turns that were.
    @Test func aConversationItsWorkerStopsStoresNothingMore() async throws {
        let long = "one two three four five six seven eight nine ten eleven twelve"
        let (a, _) = agent(stt: ["thanks bye"], llm: [], greeting: long)
        let run = Run(agent: a)
        await run.feedSilence(until: { run.line.sentFrames >= 40 })
        await run.feed(Caller.speech(5))  // too short to interrupt: the caller is still talking
        run.task.cancel()
        _ = await run.finish()
        #expect(run.store.all.isEmpty, "\(run.store.all)")
    }

    /// Canceled through the API (a browser call's page hanging up): the stop ends the call, so
    /// what the agent was saying and the caller's last words are stored all the same.
    /// On a browser's line too (whose frames may otherwise come back).
    @Test(arguments: [false, true]) func aConversationCanceledThroughTheAPIStoresItsLastWords(browser: Bool) async throws {
        let long = "one two three four five six seven eight nine ten eleven twelve"
        let (a, _) = agent(stt: ["thanks bye"], llm: [], greeting: long)
        let run = Run(agent: a)
        run.store.stopEnds.withLock { $0 = true }
        run.line.mayResume.withLock { $0 = browser }
        await run.feedSilence(until: { run.line.sentFrames >= 40 })
        await run.feed(Caller.speech(5))
        run.task.cancel()
        _ = await run.finish()
        let turns = run.store.all
        #expect(turns.map(\.role) == [.agent, .user] && turns.first?.interrupted == true && turns.last?.text == "thanks bye", "\(turns)")
    }

    /// A browser's connection drops mid-greeting while the caller speaks: the caller's last words
    /// are stored, marked as a drop; the greeting the drop cut short is not (a page that offers
    /// again gets it, or the answer, whole from the resumed conversation).
    @Test func aLineThatDropsKeepsTheCallersLastWordsOnly() async throws {
        let long = "one two three four five six seven eight nine ten eleven twelve"
        let (a, _) = agent(stt: ["thanks bye"], llm: [], greeting: long)
        let run = Run(agent: a)
        run.line.mayResume.withLock { $0 = true }
        await run.feedSilence(until: { run.line.sentFrames >= 40 })
        await run.feed(Caller.speech(5))
        _ = await run.finish()
        let turns = run.store.all
        #expect(turns.map(\.role) == [.user], "\(turns)")
        #expect(turns.last?.text == "thanks bye" && turns.last?.extra["said_as_the_line_dropped"] == "true" && turns.last?.extra["said_as_the_line_closed"] == nil)
    }

    @Test func bargeInFlushesWithinOneFrameAndStoresWhatWasHeard() async throws {
        let long = "one two three four five six seven eight nine ten eleven twelve"
        let (a, _) = agent(stt: ["wait stop"], llm: [[.text(long)]], greeting: long)
        let run = Run(agent: a)
        await run.feedSilence(until: { run.line.sentFrames >= 40 })
        #expect(run.line.queuedFrames > 0)
        let minInterruption = Int(a.turn.minInterruption * 50)
        var decidedAt: Int?
        for i in 1...40 {
            await run.feed(Caller.speech(1))
            if !run.line.flushes.isEmpty { decidedAt = i; break }
        }
        // The decision came after min_interruption of caller speech (the VAD needs a frame or two to
        // confirm speech) and the queue was emptied at once: the very next slot sends silence.
        let at = try #require(decidedAt)
        #expect(at >= minInterruption && at <= minInterruption + 3, "decided after \(at) frames")
        #expect(run.line.queuedFrames == 0)
        #expect(run.line.tick() == false)
        await run.feed(Caller.speech(10))
        await run.feedSilence(until: { run.store.all.contains { $0.role == .user } })
        let agentTurn = try #require(run.store.all.first { $0.interrupted })
        #expect(agentTurn.role == .agent)
        let heardWords = agentTurn.text.split(separator: " ").count
        #expect(heardWords >= 3 && heardWords < 12, "heard: \(agentTurn.text)")
        #expect(long.hasPrefix(agentTurn.text))
        _ = await run.finish()
    }

    @Test func aFalseInterruptionResumesTheAgent() async throws {
        let long = "one two three four five six seven eight nine ten eleven twelve"
        var turn = TurnConfiguration()
        turn.falseInterruptionTimeout = 0.5
        let (a, _) = agent(stt: [""], llm: [], greeting: long, turn: turn)  // the cough yields no words
        let run = Run(agent: a)
        await run.feedSilence(until: { run.line.sentFrames >= 30 })
        var decidedAt = 0
        for _ in 0..<20 {
            await run.feed(Caller.speech(1))
            if decidedAt == 0, !run.line.flushes.isEmpty { decidedAt = run.fed }
        }
        #expect(decidedAt > 0)
        await run.feedSilence(until: { run.line.queuedFrames > 0 }, limit: 200)
        // Resumed once false_interruption_timeout (25 frames) passed since the interruption and
        // max_endpointing_delay (40) since the cough ended (VAD released: 20 frames fed, then the
        // hang-over): a recogniser's final for it would have come by then.
        let resumedAfter = run.fed - decidedAt
        #expect(resumedAfter >= 40 && resumedAfter <= 60, "resumed \(resumedAfter) frames after the interruption")
        await run.feedSilence(until: { run.store.all.count == 2 })
        let turns = run.store.all
        #expect(turns[0].interrupted && turns[1].extra["resumed_after_false_interruption"] == "true")
        #expect((turns[0].text + " " + turns[1].text).split(separator: " ").count == 12)
        _ = await run.finish()
    }

    @Test func endCallHangsUpAfterTheGoodbyeIsPlayed() async throws {
        let (a, _) = agent(stt: ["that's all thanks"], llm: [[.text("Goodbye!"), .toolCall(ToolCall(id: "c1", name: "end_call", arguments: #"{"reason":"done"}"#))]])
        let run = Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        await run.feed(Caller.speech(30))
        let n = await run.feedSilence(until: { run.line.hungUp != nil })
        #expect(n < 200)
        #expect(run.line.hungUp == "done")
        let outcome = await run.task.value
        #expect(outcome == Conversation.Outcome(status: .ended, reason: "done"))
        let roles = run.store.all.map(\.role)
        #expect(roles == [.agent, .user, .agent, .tool])
        #expect(run.store.all[2].extra["tool_calls"]?.contains("end_call") == true)
    }

    @Test func toolResultsGoBackToTheModel() async throws {
        let lookup = AgentTool(name: "lookup_slot", description: "Find a free slot") { args in #"{"slot":"Tuesday 10:00"}"# }
        let model = ScriptedLLM([
            [.toolCall(ToolCall(id: "t1", name: "lookup_slot", arguments: "{}"))],
            [.text("Tuesday at ten is free.")],
        ])
        let a = Agent(name: "T", llm: model, tts: ToneTTS(), stt: ScriptedSTT(["any slot"]), instructions: "x", greeting: "Hi.", tools: [lookup])
        let run = Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        await run.feed(Caller.speech(30))
        await run.feedSilence(until: { run.store.all.count == 5 })
        #expect(run.store.all.map(\.role) == [.agent, .user, .agent, .tool, .agent])
        #expect(run.store.all[3].text.contains("Tuesday 10:00"))
        let second = try #require(model.requests.withLock { $0.last })
        #expect(second.messages.last?.role == .tool && second.messages.last?.toolCallID == "t1")
        _ = await run.finish()
    }

    @Test func resumeReinjectsHistoryIntoTheModel() async throws {
        let history = [
            Turn(seq: 1, role: .agent, text: "Hello, dental office."),
            Turn(seq: 2, role: .user, text: "I'd like Tuesday"),
            Turn(seq: 3, role: .agent, text: "Tuesday, morning or afternoon?"),
        ]
        let (a, llm) = agent(stt: ["morning please"], llm: [[.text("Booked for Tuesday morning.")]])
        let run = Run(agent: a, store: MemoryStore(history), resume: true)
        await run.feedSilence(until: { run.store.all.count == 4 })
        #expect(run.store.all[3].text == a.resumeLine)  // the bridging line, seq 4
        await run.feed(Caller.speech(30))
        await run.feedSilence(until: { run.store.all.count == 6 })
        let request = try #require(llm.requests.withLock { $0.first })
        let texts = request.messages.map(\.content)
        #expect(texts.contains("I'd like Tuesday") && texts.contains("Tuesday, morning or afternoon?") && texts.contains("morning please"))
        #expect(run.store.all.map(\.seq) == [1, 2, 3, 4, 5, 6])
        _ = await run.finish()
    }

    /// A worker lost before anything was stored (a greeting is stored once played) leaves a
    /// callee who has heard nothing whole: the resumed call greets, not "where were we?".
    @Test func aCallLostBeforeAnythingWasSaidOpensWithItsGreeting() async throws {
        let (a, _) = agent(stt: [], llm: [])
        let run = Run(agent: a, store: MemoryStore(), resume: true)
        await run.feedSilence(until: { run.store.all.count == 1 })
        #expect(run.store.all.map(\.text) == ["Hello, dental office."])
        _ = await run.finish()
    }

    @Test func keypadDigitsBecomeAUserTurn() async throws {
        let (a, _) = agent(stt: [], llm: [[.text("Got it.")]])
        let run = Run(agent: a)
        await run.feedSilence(until: { run.store.all.count == 1 })
        run.dtmf.yield("4")
        run.dtmf.yield("2")
        await run.feedSilence(until: { run.store.all.count == 3 })
        #expect(run.store.all[1].text == "(keypad: 4 2)" && run.store.all[1].extra["dtmf"] == "42")
        _ = await run.finish()
    }

    /// A recogniser whose handshake takes a while (a busy provider) must not cost the caller their
    /// first words, nor the line its frames: the conversation takes every frame from the start and
    /// hands the recogniser, once open, what was said meanwhile — in order, with the utterance's
    /// end — so the caller's first sentence is still a turn. One that cannot open ends the call.
    @Test func theCallerIsHeardFromTheFirstFrameWhileTheRecogniserConnects() async throws {
        let stt = GatedSTT(["is this the dentist"])
        let a = Agent(name: "Test", llm: ScriptedLLM([[.text("Yes it is.")]]), tts: ToneTTS(), stt: stt, instructions: "Be brief.", greeting: nil)
        let run = Run(agent: a)
        await run.feed(Caller.silence(15) + Caller.speech(40) + Caller.silence(10))  // the VAD learns the line's noise first
        #expect(run.conversation.processedFrames == 65)  // every frame taken while the recogniser was away
        #expect(stt.received.withLock { $0 } == 0)
        stt.release()
        await run.feedSilence(until: { run.store.all.contains { $0.role == .user } })
        #expect(run.store.all.first { $0.role == .user }?.text == "is this the dentist", "\(run.store.all.map { "\($0.role): \($0.text)" }) received \(stt.received.withLock { $0 })")
        #expect(stt.received.withLock { $0 } >= 65)  // the 65 frames it missed, then the rest
        _ = await run.finish()

        let refusing = GatedSTT([], fails: true)
        let b = Agent(name: "Test", llm: ScriptedLLM([]), tts: ToneTTS(), stt: refusing, instructions: "Be brief.", greeting: nil)
        let failing = Run(agent: b)
        await failing.feed(Caller.silence(5))
        refusing.release()
        let ended = Mutex(false)
        let outcome = Task { let o = await failing.task.value; ended.withLock { $0 = true }; return o }
        while !ended.withLock({ $0 }) {  // frames until the conversation sees the refusal and ends
            failing.continuation.yield(Caller.silence(1)[0])
            try await Task.sleep(for: .milliseconds(5))
        }
        let o = await outcome.value
        #expect(o.status == .failed && o.reason.hasPrefix("speech recognition unavailable"), "\(o)")
    }

    @Test func sentenceSplitterAndTruncation() {
        var s = SentenceSplitter()
        #expect(s.push("Hello Dr. Smith. How are") == ["Hello Dr. Smith."])
        #expect(s.push(" you? Fine") == ["How are you?"])
        #expect(s.finish() == "Fine")
        var plan = ResponsePlan()
        plan.filler(frames: 10)  // a filler went out first: heard, but no words
        plan.sentence("one two three four", frames: 40)
        plan.sentence("five six", frames: 20)
        let (heard, rest) = plan.split(heardFrames: 30)
        #expect(heard == "one two" && rest == "three four five six")
        #expect(plan.text == "one two three four five six")
    }
}

extension ChatMessage.Role {
    static let agent2 = ChatMessage.Role.assistant
}
